"""The signing jobs under faults (R-CASE-3, 建設業法施行規則13条の4 原本性): idempotent, exactly once in effect,
retried while the TSA is down, refused with a revoked certificate. Real Redis, real RQ worker, real PKI."""
from __future__ import annotations

import os
import signal
import time
from datetime import timedelta
from uuid import uuid4

import pytest
from redis import Redis
from rq import Queue, SimpleWorker, Worker
from rq.executions import Execution
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.serializers import JSONSerializer
from rq.utils import utcformat
from sqlalchemy import create_engine, func, select, update

from config import normalize_database_url
from portal import jobs
from portal.clock import now_utc
from portal.extensions import db
from portal.models import AuditEvent, Case, Certificate, Company, Document, OutboxItem, Party
from portal.services import cases, certificates, outbox
from portal.services.storage import get_store
from portal.services.verification import verify_pdf
from tests.jobs.processes import WorkerProcess, alive
from tests.web.cases_support import certified_company, draft_via_service, fresh, work


@pytest.fixture
def pair(ctx, portal_pki) -> tuple[int, int]:
    """Ids of two companies with certificates (ids: the tests drop their session between steps)."""
    kou = certified_company("甲建設株式会社", "kou")
    otsu = certified_company("乙工務店株式会社", "otsu")
    return kou.id, otsu.id


def _user(company_id: int):
    return db.session.get(Company, company_id).users[0]


def _sent_case(pair) -> int:
    kou, otsu = pair
    case = draft_via_service(_user(kou), [db.session.get(Company, kou), db.session.get(Company, otsu)])
    cases.send(_user(kou), case.id, case.version)
    db.session.commit()
    return case.id


def _agree(company_id: int, case_id: int) -> OutboxItem:
    case = db.session.get(Case, case_id)
    party = cases.agree_and_sign(_user(company_id), case_id, case.version, cases.CONSENT_VERSION)
    db.session.commit()
    return db.session.scalar(select(OutboxItem).where(OutboxItem.kind == "sign", OutboxItem.ref_id == party.id)
                             .order_by(OutboxItem.id.desc()))


def _counts() -> tuple[int, int, int]:
    fresh()
    return (
        db.session.scalar(select(func.count()).select_from(Document)),
        db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "signed")),
        sum(1 for path in get_store().root.rglob("*") if path.is_file()),  # objects and any temporary file
    )


def test_r_case_3_sign_job_run_twice_changes_nothing_the_second_time(app, pair):
    """If the same signing job runs again (RQ redelivery, a replayed id), is the second run a no-op?"""
    case_id = _sent_case(pair)
    item = _agree(pair[0], case_id)
    item_id = item.id
    assert jobs.sign_party(item_id) == "signed"
    before = _counts()
    assert jobs.sign_party(item_id) == "not claimed"
    # even a row put back to pending (a duplicate intent) finds the party already signed
    db.session.get(OutboxItem, item_id).status = "pending"
    db.session.commit()
    assert jobs.sign_party(item_id) == "skipped"
    assert _counts() == before
    party = db.session.scalar(select(Party).where(Party.case_id == case_id, Party.position == 1))
    assert party.status == "signed"


def test_r_case_3_seal_job_run_twice_changes_nothing_the_second_time(app, pair):
    """Does a second run of the seal job leave the completed case and its files as they were?"""
    kou, otsu = pair
    case_id = _sent_case(pair)
    _agree(kou, case_id)
    work(app)
    _agree(otsu, case_id)
    work(app)
    fresh()
    seal_item = db.session.scalar(select(OutboxItem).where(OutboxItem.kind == "seal"))
    assert seal_item.status == "done"
    seal_id = seal_item.id
    before = (_counts(), db.session.get(Case, case_id).version)
    db.session.get(OutboxItem, seal_id).status = "pending"
    db.session.commit()
    assert jobs.seal_case(seal_id) == "skipped"
    assert (_counts(), db.session.get(Case, case_id).version) == before


