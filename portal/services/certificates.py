"""Company signing certificates in the database (第16条, R-ACC-4): issue, revoke, reissue, CRL.

The cryptography lives in `services.pki`; this module keeps the `Certificate` rows and the portal's
`PortalPKI` for the app. A revocation rewrites the published CRL only after the transaction that
revoked the certificate commits, so a rolled-back revocation never reaches the CRL.
"""
from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from typing import Literal

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from flask import current_app
from pyhanko.sign.timestamps import TimeStamper
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from portal.clock import now_utc
from portal.extensions import db
from portal.models import Certificate, Company, User
from portal.services import audit, tsa
from portal.services.errors import StateConflict, ValidationFailed
from portal.services.pki import REVOCATION_REASONS, PortalPKI
from portal.services.signing import RevocationSource, ValidationContextFactory

_CRL_AFTER_COMMIT = "ukeoi_crl_after_commit"


def pki() -> PortalPKI:
    """The app's PKI (PKI_DIR, PKI_PASSPHRASE, PKI_BASE_URL or else PUBLIC_BASE_URL), built once per app."""
    ext = current_app.extensions
    if "ukeoi_pki" not in ext:
        config = current_app.config
        passphrase = config.get("PKI_PASSPHRASE")
        if not passphrase:
            raise RuntimeError("PKI_PASSPHRASE is not set: run `flask portal init` or set it in the environment")
        base_url = config.get("PKI_BASE_URL") or config["PUBLIC_BASE_URL"]
        ext["ukeoi_pki"] = PortalPKI(config["PKI_DIR"], passphrase.encode("utf-8"), base_url)
    return ext["ukeoi_pki"]


def timestamper() -> TimeStamper:
    """The signing timestamper: the external TSAs of TSA_URLS in order, else the internal TSA. The internal
    one is built once per app (parsing its key costs more than a timestamp); HTTP clients are made fresh."""
    urls = list(current_app.config.get("TSA_URLS") or ())
    if urls:
        return tsa.make_timestamper(pki(), urls)
    ext = current_app.extensions
    if "ukeoi_internal_tsa" not in ext:
        ext["ukeoi_internal_tsa"] = tsa.make_timestamper(pki(), [])
    return ext["ukeoi_internal_tsa"]


def external_tsa_roots() -> list[asn1_x509.Certificate]:
    """The root certificates of the external TSAs (TSA_TRUST_ROOTS, a PEM file), read once per app."""
    path = current_app.config.get("TSA_TRUST_ROOTS") or ""
    if not path:
        return []
    cached = current_app.extensions.get("ukeoi_tsa_roots")
    if cached is None or cached[0] != path:
        certs = x509.load_pem_x509_certificates(Path(path).read_bytes())
        der = [cert.public_bytes(serialization.Encoding.DER) for cert in certs]
        cached = current_app.extensions["ukeoi_tsa_roots"] = (path, [asn1_x509.Certificate.load(d) for d in der])
    return cached[1]


def sealing_contexts() -> ValidationContextFactory:
    """How a seal judges the signatures and timestamps it covers: the portal's root, and the external TSAs'
    roots. Their revocation data is fetched from the TSAs' own CRL or OCSP services and goes into the DSS
    with the rest; with the internal TSA alone nothing is fetched. The portal's own revocation data comes
    from `sealing_revocation`."""
    external = external_tsa_roots()
    return functools.partial(pki().validation_context, extra_roots=external, allow_fetching=bool(external))


def sealing_revocation() -> RevocationSource:
    """Fresh revocation data for a seal (`PortalPKI.fresh_revocation_data`): both CRLs, published as the
    current ones, and OCSP responses answering from the certificate rows."""
    entries = revoked_entries()
    return functools.partial(pki().fresh_revocation_data, revoked=entries)


def ocsp_status(serial: str) -> tuple[datetime, str | None] | None | Literal[False]:
    """What the OCSP responder says of a serial (hex): (revoked at, reason), None (good), False (unknown)."""
    serial = serial.lower()
    row = db.session.scalar(select(Certificate).where(Certificate.serial == serial))
    if row is not None:
        return (row.revoked_at or now_utc(), row.revocation_reason) if row.status == "revoked" else None
    return None if serial in pki().known_serials() else False


