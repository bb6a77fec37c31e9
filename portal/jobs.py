"""RQ entry points: importable module-level functions that take ids, reload from the database,
call one service, and commit. They raise on failure so that RQ records it and retries.

Every job runs inside `job_app()`: the worker process builds the app once; a forked work-horse
drops the connections it inherited, since a database connection must not cross a fork.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from flask import Flask, current_app, has_app_context

from portal.extensions import db
from portal.models import SentNotice
from portal.services import accounts, cases, integrity, notify, outbox

T = TypeVar("T")
_app: Flask | None = None
_pid: int | None = None


@contextmanager
def job_app() -> Iterator[Flask]:
    global _app, _pid
    if has_app_context():  # tests run jobs inside their own app
        yield current_app._get_current_object()  # type: ignore[attr-defined]
        return
    if _app is None:
        from portal import create_app

        _app = create_app(commands=False)
    with _app.app_context():
        if _pid != os.getpid():
            db.engine.dispose(close=False)
            _pid = os.getpid()
        try:
            yield _app
        finally:
            db.session.remove()


def reconcile_outbox() -> int:
    """Cron: re-enqueue intents whose job was lost (worker killed, Redis restarted)."""
    with job_app():
        count = outbox.reconcile()
        db.session.commit()
        return count


def _run_claimed(
    outbox_id: int, work: Callable[[int], T], on_failure: Callable[[int, Exception], None] | None = None
) -> T | str:
    """Claim an outbox intent, do `work(ref_id)`, mark the intent done and commit — or, on failure,
    put the intent back to pending and re-raise so RQ retries. A duplicate job claims nothing; a run
    whose claim was taken over meanwhile rolls its work back."""
    item = outbox.claim(outbox_id)
    if item is None:
        return "not claimed"
    ref_id, holder = item.ref_id, item.claimed_by or ""
    try:
        result = work(ref_id)
        outbox.finish_claimed(outbox_id, holder)
        db.session.commit()
    except outbox.ClaimLost:  # presumed dead and taken over: the other run records the work
        db.session.rollback()
        return "taken over"
    except Exception as exc:  # RQ must see the failure: put the intent back, then re-raise
        outbox.release_after_failure(outbox_id, exc, holder)
        if on_failure is not None:
            on_failure(ref_id, exc)
            db.session.commit()
        raise
    return result


def _deliver_notice(notice_id: int) -> str:
    notice = db.session.get(SentNotice, notice_id)
    if notice is not None:
        notify.deliver(notice)
    return "sent"


def send_mail(outbox_id: int) -> str:
    """Deliver one queued notice (outbox kind "mail"); a failure is recorded and re-raised for RQ's retry."""
    with job_app():
        return _run_claimed(outbox_id, _deliver_notice, on_failure=notify.record_error)


def rehash_store() -> dict:
    """Cron (nightly): re-hash every stored original; alerts are raised by the service (R-STORE-1)."""
    with job_app():
        report = integrity.rehash_store()
        db.session.commit()
        return {"checked": report.checked, "mismatched": len(report.mismatched), "missing": len(report.missing)}


def sign_party(outbox_id: int) -> str:
    """Apply one party's signature (outbox kind "sign", ref = party id). Idempotent; raises to be retried."""
    with job_app():
        return _run_claimed(outbox_id, cases.apply_signature)


def seal_case(outbox_id: int) -> str:
    """After the last signature: DSS + document timestamp, case 完了 (outbox kind "seal", ref = case id)."""
    with job_app():
        return _run_claimed(outbox_id, cases.seal)


def suspend_expired_passwords() -> list[int]:
    """Cron (daily): suspend company IDs whose password stayed expired past the grace period (R-ACC-2)."""
    with job_app():
        suspended = accounts.suspend_expired_passwords()
        db.session.commit()
        return suspended


def purge_daily() -> dict:
    """Cron (daily): delete what the retention rules say is due today (R-RET-3, R-RET-4).
    Raises when the run recorded errors, so RQ retries it; a retry resumes where it stopped."""
    from portal.services import purge

    with job_app():
        run = purge.run()
        return {"run_id": run.id, "cases": run.deleted_cases, "companies": run.deleted_companies,
                "objects": run.deleted_objects}


def send_retention_warnings() -> int:
    """Cron (daily): warn the parties 90 and 30 days before a completed case is deleted (R-RET-4)."""
    from portal.services import purge

    with job_app():
        count = purge.send_retention_warnings()
        db.session.commit()
        return count


def renew_and_end_contracts() -> dict:
    """Cron (daily, just after midnight JST): end contracts whose last day has passed, renew the
    others whose term ended (R-TERM-1, R-TERM-2)."""
    from portal.services import contracts

    with job_app():
        result = contracts.renew_and_end()
        db.session.commit()
        return result


def refresh_crl() -> int:
    """Cron (daily): publish fresh CRLs of the issuing CA (from the certificate rows) and of the root, each
    valid 7 days, and renew the OCSP responder certificate when due (R-ACC-4)."""
    from portal.services import certificates

    with job_app():
        return certificates.refresh_revocation()


def retimestamp_archives() -> dict:
    """Cron (daily): add a new document timestamp to completed archives whose last timestamp certificate
    expires within RETIMESTAMP_WINDOW_DAYS (R-CASE-3). Raises, so RQ retries and shows it, when some case
    failed or the TSA's own certificate is too short-lived to help (staff admins are mailed too)."""
    from portal.services import archive

    with job_app():
        run = archive.renew_due()
        result = {"backfilled": run.backfilled, "due": run.due, "renewed": run.renewed,
                  "failed": [list(f) for f in run.failed], "blocked": run.blocked}
        if run.failed or run.blocked:
            raise RuntimeError(f"re-timestamping incomplete: {result}")
        return result


def add_revocation_data(case_id: int) -> str:
    """One-off (`flask portal lta-update`): an LTA update (DSS + document timestamp) for a case sealed
    before the seal embedded the root's CRL and OCSP responses. Idempotent."""
    from portal.services import archive

    with job_app():
        result = archive.add_revocation_data(case_id)
        db.session.commit()
        return result


def warm_up() -> None:
    """Build the job app and decrypt the portal's CA and TSA keys once, in the worker's parent process: every
    forked work-horse then starts with them instead of paying ~0.5 s for it on each signing or seal job."""
    import logging

    from portal.services import certificates

    with job_app():
        try:
            certificates.pki().health()
            certificates.timestamper()
        except Exception:  # a worker without a PKI still runs mail and maintenance jobs
            logging.getLogger(__name__).warning("PKI keys not preloaded", exc_info=True)
