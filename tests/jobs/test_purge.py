"""The purge (R-RET-1..4): what goes on which day, under which rule, and what never goes."""
from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from rq import SimpleWorker
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    AuditEvent,
    Case,
    Certificate,
    Company,
    Document,
    LoginSession,
    Party,
    PurgeRecord,
    PurgeRun,
    SentNotice,
    User,
)
from portal.services import contracts, outbox, purge, retention
from portal.services.errors import StateConflict
from portal.services.storage import get_store
from tests import factories


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _exists(case_id: int) -> bool:
    db.session.expire_all()
    return db.session.get(Case, case_id) is not None


def _contact(company: Company) -> User:
    return next(u for u in company.users if u.role == "contact")


@pytest.fixture
def two(company_a, company_b):
    return company_a, company_b


def _age_store() -> None:
    """Date every stored file two hours back: written long before the purge, no upload in flight."""
    long_ago = time.time() - 2 * 3600
    for path in get_store().root.rglob("*"):
        if path.is_file():
            os.utime(path, (long_ago, long_ago))


def test_r_ret_1_completed_case_goes_on_its_delete_day_not_before(two):
    """Is a case completed on 2027-04-01 kept through 2037-04-01 and deleted on 2037-04-02,
    with a tombstone that names it, its parties, the rule and the dates, and its PDFs gone?"""
    a, b = two
    case = factories.case([a, b], status="complete", completed_on=date(2027, 4, 1), documents=2)
    case_id, number = case.id, case.number
    digests = [d.sha256 for d in case.documents]
    db.session.commit()
    _age_store()
    purge.run(today=date(2037, 4, 1))
    assert _exists(case_id)
    run = purge.run(today=date(2037, 4, 2))
    assert not _exists(case_id)
    assert (run.deleted_cases, run.deleted_objects) == (1, 2)
    assert not any(get_store().exists(d) for d in digests)
    record = db.session.scalar(select(PurgeRecord).where(PurgeRecord.case_number == number))
    assert record.rule == "completed_retention" and record.run_id == run.id
    assert record.dates == {"completed_on": "2027-04-01", "extended_until": None, "delete_on": "2037-04-02"}
    assert [p["name"] for p in record.parties] == [a.name, b.name]
    assert _count(Party) == 0 and _count(Document) == 0


def test_r_ret_2_incomplete_case_goes_a_year_after_its_last_update_in_jst(two):
    """Is a draft last touched at 2027-06-30 23:30 JST (14:30 UTC) deleted on 2028-07-01, not 2028-06-30?"""
    a, b = two
    case = factories.case([a, b], status="draft", last_update=datetime(2027, 6, 30, 14, 30, tzinfo=UTC))
    case_id = case.id
    db.session.commit()
    assert case.purge_due_on == date(2028, 7, 1)
    purge.run(today=date(2028, 6, 30))
    assert _exists(case_id)
    purge.run(today=date(2028, 7, 1))
    assert not _exists(case_id)
    assert db.session.scalar(select(PurgeRecord.rule)) == "incomplete_stale"


def test_r_ret_4_nothing_else_is_deleted(two):
    """Do cases that are not due, and their store objects, survive a run that deletes others?"""
    a, b = two
    due = factories.case([a, b], status="complete", completed_on=date(2020, 1, 10))
    keep = factories.case([a, b], status="complete", completed_on=date(2025, 1, 10))
    draft = factories.case([a], status="draft", last_update=datetime(2029, 6, 1, tzinfo=UTC))
    keep_digest = keep.documents[0].sha256
    ids = (due.id, keep.id, draft.id)
    db.session.commit()
    run = purge.run(today=date(2030, 1, 11))
    assert run.deleted_cases == 1
    assert [_exists(i) for i in ids] == [False, True, True]
    assert get_store().exists(keep_digest)


def test_r_ret_4_a_shared_object_stays_while_another_case_references_it(two):
    """When two cases hold the same PDF bytes, does deleting one keep the object for the other?"""
    a, b = two
    old = factories.case([a, b], status="complete", completed_on=date(2020, 1, 10))
    young = factories.case([a, b], status="complete", completed_on=date(2025, 1, 10))
    young.documents[0].sha256 = old.documents[0].sha256
    digest = old.documents[0].sha256
    db.session.commit()
    purge.run(today=date(2030, 1, 11))
    assert get_store().exists(digest)


