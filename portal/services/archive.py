"""Keeping sealed contracts verifiable for their whole retention (R-CASE-3, R-RET-1): re-timestamping.

A PAdES B-LTA file stays verifiable while the certificate of the TSA behind its newest document
timestamp is valid. Before that certificate expires, a new document timestamp (with the validation data
of everything before it in the DSS) extends the chain: the file gets one more incremental update and is
stored as a new sealed Document of the case; the earlier files stay as they were (R-STORE-1).

`Document.timestamp_expires_at` holds that expiry for each sealed file, so the daily job selects the
due cases with one query. Files sealed before the column was filled are read once (`backfill_expiry`).

Files sealed before the seal embedded the root's CRL and OCSP responses fail pyHanko's strict LTA
validation; `add_revocation_data` (one RQ job per case, enqueued by `flask portal lta-update`) gives each
the same renewal, which brings that data: an LTA update (DSS + a new document timestamp).
"""
from __future__ import annotations

import asyncio
import hashlib
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from asn1crypto import cms
from asn1crypto import crl as asn1_crl
from flask import current_app
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from sqlalchemy import Select, func, select

from portal.clock import jst_date, now_utc
from portal.extensions import db
from portal.models import Case, Document, User
from portal.services import audit, cases, certificates, notify, outbox, signing
from portal.services.storage import get_store

DEFAULT_WINDOW_DAYS = 365
BATCH = 200


@dataclass
class RenewalRun:
    """What one run of `renew_due` did."""

    backfilled: int = 0
    due: int = 0
    renewed: list[str] = field(default_factory=list)  # case numbers
    failed: list[tuple[str, str]] = field(default_factory=list)  # (case number, error)
    blocked: str | None = None  # why nothing could be renewed (the TSA's own certificate is too short-lived)


def window_from_config() -> timedelta:
    return timedelta(days=int(current_app.config.get("RETIMESTAMP_WINDOW_DAYS", DEFAULT_WINDOW_DAYS)))


def last_timestamp_expiry(pdf: bytes) -> datetime | None:
    """When the TSA certificate of the file's newest document timestamp expires (None: no document timestamp)."""
    stamps = PdfFileReader(io.BytesIO(pdf)).embedded_timestamp_signatures
    if not stamps:
        return None
    return stamps[-1].signer_cert.not_valid_after


def _latest_sealed() -> Select:
    """(case id, id of the case's newest sealed document) for every completed case."""
    return (
        select(Document.case_id, func.max(Document.id).label("document_id"))
        .join(Case, Case.id == Document.case_id)
        .where(Document.role == "sealed", Case.status == "complete")
        .group_by(Document.case_id)
    )


def backfill_expiry(limit: int = BATCH) -> int:
    """Fill `timestamp_expires_at` of up to `limit` newest sealed files that lack it (reads each once). Flushes."""
    latest = _latest_sealed().subquery()
    docs = list(db.session.scalars(
        select(Document).join(latest, Document.id == latest.c.document_id)
        .where(Document.timestamp_expires_at.is_(None)).order_by(Document.id).limit(limit)
    ))
    store = get_store()
    for doc in docs:
        doc.timestamp_expires_at = last_timestamp_expiry(store.get(doc.sha256))
    db.session.flush()
    return len(docs)


def due_case_ids(window: timedelta, now: datetime | None = None) -> list[int]:
    """Completed cases whose newest sealed file's last timestamp certificate expires within `window`,
    soonest first."""
    now = now or now_utc()
    latest = _latest_sealed().subquery()
    return list(db.session.scalars(
        select(Document.case_id).join(latest, Document.id == latest.c.document_id)
        .where(Document.timestamp_expires_at < now + window)
        .order_by(Document.timestamp_expires_at, Document.id)
    ))


def tsa_certificate_expiry(timestamper: TimeStamper) -> datetime:
    """Ask the timestamper for one token and return its TSA certificate's expiry (what renewing would buy)."""
    digest = hashlib.sha256(b"ukeoi re-timestamp probe").digest()
    token = asyncio.run(timestamper.async_timestamp(digest, "sha256"))
    signed: cms.SignedData = token["content"]
    sid = signed["signer_infos"][0]["sid"].chosen
    for choice in signed["certificates"]:
        cert = choice.chosen
        if cert.serial_number == sid["serial_number"].native and cert.issuer == sid["issuer"]:
            return cert.not_valid_after
    raise ValueError("the timestamp token does not carry its TSA certificate")


def add_document_timestamp(case: Case, timestamper: TimeStamper, now: datetime | None = None) -> Document:
    """Add a document timestamp (with the DSS for everything before it) to the case's newest sealed file
    and store the result as a new sealed Document. Flushes; records "retimestamped" in the audit trail."""
    final = cases.final_document(case)
    if case.status != "complete" or final is None:
        raise ValueError(f"case {case.number} is not complete")
    now = now or now_utc()
    store = get_store()
    # Each party's signature is judged at its own signing time, as when the case was sealed.
    context_at = certificates.sealing_contexts()
    renewed = signing.seal_lta(store.get(final.sha256), context_at, timestamper, certificates.sealing_revocation())
    digest = store.put(renewed)  # bytes first, then the row that references them
    doc = Document(
        role="sealed",
        label=final.label,
        filename=final.filename,
        sha256=digest,
        size=len(renewed),
        page_count=final.page_count,
        revision=final.revision,
        signed_by_position=final.signed_by_position,
        created_at=now,
        timestamp_expires_at=last_timestamp_expiry(renewed),
    )
    case.documents.append(doc)
    db.session.flush()
    audit.record(
        "retimestamped",
        case_id=case.id,
        case_number=case.number,
        detail={
            "document_id": doc.id,
            "sha256": doc.sha256,
            "previous_document_id": final.id,
            "previous_expires_at": final.timestamp_expires_at.isoformat() if final.timestamp_expires_at else None,
            "timestamp_expires_at": doc.timestamp_expires_at.isoformat() if doc.timestamp_expires_at else None,
        },
        now=now,
    )
    return doc