def test_r_case_3_worker_killed_mid_job_is_reconciled_and_signs_exactly_once(app, pair):
    """If a worker claims the signing intent and dies, does the reconciler re-enqueue it after the stale
    timeout, and does the case end with party 1 signed exactly once?"""
    case_id = _sent_case(pair)
    item = _agree(pair[0], case_id)
    item_id = item.id
    # The worker "dies": it claimed the row, then nothing. Its RQ job is gone too.
    Queue("signing", connection=Redis.from_url(app.config["REDIS_URL"]), serializer=JSONSerializer).empty()
    died_at = now_utc() - timedelta(seconds=app.config["OUTBOX_STALE_SECONDS"] + 5)
    claimed = outbox.claim(item_id)
    assert claimed is not None and claimed.status == "running"
    assert outbox.reconcile() == 0  # just claimed: a live worker may still be at it
    assert jobs.sign_party(item_id) == "not claimed"  # nor may a duplicate job take it over
    claimed = db.session.get(OutboxItem, item_id)
    claimed.claimed_at = died_at  # ...but that worker died a while ago
    db.session.commit()
    assert outbox.reconcile() == 1
    db.session.commit()
    work(app)

    fresh()
    assert db.session.get(OutboxItem, item_id).status == "done"
    signed = db.session.scalars(select(Document).where(Document.case_id == case_id, Document.role == "signed")).all()
    assert [d.signed_by_position for d in signed] == [1]
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "signed")).all()
    assert len(events) == 1
    # the re-run's output verifies: one certification signature by 甲建設
    pki = certificates.pki()
    crls = [certificates.crl(), pki.current_root_crl()]
    report = verify_pdf(get_store().get(signed[0].sha256), pki.trust_roots(), crls)
    assert [s.company for s in report.signatures] == ["甲建設株式会社"] and report.valid


def test_r_case_3_tsa_down_fails_the_job_keeps_signing_and_stores_nothing(app, pair, monkeypatch):
    """With every TSA unreachable, does the job fail (to be retried), the party stay 'signing', nothing get
    stored, and the page say it is retrying — and does it sign once the TSA answers again?"""
    monkeypatch.setitem(app.config, "TSA_URLS", ["http://127.0.0.1:9/"])
    case_id = _sent_case(pair)
    before_docs, _, before_store = _counts()
    item = _agree(pair[0], case_id)
    item_id = item.id
    work(app)

    fresh()
    connection = Redis.from_url(app.config["REDIS_URL"])
    retried = ScheduledJobRegistry("signing", connection=connection, serializer=JSONSerializer).get_job_ids()
    failed = FailedJobRegistry("signing", connection=connection, serializer=JSONSerializer).get_job_ids()
    assert item.job_id in retried + failed  # RQ saw the failure and holds the job for its retry
    row = db.session.get(OutboxItem, item_id)
    assert row.status == "pending" and "Timestamp" in (row.error or "")
    party = db.session.scalar(select(Party).where(Party.case_id == case_id, Party.position == 1))
    assert party.status == "signing"
    docs, signed_events, store = _counts()
    assert (docs, store) == (before_docs, before_store) and signed_events == 0
    state = cases.signing_state(db.session.get(Case, case_id), pair[0])
    assert state.polling and state.retrying

    monkeypatch.setitem(app.config, "TSA_URLS", [])  # the internal TSA answers again
    assert jobs.sign_party(item_id) == "signed"
    fresh()
    assert db.session.scalar(select(Party).where(Party.case_id == case_id, Party.position == 1)).status == "signed"


def test_r_acc_4_revoked_certificate_is_refused_at_agreement(app, pair):
    """Is a company whose certificate was revoked refused at the agree step with a clear message, nothing queued?"""
    kou, _otsu = pair
    case_id = _sent_case(pair)
    certificates.revoke(certificates.active_for(kou), "key_compromise", None)
    db.session.commit()
    with pytest.raises(cases.CertificateUnavailable) as refused:
        cases.agree_and_sign(_user(kou), case_id, db.session.get(Case, case_id).version, cases.CONSENT_VERSION)
    assert "失効" in refused.value.message
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.kind == "sign")) == 0


def test_r_acc_4_certificate_revoked_after_agreeing_is_refused_by_the_job(app, pair):
    """If the certificate is revoked between agreeing and the job, does the job refuse (not retry), put the
    party back to pending with the reason shown, and sign nothing — and after a reissue can it sign?"""
    kou, _otsu = pair
    case_id = _sent_case(pair)
    item_id = _agree(kou, case_id).id
    certificates.revoke(certificates.active_for(kou), "key_compromise", None)
    db.session.commit()
    assert jobs.sign_party(item_id) == "refused"
    fresh()
    party = db.session.scalar(select(Party).where(Party.case_id == case_id, Party.position == 1))
    assert party.status == "pending" and "失効" in party.sign_error
    assert db.session.get(OutboxItem, item_id).status == "done"
    assert not db.session.scalars(select(Document).where(Document.role == "signed")).all()

    certificates.reissue(db.session.get(Company, kou), None)
    db.session.commit()
    item = _agree(kou, case_id)
    assert jobs.sign_party(item.id) == "signed"