def test_r_ret_4_legal_hold_blocks_deletion_until_released_and_both_are_audited(two, staff_user):
    """Is a held case kept past its date, deleted on the first run after release, and are hold and
    release in the audit trail with their reasons?"""
    a, b = two
    case = factories.case([a, b], status="complete", completed_on=date(2020, 1, 10))
    case_id = case.id
    retention.set_legal_hold(case, staff_user, True, "訴訟のため保全")
    db.session.commit()
    purge.run(today=date(2031, 1, 1))
    assert _exists(case_id)
    assert all(c.id != case_id for c in purge.plan(date(2031, 1, 1)))
    case = db.session.get(Case, case_id)
    with pytest.raises(StateConflict):
        retention.set_legal_hold(case, staff_user, True, "二重")
    retention.set_legal_hold(case, staff_user, False, "訴訟終了")
    db.session.commit()
    purge.run(today=date(2031, 1, 2))
    assert not _exists(case_id)
    events = db.session.execute(
        select(AuditEvent.action, AuditEvent.detail).where(AuditEvent.case_id == case_id).order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.detail["reason"]) for e in events] == [
        ("case.legal_hold", "訴訟のため保全"),
        ("case.legal_release", "訴訟終了"),
    ]


def test_r_ret_3_deletion_agreement_of_every_party_deletes_on_the_next_run(two):
    """When every party agreed, does the next run delete the case long before its retention ends?"""
    a, b = two
    case = factories.case([a, b], status="complete", completed_on=date(2026, 1, 10))
    case_id = case.id
    db.session.commit()
    agreed_at = datetime(2027, 3, 1, 1, 0, tzinfo=UTC)  # 10:00 JST on 1 March
    assert retention.agree_deletion(case, _contact(a), now=agreed_at) is False
    assert case.purge_due_on == date(2036, 1, 11)
    proposal = db.session.scalar(select(SentNotice).where(SentNotice.kind == "retention_delete_proposal"))
    assert proposal.recipient == _contact(b).email
    assert retention.agree_deletion(case, _contact(b), now=agreed_at + timedelta(hours=2)) is True
    assert case.purge_due_on == date(2027, 3, 1)
    db.session.commit()
    purge.run(today=date(2027, 2, 28))
    assert _exists(case_id)
    purge.run(today=date(2027, 3, 1))
    assert not _exists(case_id)
    record = db.session.scalar(select(PurgeRecord))
    assert (record.rule, record.dates["agreed_on"]) == ("deletion_agreed", "2027-03-01")


def test_r_ret_3_a_withdrawn_agreement_keeps_the_case(two):
    """If one party withdraws before the run, is the case kept until its retention ends?"""
    a, b = two
    case = factories.case([a, b], status="complete", completed_on=date(2026, 1, 10))
    case_id = case.id
    retention.agree_deletion(case, _contact(a), now=datetime(2027, 3, 1, tzinfo=UTC))
    retention.agree_deletion(case, _contact(b), now=datetime(2027, 3, 1, tzinfo=UTC))
    retention.withdraw_deletion(case, _contact(b))
    db.session.commit()
    assert case.purge_due_on == date(2036, 1, 11)
    purge.run(today=date(2027, 3, 2))
    assert _exists(case_id)
    with pytest.raises(StateConflict):
        retention.withdraw_deletion(db.session.get(Case, case_id), _contact(b))


def test_r_ret_3_only_completed_cases_can_be_agreed_away(two):
    """Is an agreement on a case that is not 完了 refused?"""
    a, b = two
    case = factories.case([a, b], status="waiting")
    with pytest.raises(StateConflict):
        retention.agree_deletion(case, _contact(a))