def lacks_revocation_data(pdf: bytes, root_subject: object) -> bool:
    """Does the file's DSS miss what strict LTA validation needs: OCSP responses, or a CRL of the root
    (whose subject is `root_subject`, an asn1crypto Name)?"""
    try:
        dss = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(pdf)))
    except NoDSSFoundError:
        return True
    if not dss.ocsps:
        return True
    crls = (asn1_crl.CertificateList.load(ref.get_object().read_data(DecodePurpose.CRL)) for ref in dss.crls)
    return not any(crl.issuer == root_subject for crl in crls)


def add_revocation_data(case_id: int, now: datetime | None = None) -> str:
    """The one-off LTA update of a case sealed without the root's CRL or OCSP responses: a new document
    timestamp with them in the DSS. Idempotent: "up to date" when the newest file already has them,
    "skipped" for a case that is not complete. Flushes; the caller commits."""
    case = db.session.get(Case, case_id)
    final = cases.final_document(case) if case is not None else None
    if case is None or case.status != "complete" or final is None:
        return "skipped"
    if not lacks_revocation_data(get_store().get(final.sha256), certificates.pki().root_cert().subject):
        return "up to date"
    add_document_timestamp(case, certificates.timestamper(), now)
    return "updated"


def enqueue_revocation_updates() -> list[int]:
    """Enqueue `add_revocation_data` for every completed case whose newest sealed file lacks the data
    (reads each newest file once). Returns the case ids; the job id is per case, so a repeat is harmless."""
    root_subject = certificates.pki().root_cert().subject
    store = get_store()
    latest = _latest_sealed().subquery()
    rows = db.session.execute(
        select(Document.case_id, Document.sha256).join(latest, Document.id == latest.c.document_id)
        .order_by(Document.case_id)
    ).all()
    due = [case_id for case_id, sha256 in rows if lacks_revocation_data(store.get(sha256), root_subject)]
    for case_id in due:
        outbox.enqueue("portal.jobs.add_revocation_data", case_id, queue_name="maintenance",
                       job_id=f"lta-update-{case_id}")
    return due


def renew_due(
    window: timedelta | None = None,
    now: datetime | None = None,
    timestamper: TimeStamper | None = None,
) -> RenewalRun:
    """The daily job: re-timestamp every completed case whose last timestamp certificate expires within
    `window` (default RETIMESTAMP_WINDOW_DAYS). Commits after each case, so a failure or a killed worker
    loses nothing done; running it again renews only what is still due (idempotent).

    Renewing only helps if the TSA used now has a certificate valid beyond the window; otherwise nothing is
    changed and `blocked` says why (the operator must renew the TSA certificate or configure another TSA).
    """
    window = window or window_from_config()
    now = now or now_utc()
    run = RenewalRun()
    while True:
        filled = backfill_expiry()
        db.session.commit()
        run.backfilled += filled
        if filled < BATCH:
            break
    ids = due_case_ids(window, now)
    run.due = len(ids)
    if not ids:
        return run
    timestamper = timestamper or certificates.timestamper()
    available_until = tsa_certificate_expiry(timestamper)
    if available_until <= now + window:
        run.blocked = (f"the TSA certificate expires {available_until.isoformat()}, within the re-timestamp window; "
                       "renew the TSA certificate or configure a TSA with a longer-lived one")
        _alert(run, now)
        db.session.commit()
        return run
    for case_id in ids:
        case = db.session.get(Case, case_id)
        if case is None:
            continue
        number = case.number
        try:
            add_document_timestamp(case, timestamper, now)
            db.session.commit()
            run.renewed.append(number)
        except Exception as exc:  # one bad archive must not stop the others; the run reports it
            db.session.rollback()
            run.failed.append((number, f"{type(exc).__name__}: {exc}"))
    if run.failed:
        _alert(run, now)
        db.session.commit()
    return run


def _alert(run: RenewalRun, now: datetime) -> None:
    """Tell the staff administrators (once a day) that archives are due but could not be renewed."""
    audit.record("retimestamp_alert", detail={"due": run.due, "blocked": run.blocked,
                                              "failed": [list(f) for f in run.failed[:100]]}, now=now)
    body = notify.render("retimestamp_alert.txt", run=run)
    admins = db.session.scalars(select(User).where(User.role == "staff_admin", User.active.is_(True))).all()
    for admin in admins:
        notify.queue("retimestamp_alert", admin.email, "長期署名のタイムスタンプを更新できませんでした", body,
                     dedupe_key=f"retimestamp_alert:{jst_date(now).isoformat()}:u{admin.id}", now=now)