def test_r_acc_4_revocation_is_published_in_the_crl_after_commit(app, pair):
    """Does revoking a certificate put its serial in the published CRL once the transaction commits, and
    leave the CRL alone when the transaction rolls back?"""
    from cryptography import x509

    kou, otsu = pair
    pki = certificates.pki()
    certificates.crl()
    cert = certificates.active_for(otsu)
    certificates.revoke(cert, "superseded", None)
    db.session.rollback()
    assert x509.load_der_x509_crl(pki.current_crl()).get_revoked_certificate_by_serial_number(int(cert.serial, 16)) \
        is None
    cert = certificates.active_for(kou)
    certificates.revoke(cert, "key_compromise", None)
    db.session.commit()
    entry = x509.load_der_x509_crl(pki.current_crl()).get_revoked_certificate_by_serial_number(int(cert.serial, 16))
    assert entry is not None


def test_r_acc_4_certificate_names_the_company_and_reissue_supersedes_the_old_one(app, pair):
    """Does a company's certificate carry its name and 法人番号, and does a reissue revoke the old one
    (superseded) and make the new one the active certificate?"""
    kou, _otsu = pair
    company = db.session.get(Company, kou)
    old = certificates.active_for(kou)
    assert "甲建設株式会社" in old.subject and company.corporate_number in old.subject
    old_id = old.id
    new_id = certificates.reissue(company, None).id
    db.session.commit()
    fresh()
    old = db.session.get(Certificate, old_id)
    assert (old.status, old.revocation_reason) == ("revoked", "superseded")
    assert certificates.active_for(kou).id == new_id
    assert [c.id for c in certificates.for_company(kou)] == [new_id, old_id]


def test_r_case_5_a_repeated_job_sends_no_second_notice(app, pair):
    """If the job that hands the turn to party 2 runs again, is party 2 still mailed only once, with the
    time it was sent recorded?"""
    from portal.models import SentNotice

    kou, otsu = pair
    case_id = _sent_case(pair)
    item_id = _agree(kou, case_id).id
    assert jobs.sign_party(item_id) == "signed"
    work(app)
    fresh()
    db.session.get(OutboxItem, item_id).status = "pending"
    db.session.commit()
    jobs.sign_party(item_id)
    work(app)
    fresh()
    turns = db.session.scalars(select(SentNotice).where(SentNotice.kind == "case_turn",
                                                        SentNotice.company_id == otsu)).all()
    assert len(turns) == 1 and turns[0].sent_at is not None
    assert f"/cases/{case_id}" in turns[0].body and "乙工務店株式会社" in turns[0].body


# ---------------------------------------------------------------------- a real worker killed mid-job

KILL_AFTER = 0.3  # seconds into the signing job
SIGNED_WITHIN = 15  # seconds from the kill: RQ's first retry comes after 5 s
BEAT = 2  # WORKER_HEARTBEAT_SECONDS of the workers started here (10 in production)
# Seconds from the kill to the case signed by another worker, with the reconciler run every second: two
# missed beats and 5 s of slack, then the signing. RQ forgets the dead worker's execution only after ~60 s.
TAKEN_OVER_WITHIN = 30


@pytest.fixture
def other_process_settings() -> dict:
    return {"WORKER_HEARTBEAT_SECONDS": BEAT}


def _outbox_row(item_id: int) -> OutboxItem:
    fresh()
    return db.session.get(OutboxItem, item_id)


@pytest.mark.slow
def test_r_case_3_work_horse_killed_mid_signing_is_taken_over_by_the_retry(target, portal_pki, worker_process):
    """If the work-horse of a real `python worker.py` is killed with SIGKILL 0.3 s into a signing job, does
    RQ's retry take the intent over at once (not after the reconciler's stale timeout), and does the case
    end signed within 15 s of the kill, exactly once — one signed revision, one audit event?"""
    kou = certified_company("甲建設株式会社", "kou").id
    otsu = certified_company("乙工務店株式会社", "otsu").id
    case_id = _sent_case((kou, otsu))
    item_id = _agree(kou, case_id).id  # committed: the worker takes the job now

    deadline = time.monotonic() + 60
    while _outbox_row(item_id).status != "running":
        assert time.monotonic() < deadline, worker_process.log.read_text()[-3000:]
        time.sleep(0.02)
    first_holder = _outbox_row(item_id).claimed_by
    time.sleep(KILL_AFTER)
    horse = worker_process.horse_pid()
    assert horse is not None, "the signing job ended before the kill"
    os.kill(horse, signal.SIGKILL)
    killed_at = time.monotonic()
    row = _outbox_row(item_id)
    assert (row.status, row.claimed_by) == ("running", first_holder), "the signing job ended before the kill"

    while _outbox_row(item_id).status != "done":
        assert time.monotonic() - killed_at < 60, worker_process.log.read_text()[-3000:]
        time.sleep(0.05)
    seconds = time.monotonic() - killed_at
    print(f"\nkill -9 of the work-horse → case signed: {seconds:.1f} s")
    assert seconds <= SIGNED_WITHIN

    row = _outbox_row(item_id)
    assert row.attempts == 2 and row.claimed_by != first_holder
    party = db.session.scalar(select(Party).where(Party.case_id == case_id, Party.position == 1))
    assert party.status == "signed"
    signed = db.session.scalars(select(Document).where(Document.case_id == case_id, Document.role == "signed")).all()
    assert [d.signed_by_position for d in signed] == [1]
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "signed")).all()
    assert len(events) == 1