def test_r_ret_4_dry_run_lists_rule_and_reason_and_changes_nothing(two, runner):
    """Does the dry run (service and `flask portal purge --dry-run`) list each due case with its rule
    and reason, while rows, tombstones, runs and store objects stay as they were?"""
    a, b = two
    done = factories.case([a, b], status="complete", completed_on=date(2020, 1, 10))
    draft = factories.case([a, b], status="draft", last_update=datetime(2029, 1, 1, tzinfo=UTC))
    factories.case([a, b], status="complete", completed_on=date(2025, 1, 10))
    db.session.commit()
    listed = {c.name: c for c in purge.plan(date(2030, 1, 11))}
    assert set(listed) == {done.number, draft.number}
    assert listed[done.number].rule == "completed_retention"
    assert "2030年1月10日に満了" in listed[done.number].why
    assert listed[draft.number].rule == "incomplete_stale"
    result = runner.invoke(args=["portal", "purge", "--dry-run", "--today", "2030-01-11"])
    assert result.exit_code == 0, result.output
    assert done.number in result.output and "incomplete_stale" in result.output
    assert (_count(Case), _count(Document), _count(PurgeRecord), _count(PurgeRun)) == (3, 3, 0, 0)
    assert all(get_store().exists(d.sha256) for d in db.session.scalars(select(Document)))


def test_r_ret_4_purge_keeps_an_object_that_an_upload_in_flight_just_stored_again(two):
    """A due case's PDF has the same bytes as an upload whose Document is not committed yet (the store
    found the object and touched it). Does the purge delete the case but leave the object, so the upload
    can commit, and does a later sweep remove it only if nothing came to reference it?"""
    a, b = two
    case = factories.case([a, b], status="complete", completed_on=date(2020, 1, 10))
    digest = case.documents[0].sha256
    db.session.commit()
    _age_store()
    store = get_store()
    assert store.put(store.get(digest)) == digest  # the upload in flight: same bytes, stored again
    run = purge.run(today=date(2030, 1, 11))
    assert run.deleted_cases == 1 and run.deleted_objects == 0
    assert store.exists(digest)
    assert not any(p.name.startswith(".del-") for p in store.root.rglob("*"))
    _age_store()  # the upload died after all: an hour later the object is an orphan
    assert purge.sweep_orphans() == 1 and not store.exists(digest)


def test_r_ret_4_sweep_puts_back_a_deletion_cut_short_and_clears_dead_writes(two):
    """After crashes in the middle of deletions (objects renamed aside) and of a streamed write (temporary
    file in the store root), does the sweep put every object back under its name, keep the referenced
    one and a young one, remove the old orphan in the same run, and remove the dead temporary file?"""
    a, b = two
    case = factories.case([a, b], status="complete", completed_on=date(2027, 4, 1))
    referenced = case.documents[0].sha256
    db.session.commit()
    store = get_store()
    original = store.get(referenced)
    orphan, young = store.put(b"%PDF-1.7 purged case"), store.put(b"%PDF-1.7 just uploaded again")
    asides = {}
    for digest in (referenced, orphan, young):
        path = store._path(digest)
        asides[digest] = path.with_name(".del-" + digest)
        path.rename(asides[digest])
    dead = store.root / ".tmp-dead-write"
    dead.write_bytes(b"half a PDF")
    _age_store()
    os.utime(asides[young])  # touched by an upload just before the deletion was cut short
    assert purge.sweep_orphans() == 2  # the old orphan and the dead write
    assert store.get(referenced) == original and store.exists(young) and not store.exists(orphan)
    assert not any(aside.exists() for aside in asides.values()) and not dead.exists()


def test_r_ret_4_cli_purge_deletes_and_reports(two, runner):
    """Does `flask portal purge --today` delete what is due and print the counts?"""
    a, b = two
    factories.case([a, b], status="complete", completed_on=date(2020, 1, 10))
    db.session.commit()
    _age_store()
    result = runner.invoke(args=["portal", "purge", "--today", "2030-01-11"])
    assert result.exit_code == 0, result.output
    assert '"cases": 1' in result.output and '"objects": 1' in result.output
    bad = runner.invoke(args=["portal", "purge", "--today", "2030-13-01"])
    assert bad.exit_code != 0


def test_r_ret_4_a_stale_purge_date_is_corrected_not_obeyed(two):
    """If purge_due_on says a case is due but the rules say it is not, is it kept and the date fixed?"""
    a, b = two
    case = factories.case([a, b], status="complete", completed_on=date(2027, 4, 1))
    case.purge_due_on = date(2027, 5, 1)  # e.g. written by a bug
    case_id = case.id
    db.session.commit()
    purge.run(today=date(2030, 1, 1))
    assert _exists(case_id)
    assert db.session.get(Case, case_id).purge_due_on == date(2037, 4, 2)