def issue_for_company(company: Company, now: datetime | None = None) -> Certificate:
    """Issue a signing certificate to `company` (on acceptance, or on reissue). Flushes."""
    issued = pki().issue_company_certificate(company.name, company.corporate_number, now=now)
    cert = Certificate(
        company_id=company.id,
        serial=issued.serial,
        subject=issued.subject,
        not_before=issued.not_before,
        not_after=issued.not_after,
        cert_pem=issued.cert_pem,
        key_pem_encrypted=issued.key_pem_encrypted,
        status="valid",
        created_at=now or now_utc(),
    )
    db.session.add(cert)
    db.session.flush()
    audit.record(
        "certificate_issued",
        company_id=company.id,
        detail={"serial": cert.serial, "not_after": cert.not_after.isoformat()},
        now=now,
    )
    return cert


def active_for(company_id: int, now: datetime | None = None) -> Certificate | None:
    """The company's newest certificate that is not revoked and within its validity period."""
    now = now or now_utc()
    return db.session.scalar(
        select(Certificate)
        .where(
            Certificate.company_id == company_id,
            Certificate.status == "valid",
            Certificate.not_before <= now,
            Certificate.not_after > now,
        )
        .order_by(Certificate.not_after.desc(), Certificate.id.desc())
        .limit(1)
    )


def for_company(company_id: int) -> list[Certificate]:
    """Every certificate of the company, newest first (account page, staff page)."""
    return list(
        db.session.scalars(
            select(Certificate).where(Certificate.company_id == company_id).order_by(Certificate.id.desc())
        )
    )


def revoke(certificate: Certificate, reason: str, staff: User | None, now: datetime | None = None,
           actor: audit.Actor | None = None) -> Certificate:
    """Revoke a certificate (reason: a key of pki.REVOCATION_REASONS). The CRL is rewritten after commit."""
    if reason not in REVOCATION_REASONS:
        raise ValidationFailed("失効理由を選択してください。")
    if certificate.status == "revoked":
        raise StateConflict("この証明書はすでに失効しています。")
    now = now or now_utc()
    certificate.status = "revoked"
    certificate.revoked_at = now
    certificate.revocation_reason = reason
    db.session.flush()
    who = actor or audit.Actor(user_id=staff.id if staff else None)
    audit.record(
        "certificate_revoked",
        who,
        company_id=certificate.company_id,
        detail={"serial": certificate.serial, "reason": reason},
        now=now,
    )
    _publish_crl_after_commit()
    return certificate


def reissue(company: Company, staff: User | None, now: datetime | None = None,
            actor: audit.Actor | None = None) -> Certificate:
    """Revoke the company's valid certificates (superseded) and issue a new one."""
    now = now or now_utc()
    for old in db.session.scalars(
        select(Certificate).where(Certificate.company_id == company.id, Certificate.status == "valid")
    ):
        revoke(old, "superseded", staff, now=now, actor=actor)
    return issue_for_company(company, now=now)


def revoked_entries() -> list[tuple[str, datetime, str | None]]:
    """(serial, revoked at, reason) of every revoked certificate, for the CRL."""
    rows = db.session.execute(
        select(Certificate.serial, Certificate.revoked_at, Certificate.revocation_reason).where(
            Certificate.status == "revoked"
        )
    ).all()
    return [(serial, revoked_at or now_utc(), reason) for serial, revoked_at, reason in rows]


def crl(now: datetime | None = None) -> bytes:
    """Build the issuing CA's CRL from the revoked rows, publish it as the current one and return it (DER).

    Called by the cron job, after a revocation commits, and by /pki/crl when the stored one is stale.
    """
    return pki().write_crl(revoked_entries(), now)


def refresh_revocation(now: datetime | None = None) -> int:
    """The daily job: publish both CRLs afresh and renew the OCSP responder certificate when it is due.
    Returns the size of the issuing CA's CRL."""
    portal_pki = pki()
    portal_pki.init(now)  # creates nothing on a healthy PKI but a responder certificate that is due
    portal_pki.write_root_crl(now)
    return len(crl(now))


def _publish_crl_after_commit() -> None:
    # The entries are read now (inside the transaction); after_commit may not run SQL.
    db.session.info[_CRL_AFTER_COMMIT] = (current_app._get_current_object(), revoked_entries())  # type: ignore[attr-defined]


@event.listens_for(Session, "after_commit")
def _write_crl_committed(session: Session) -> None:
    pending = session.info.pop(_CRL_AFTER_COMMIT, None)
    if pending is None:
        return
    app, entries = pending
    with app.app_context():
        pki().write_crl(entries)


@event.listens_for(Session, "after_rollback")
def _forget_crl(session: Session) -> None:
    session.info.pop(_CRL_AFTER_COMMIT, None)