def test_r_case_3_claim_held_by_a_live_rq_execution_is_not_taken_over(app, pair):
    """While the RQ execution that claimed an intent is alive in Redis, does a second run (a retry, a
    duplicate) leave the intent alone — and take it over as soon as RQ has deleted that execution?"""
    case_id = _sent_case(pair)
    item_id = _agree(pair[0], case_id).id
    execution = Execution(uuid4().hex, "sign-live-job", connection=Redis.from_url(app.config["REDIS_URL"]))
    execution.save(ttl=60)
    row = db.session.get(OutboxItem, item_id)
    row.status, row.claimed_at, row.claimed_by = "running", now_utc(), f"rq:{execution.composite_key}"
    db.session.commit()

    assert outbox.claim(item_id) is None
    assert jobs.sign_party(item_id) == "not claimed"
    execution.connection.delete(execution.key)  # what RQ does when it sees the work-horse die
    assert jobs.sign_party(item_id) == "signed"
    assert _outbox_row(item_id).attempts == 1


def test_r_case_3_run_whose_claim_was_taken_over_records_nothing(target, portal_pki):
    """If a run presumed dead is still working when another run takes its intent over, does it roll its
    signature back at the end instead of recording a second one?"""
    app, _env, _store = target
    kou = certified_company("甲建設株式会社", "kou").id
    otsu = certified_company("乙工務店株式会社", "otsu").id
    case_id = _sent_case((kou, otsu))
    item_id = _agree(kou, case_id).id
    other = create_engine(normalize_database_url(app.config["SQLALCHEMY_DATABASE_URI"]))

    def sign_while_taken_over(party_id: int) -> str:
        with other.begin() as conn:  # another worker's retry, in its own connection
            conn.execute(update(OutboxItem.__table__).where(OutboxItem.__table__.c.id == item_id)
                         .values(claimed_by="rq:sign-retry:0123"))
        return cases.apply_signature(party_id)

    try:
        assert jobs._run_claimed(item_id, sign_while_taken_over) == "taken over"
    finally:
        other.dispose()
    row = _outbox_row(item_id)
    assert (row.status, row.claimed_by) == ("running", "rq:sign-retry:0123")
    assert db.session.scalar(select(Party).where(Party.case_id == case_id, Party.position == 1)).status == "signing"
    assert not db.session.scalars(select(Document).where(Document.role == "signed")).all()
    assert not db.session.scalars(select(AuditEvent).where(AuditEvent.action == "signed")).all()


def _held_by_worker(app, item_id: int) -> tuple[SimpleWorker, Execution]:
    """The intent claimed by an RQ execution on a registered worker with a fresh heartbeat."""
    connection = Redis.from_url(app.config["REDIS_URL"])
    worker = SimpleWorker(["signing"], connection=connection, serializer=JSONSerializer)
    worker.register_birth()
    worker.heartbeat()
    execution = Execution(uuid4().hex, "sign-held-job", connection=connection, worker_name=worker.name)
    execution.save(ttl=300)
    row = db.session.get(OutboxItem, item_id)
    row.status, row.claimed_at, row.claimed_by = "running", now_utc(), f"rq:{execution.composite_key}"
    db.session.commit()
    return worker, execution


def _stop_beating(app, worker: SimpleWorker) -> None:
    """What a worker killed with SIGKILL leaves: its last heartbeat ages (RQ keeps the key ~85 s more)."""
    last = now_utc() - outbox.worker_dead_after() - timedelta(seconds=1)
    worker.connection.hset(worker.key, "last_heartbeat", utcformat(last))