def test_r_ret_4_orphan_sweep_removes_old_unreferenced_objects_only(two, app):
    """Does the sweep remove an old object nothing references, and keep a young one (an upload in
    flight) and every referenced one?"""
    a, b = two
    case = factories.case([a, b], status="complete", completed_on=date(2027, 4, 1))
    referenced = case.documents[0].sha256
    db.session.commit()
    store = get_store()
    old_orphan = store.put(b"%PDF-1.7 orphan left by a crash")
    young_orphan = store.put(b"%PDF-1.7 upload in flight")
    long_ago = time.time() - 2 * 3600
    for digest in (old_orphan, referenced):
        os.utime(store._path(digest), (long_ago, long_ago))
    tmp = store.root / "ab" / "cd" / ".tmp-dead"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(b"half")
    os.utime(tmp, (long_ago, long_ago))
    assert purge.sweep_orphans() == 2
    assert not store.exists(old_orphan) and not tmp.exists()
    assert store.exists(young_orphan) and store.exists(referenced)


def test_r_ret_1_continued_storage_moves_the_deletion_date_once_paid(two, staff_user):
    """Does a request change nothing until staff record payment, and then move the delete day to
    anniversary(completion, 10 + years) + 1, also for a case completed on 29 February?"""
    a, b = two
    case = factories.case([a, b], status="complete", completed_on=date(2028, 2, 29))
    assert case.purge_due_on == date(2038, 3, 1)
    request = retention.request_continued_storage(case, _contact(b), 2, today=date(2038, 2, 28))
    assert request.fee == 2 * 1000
    assert case.purge_due_on == date(2038, 3, 1)
    retention.record_continued_storage_paid(request, staff_user, today=date(2038, 2, 28))
    assert case.extended_until == date(2040, 2, 29)
    assert case.purge_due_on == date(2040, 3, 1)
    second = retention.request_continued_storage(case, _contact(a), 1, today=date(2039, 1, 1))
    retention.record_continued_storage_paid(second, staff_user, today=date(2039, 1, 1))
    assert case.extended_until == date(2041, 2, 28)
    assert case.purge_due_on == date(2041, 3, 1)
    db.session.commit()
    purge.run(today=date(2041, 2, 28))
    assert _exists(case.id)


def test_r_ret_1_continued_storage_is_refused_after_retention_ended(two):
    """Is a request on the deletion day itself (retention already over) refused, and so are
    periods outside 1-10 years?"""
    a, b = two
    case = factories.case([a, b], status="complete", completed_on=date(2027, 4, 1))
    with pytest.raises(StateConflict):
        retention.request_continued_storage(case, _contact(a), 1, today=date(2037, 4, 2))
    from portal.services.errors import ValidationFailed

    for years in (0, 11):
        with pytest.raises(ValidationFailed):
            retention.request_continued_storage(case, _contact(a), years, today=date(2037, 4, 1))


def test_r_ret_4_warnings_go_90_and_30_days_before_once_each(two):
    """Are the parties' contacts warned on delete_on-90 and delete_on-30 only, once even if the job
    runs twice or late, and warned again for a new date after continued storage?"""
    a, b = two
    case = factories.case([a, b], status="complete", completed_on=date(2027, 4, 1))  # delete_on 2037-04-02
    db.session.commit()
    assert purge.send_retention_warnings(date(2037, 1, 1)) == 0
    assert purge.send_retention_warnings(date(2037, 1, 2)) == 2  # one per party's contact
    assert purge.send_retention_warnings(date(2037, 1, 2)) == 0
    assert purge.send_retention_warnings(date(2037, 1, 20)) == 0
    assert purge.send_retention_warnings(date(2037, 3, 5)) == 2  # 30-day warning, two days late
    assert purge.send_retention_warnings(date(2037, 3, 6)) == 0
    db.session.commit()
    kinds = db.session.execute(select(SentNotice.kind, SentNotice.recipient).order_by(SentNotice.id)).all()
    assert [k for k, _ in kinds] == ["retention_warning_90"] * 2 + ["retention_warning_30"] * 2
    assert {r for _, r in kinds} == {_contact(a).email, _contact(b).email}
    body = db.session.scalar(select(SentNotice.body).where(SentNotice.kind == "retention_warning_30"))
    assert case.number in body and "2037年4月2日" in body