def test_r_case_3_claim_whose_worker_stopped_beating_is_taken_over(app, pair):
    """While the worker running the claiming execution beats, is the intent left alone — and once that
    worker missed two heartbeats (killed with its work-horse), is it taken over though RQ still lists
    the execution?"""
    case_id = _sent_case(pair)
    item_id = _agree(pair[0], case_id).id
    worker, _execution = _held_by_worker(app, item_id)
    assert jobs.sign_party(item_id) == "not claimed"
    _stop_beating(app, worker)
    assert jobs.sign_party(item_id) == "signed"


def test_r_case_3_reconciler_reenqueues_an_intent_whose_worker_died_without_waiting(app, pair):
    """Does the reconciler leave a freshly claimed intent alone while its worker beats, and re-enqueue it
    as soon as that worker stopped beating — not only after OUTBOX_STALE_SECONDS?"""
    case_id = _sent_case(pair)
    item_id = _agree(pair[0], case_id).id
    Queue("signing", connection=Redis.from_url(app.config["REDIS_URL"]), serializer=JSONSerializer).empty()
    worker, _execution = _held_by_worker(app, item_id)
    assert outbox.reconcile() == 0
    _stop_beating(app, worker)
    assert outbox.reconcile() == 1
    db.session.commit()
    work(app)
    assert _outbox_row(item_id).status == "done"
    assert len(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "signed")).all()) == 1


@pytest.mark.slow
def test_r_case_3_worker_killed_mid_signing_is_taken_over_by_another_worker(target, portal_pki, worker_process,
                                                                           tmp_path):
    """If the whole worker running a signing job is killed with SIGKILL (not only its work-horse), does its
    work-horse die with it, and does the reconciler hand the intent to the other live worker once the
    dead one missed two heartbeats — the case signed exactly once, within 30 s rather than after RQ's
    ~60 s execution TTL or OUTBOX_STALE_SECONDS?"""
    app, env, _store = target
    connection = Redis.from_url(app.config["REDIS_URL"])
    other = WorkerProcess(env, tmp_path / "other-worker.log")
    try:
        other.registered(connection)
        kou = certified_company("甲建設株式会社", "kou").id
        otsu = certified_company("乙工務店株式会社", "otsu").id
        case_id = _sent_case((kou, otsu))
        item_id = _agree(kou, case_id).id
        deadline = time.monotonic() + 60
        while _outbox_row(item_id).status != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        holder = Execution.from_composite_key(_outbox_row(item_id).claimed_by.removeprefix("rq:"), connection)
        holder.refresh()
        running = {w.name: w.pid for w in Worker.all(connection=connection)}[holder.worker_name]
        dying = next(w for w in (worker_process, other) if w.pid == running)
        time.sleep(0.3)
        horse = dying.horse_pid()
        assert horse is not None, "the signing job ended before the kill"

        os.kill(dying.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        while alive(horse):
            assert time.monotonic() - killed_at < 5, "the work-horse outlived its worker"
            time.sleep(0.05)
        assert _outbox_row(item_id).status == "running"
        while _outbox_row(item_id).status != "done":  # the reconciler, as cron runs it (every minute there)
            assert time.monotonic() - killed_at < TAKEN_OVER_WITHIN
            outbox.reconcile()
            db.session.commit()
            time.sleep(1)
        print(f"\nkill -9 of the whole worker → signed by the other: {time.monotonic() - killed_at:.1f} s")
    finally:
        other.stop()
    row = _outbox_row(item_id)  # done by the other worker, not by an orphaned work-horse
    assert row.attempts == 2 and row.claimed_by != f"rq:{holder.composite_key}"
    assert len(db.session.scalars(select(Document).where(Document.case_id == case_id,
                                                         Document.role == "signed")).all()) == 1
    assert len(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "signed")).all()) == 1


def test_r_case_3_long_job_of_a_live_worker_is_not_joined_after_the_stale_timeout(app, pair):
    """If a live worker's signing job runs longer than OUTBOX_STALE_SECONDS, do the reconciler and a
    duplicate job still leave it alone, so two live workers never both run the work?"""
    case_id = _sent_case(pair)
    item_id = _agree(pair[0], case_id).id
    Queue("signing", connection=Redis.from_url(app.config["REDIS_URL"]), serializer=JSONSerializer).empty()
    _held_by_worker(app, item_id)
    row = db.session.get(OutboxItem, item_id)
    row.claimed_at = now_utc() - timedelta(seconds=app.config["OUTBOX_STALE_SECONDS"] + 60)
    db.session.commit()
    assert outbox.reconcile() == 0
    assert jobs.sign_party(item_id) == "not claimed"