def test_r_ret_3_after_contract_end_read_only_three_months_then_account_data_goes(two, staff_user):
    """After the contract ends, is the company kept (read-only) through the last day of the three
    months, and on the next day are its users, sessions, keys and personal fields deleted, its own
    incomplete cases gone, and its completed case kept for the counterparty?"""
    a, b = two
    shared = factories.case([a, b], status="complete", completed_on=date(2027, 1, 10))
    own_draft = factories.case([a, b], status="draft", last_update=datetime(2027, 3, 1, tzinfo=UTC))
    their_draft = factories.case([b, a], status="draft", last_update=datetime(2027, 3, 1, tzinfo=UTC))
    db.session.add(Certificate(company_id=a.id, serial="01AB", subject="CN=甲建設株式会社",
                               not_before=datetime(2027, 1, 1, tzinfo=UTC), not_after=datetime(2037, 1, 1, tzinfo=UTC),
                               cert_pem="-----BEGIN CERTIFICATE-----", key_pem_encrypted=b"secret"))
    db.session.add(LoginSession(id="s" * 40, user_id=_contact(a).id))
    contracts.request_cancellation(a.contract, _contact(a), None, arrived=date(2027, 3, 20))  # ends 2027-03-31
    db.session.commit()
    contracts.end_contracts(date(2027, 4, 1))
    db.session.commit()
    assert a.status == "ended" and a.contract.data_delete_on == date(2027, 7, 1)
    ids = (shared.id, own_draft.id, their_draft.id)

    purge.run(today=date(2027, 6, 30))
    db.session.expire_all()
    assert a.status == "ended" and len(a.users) == 2

    run = purge.run(today=date(2027, 7, 1))
    db.session.expire_all()
    assert run.deleted_companies == 1
    company = db.session.get(Company, a.id)
    assert company.status == "deleted" and company.name == "甲建設株式会社"
    assert (company.representative_name, company.phone, company.address) == ("", "", "")
    assert db.session.scalar(select(func.count()).select_from(User).where(User.company_id == a.id)) == 0
    assert _count(LoginSession) == 0
    assert db.session.scalar(select(Certificate.key_pem_encrypted)) is None
    assert [_exists(i) for i in ids] == [True, False, True]
    rules = dict(db.session.execute(select(PurgeRecord.subject, PurgeRecord.rule)).all())
    assert rules == {"company": "post_termination", "case": "party_ended_incomplete"}
    # B still finds the completed case with both parties named as on the contract.
    visible = db.session.scalars(
        select(Case.number).join(Party).where(Party.company_id == b.id, Case.status == "complete")
    ).all()
    assert visible == [shared.number]


def test_r_ret_3_a_completed_case_goes_when_its_last_party_is_deleted(two, staff_user):
    """When both parties' contracts ended and their three months passed, does the shared completed
    case go with the last of them, but not before?"""
    a, b = two
    shared = factories.case([a, b], status="complete", completed_on=date(2027, 1, 10)).id
    contracts.terminate(a, ["25-1-9"], "", staff_user, today=date(2027, 3, 31))
    contracts.terminate(b, ["25-1-9"], "", staff_user, today=date(2027, 4, 30))
    db.session.commit()
    purge.run(today=date(2027, 7, 1))
    assert _exists(shared)
    purge.run(today=date(2027, 7, 30))
    assert _exists(shared)
    purge.run(today=date(2027, 7, 31))  # post_termination_delete_on(2027-04-30)
    assert not _exists(shared)
    assert db.session.scalar(select(PurgeRecord.rule).where(PurgeRecord.subject == "case")) == "no_party_left"


def test_r_ret_4_purge_job_runs_in_an_rq_worker(two, app):
    """Does the cron's job function, run by a real RQ worker, delete a case due today?"""
    a, b = two
    case = factories.case([a, b], status="complete", completed_on=date(2000, 1, 10))
    case_id = case.id
    db.session.commit()
    outbox.enqueue("portal.jobs.purge_daily", queue_name="maintenance", job_id="purge-test")
    worker = SimpleWorker([outbox.queue("maintenance")], connection=outbox.redis_conn(),
                          serializer=outbox.queue().serializer)
    worker.work(burst=True)
    assert not _exists(case_id)
    assert db.session.scalar(select(PurgeRun.deleted_cases)) == 1
