"""The purge (R-RET-4): deletes what the retention rules say is due, in batches, resumably.

One run (`run(today)`) does, in this order:

1. Companies whose contract ended and whose three months passed (Company.status "ended",
   Contract.data_delete_on <= today, 第28条2項・3項): first the cases that go with them — the
   incomplete cases they originated, and completed cases in which no other party's company is
   left to look them up — then, in one transaction, their users (with sessions and reset links),
   change requests, notices sent to them, the private keys of their certificates, and the
   personal fields of the company and its application. The company row stays as a tombstone
   (status "deleted") because completed cases the counterparties still keep point at it, and so
   does the public part of its certificate, which the CRL and the remaining signed PDFs need.
2. Cases with purge_due_on <= today and no legal hold, re-checked with the rules on the locked
   row (a stale purge_due_on is corrected, never obeyed).
3. An orphan sweep of the store.

Crash safety: each batch of cases (PURGE_BATCH_SIZE) is one transaction that writes the
tombstones and deletes the rows; a crash inside it deletes nothing. A store object is removed
only after that transaction committed and only if no Document references its SHA-256 any more;
a crash between the commit and the unlink leaves an orphan object, which the sweep of a later
run removes. Both leave objects written or touched within PURGE_ORPHAN_MIN_AGE_SECONDS alone: an
upload stores its bytes (or touches the object holding the same bytes) before its Document row
commits, and the store's delete sees a touch that races it.

Audit events are kept: they hold ids, not content, and the hash chain must stay whole.
"""
from __future__ import annotations

import json
import logging
import os
import re
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import (
    Column,
    ColumnElement,
    ForeignKey,
    Result,
    Table,
    and_,
    any_,
    bindparam,
    delete,
    exists,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased

from portal.clock import japanese_date, now_utc, today_jst
from portal.extensions import db
from portal.models import (
    Application,
    Case,
    Certificate,
    ChangeRequest,
    Company,
    Contract,
    Document,
    Party,
    PurgeRecord,
    PurgeRun,
    SentNotice,
    User,
)
from portal.rules import retention as retention_rules
from portal.services import audit, notify, retention
from portal.services.retention import RULES, DueReason
from portal.services.storage import ASIDE_PREFIX, TMP_PREFIX, get_store

log = logging.getLogger(__name__)

_PURGE_LOCK = 7_420_002  # PostgreSQL advisory lock: one purge run at a time
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
#: Tables whose rows belong to a user and go with it; any other non-nullable reference to a
#: user stops that company's deletion with an error instead of destroying someone else's record.
_USER_OWNED_TABLES = {"login_sessions", "password_resets"}
_UNLINK_THREADS = 4


class PurgeIncomplete(Exception):
    """A run finished with errors (recorded on its PurgeRun); the job fails so that RQ retries."""


class PurgeBusy(Exception):
    """Another purge run holds the lock."""


# --- what is due ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One thing a run deletes (or, in a dry run, would delete), with the rule and the dates."""

    subject: str  # case | company
    id: int
    name: str  # case number or company name
    title: str
    rule: str
    dates: dict
    parties: list[dict] = field(default_factory=list)

    @property
    def rule_label(self) -> str:
        return RULES[self.rule]

    @property
    def why(self) -> str:
        return explain(self.rule, self.dates)


def _j(value: str | None) -> str:
    if not value:
        return "—"
    return japanese_date(date.fromisoformat(value))


def explain(rule: str, dates: dict) -> str:
    """A Japanese sentence saying why the dates made the thing due."""
    if rule == "completed_retention":
        last_day = date.fromisoformat(dates["delete_on"]) - timedelta(days=1)
        extended = f"（継続保管により{_j(dates.get('extended_until'))}まで延長）" if dates.get("extended_until") else ""
        return f"完了日{_j(dates.get('completed_on'))}から10年の保管期間が{_j(last_day.isoformat())}に満了{extended}"
    if rule == "incomplete_stale":
        return f"最終更新日{_j(dates.get('last_update'))}から1年が経過（{_j(dates.get('delete_on'))}から削除可）"
    if rule == "deletion_agreed":
        return f"すべての当事者が削除に合意（最後の合意: {_j(dates.get('agreed_on'))}）"
    if rule == "no_party_left":
        return "すべての当事者の利用契約が終了して3か月が経過し、照会できる相手方がいない完了案件"
    if rule == "party_ended_incomplete":
        return f"作成した契約者の利用契約が{_j(dates.get('ended_on'))}に終了し、3か月が経過した未完了案件"
    if rule == "post_termination":
        ended, delete_on = _j(dates.get("ended_on")), _j(dates.get("data_delete_on"))
        return f"利用契約が{ended}に終了し、3か月が経過（{delete_on}から削除）"
    return rule


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _case_columns():
    return (
        Case.id,
        Case.number,
        Case.title,
        Case.status,
        Case.completed_on,
        Case.extended_until,
        Case.last_update,
        Case.legal_hold,
    )


def _load_batch(where: ColumnElement[bool], after_id: int, limit: int, lock: bool) -> tuple[list, dict[int, list]]:
    """Up to `limit` case rows matching `where` with id > after_id, and their parties.

    With `lock` on PostgreSQL the rows are locked (FOR UPDATE SKIP LOCKED): a user's change that
    commits first is seen by the re-check; one that comes later waits and then finds no row.
    """
    query = select(*_case_columns()).where(where, Case.id > after_id).order_by(Case.id).limit(limit)
    if lock and _is_postgres():
        query = query.with_for_update(skip_locked=True)
    rows = list(db.session.execute(query).all())
    parties: dict[int, list] = defaultdict(list)
    if rows:
        for party in db.session.execute(
            select(Party.case_id, Party.company_id, Party.position, Party.company_name, Party.delete_agreed_at)
            .where(_any(Party.case_id, [r.id for r in rows]))
            .order_by(Party.case_id, Party.position)
        ):
            parties[party.case_id].append(party)
    return rows, parties


def _party_list(parties: Iterable) -> list[dict]:
    return [{"company_id": p.company_id, "name": p.company_name, "position": p.position} for p in parties]


def _rule_reasons(rows: list, parties: dict[int, list], today: date) -> tuple[dict[int, DueReason], dict[int, date]]:
    """For each row: the reason it is due today, or (when not due) its corrected purge date."""
    company_ids = list({p.company_id for ps in parties.values() for p in ps})
    statuses: dict[int, str] = {}
    if company_ids:
        found = db.session.execute(select(Company.id, Company.status).where(_any(Company.id, company_ids)))
        statuses = {row.id: row.status for row in found}
    due: dict[int, DueReason] = {}
    corrected: dict[int, date] = {}
    for row in rows:
        votes = [(statuses.get(p.company_id), p.delete_agreed_at) for p in parties[row.id]]
        reason = retention.reason_for(
            row.status, row.completed_on, row.extended_until, row.last_update, row.legal_hold, votes, today
        )
        if reason is not None:
            due[row.id] = reason
        elif not row.legal_hold:
            corrected[row.id] = retention.due_date_for(
                row.status, row.completed_on, row.extended_until, row.last_update, votes
            )
    return due, corrected


def _due_cases_where(today: date) -> ColumnElement[bool]:
    return and_(Case.purge_due_on <= today, Case.legal_hold.is_(False))


def _due_companies(today: date) -> list[tuple[int, str, date, date, str | None]]:
    return [
        tuple(row)  # type: ignore[misc]
        for row in db.session.execute(
            select(Company.id, Company.name, Contract.ended_on, Contract.data_delete_on, Contract.end_reason)
            .join(Contract, Contract.company_id == Company.id)
            .where(Company.status == "ended", Contract.data_delete_on <= today)
            .order_by(Company.id)
        )
    ]


def _cases_leaving_with(company_id: int) -> ColumnElement[bool]:
    """Cases that go when `company_id`'s data is deleted (第28条3項): the incomplete cases it
    originated, and completed cases in which no other party's company is left (all deleted)."""
    other = aliased(Party)
    other_company = aliased(Company)
    other_alive = (
        exists()
        .where(
            other.case_id == Case.id,
            other.company_id != company_id,
            other.company_id == other_company.id,
            other_company.status != "deleted",
        )
        .correlate(Case)
    )
    mine = exists().where(Party.case_id == Case.id, Party.company_id == company_id).correlate(Case)
    return and_(
        Case.legal_hold.is_(False),
        or_(
            and_(Case.status != "complete", Case.originator_company_id == company_id),
            and_(Case.status == "complete", mine, ~other_alive),
        ),
    )


def _company_case_reason(row, company_id: int, ended_on: date | None, data_delete_on: date | None) -> DueReason:
    dates = {
        "company_id": company_id,
        "ended_on": ended_on.isoformat() if ended_on else None,
        "data_delete_on": data_delete_on.isoformat() if data_delete_on else None,
    }
    if row.status == "complete":
        dates["completed_on"] = row.completed_on.isoformat() if row.completed_on else None
        return DueReason("no_party_left", dates)
    dates["status"] = row.status
    return DueReason("party_ended_incomplete", dates)


def plan(today: date | None = None, limit: int | None = None, batch_size: int = 1000) -> Iterator[Candidate]:
    """What a run on `today` would delete, with rule and dates, streamed (dry run: changes nothing)."""
    today = today or today_jst()
    emitted = 0
    seen: set[int] = set()
    for company_id, name, ended_on, delete_on, reason in _due_companies(today):
        if limit is not None and emitted >= limit:
            return
        emitted += 1
        yield Candidate(
            "company",
            company_id,
            name,
            "",
            "post_termination",
            {"ended_on": _iso(ended_on), "data_delete_on": _iso(delete_on), "end_reason": reason},
            [{"company_id": company_id, "name": name}],
        )
        after = 0
        while True:
            rows, parties = _load_batch(_cases_leaving_with(company_id), after, batch_size, lock=False)
            if not rows:
                break
            for row in rows:
                after = row.id
                if row.id in seen:
                    continue
                seen.add(row.id)
                if limit is not None and emitted >= limit:
                    return
                emitted += 1
                yield _case_candidate(row, parties, _company_case_reason(row, company_id, ended_on, delete_on))
    after = 0
    while True:
        rows, parties = _load_batch(_due_cases_where(today), after, batch_size, lock=False)
        if not rows:
            return
        due, _corrected = _rule_reasons(rows, parties, today)
        for row in rows:
            after = row.id
            if row.id not in due or row.id in seen:
                continue
            if limit is not None and emitted >= limit:
                return
            emitted += 1
            yield _case_candidate(row, parties, due[row.id])


def _case_candidate(row, parties: dict[int, list], reason: DueReason) -> Candidate:
    return Candidate("case", row.id, row.number, row.title, reason.rule, reason.dates, _party_list(parties[row.id]))


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


# --- deleting rows --------------------------------------------------------------------------------


def _referrers(table: Table) -> list[tuple[Table, Column, ForeignKey]]:
    """(child table, child column, foreign key) for every foreign key that points at `table`."""
    found: list[tuple[Table, Column, ForeignKey]] = []
    for child in db.metadata.sorted_tables:
        for fk in child.foreign_keys:
            if fk.column.table is table and fk.parent.table is child:
                found.append((child, fk.parent, fk))
    return found


def _rowcount(result: Result) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _table(model) -> Table:
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table


def _any(column, values: list) -> ColumnElement[bool]:
    """`column IN values`, as `= ANY(array)` on PostgreSQL: one bound parameter instead of hundreds,
    so the statement is prepared once and not re-parsed for every batch."""
    if _is_postgres():
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def _fk_enforced() -> bool:
    """Whether the database itself carries out ON DELETE (PostgreSQL; SQLite with foreign_keys on)."""
    if _is_postgres():
        return True
    return bool(db.session.execute(text("PRAGMA foreign_keys")).scalar())


def _delete_with_children(table: Table, where: ColumnElement[bool], depth: int = 0) -> int:
    """Delete rows of `table` matching `where` and, first, what refers to them.

    A reference with ON DELETE is left to the database when it enforces foreign keys (one
    statement, no double work) and carried out here otherwise. A reference without ON DELETE is
    set to NULL when it may be, else its rows are deleted the same way (a row that cannot exist
    without the case is part of the case)."""
    if depth > 6:
        raise RuntimeError(f"foreign keys nest too deep under {table.name}")
    enforced = _fk_enforced()
    for child, column, fk in _referrers(table):
        if fk.ondelete and enforced:
            continue
        if fk.ondelete == "CASCADE" or (fk.ondelete is None and not column.nullable):
            _delete_with_children(child, column.in_(select(fk.column).where(where)), depth + 1)
        else:  # SET NULL, or nullable without ON DELETE
            db.session.execute(
                update(child).where(column.in_(select(fk.column).where(where))).values({column.name: None})
            )
    return _rowcount(db.session.execute(delete(table).where(where)))


def _purge_case_batch(run_id: int, rows: list, parties: dict[int, list], reasons: dict[int, DueReason], now: datetime):
    """Tombstone and delete the cases in `reasons` (one transaction; the caller commits).
    Returns the SHA-256s their documents used."""
    ids = [row.id for row in rows if row.id in reasons]
    if not ids:
        return set()
    digests = set(db.session.scalars(select(Document.sha256).where(_any(Document.case_id, ids)).distinct()))
    _insert_tombstones(run_id, [(row.number, _party_list(parties[row.id]), reasons[row.id]) for row in rows
                                if row.id in reasons], now)
    deleted = _delete_with_children(_table(Case), _any(Case.id, ids))
    if deleted != len(ids):
        raise RuntimeError(f"expected to delete {len(ids)} cases, deleted {deleted}")
    db.session.execute(
        update(PurgeRun).where(PurgeRun.id == run_id).values(deleted_cases=PurgeRun.deleted_cases + len(ids))
    )
    return digests


_TOMBSTONES_PG = text(
    "INSERT INTO purge_records (run_id, subject, case_number, company_id, parties, rule, dates, deleted_at) "
    "SELECT :run_id, 'case', t.number, NULL, CAST(t.parties AS json), t.rule, CAST(t.dates AS json), :deleted_at "
    "FROM unnest(CAST(:numbers AS varchar[]), CAST(:parties AS text[]), CAST(:rules AS varchar[]), "
    "CAST(:dates AS text[])) AS t(number, parties, rule, dates)"
)


def _insert_tombstones(run_id: int, items: list[tuple[str, list[dict], DueReason]], now: datetime) -> None:
    """One tombstone per case. On PostgreSQL a single INSERT … SELECT FROM unnest(arrays): one
    statement for the batch instead of one per row."""
    if not items:
        return
    if _is_postgres():
        db.session.execute(
            _TOMBSTONES_PG,
            {
                "run_id": run_id,
                "deleted_at": now.astimezone(UTC).replace(tzinfo=None),  # UTCDateTime stores naive UTC
                "numbers": [number for number, _, _ in items],
                "parties": [json.dumps(parties, ensure_ascii=False) for _, parties, _ in items],
                "rules": [reason.rule for _, _, reason in items],
                "dates": [json.dumps(reason.dates, ensure_ascii=False) for _, _, reason in items],
            },
        )
        return
    db.session.execute(
        insert(_table(PurgeRecord)),
        [
            {"run_id": run_id, "subject": "case", "case_number": number, "company_id": None, "parties": parties,
             "rule": reason.rule, "dates": reason.dates, "deleted_at": now}
            for number, parties, reason in items
        ],
    )


def _unreferenced(digests: list[str]) -> list[str]:
    """Those of `digests` that no committed Document references."""
    still = set(db.session.scalars(select(Document.sha256).where(_any(Document.sha256, digests)).distinct()))
    return [digest for digest in digests if digest not in still]


class _Unlinker:
    """Removes store objects on a few background threads while the next batch's transaction runs:
    the file system, not Python, is the limit. It is only ever handed digests whose batch has
    committed and that no committed Document references; a crash loses nothing but files, which
    the sweep of a later run removes. At most MAX_PENDING chunks wait: when the disk is slower than
    the database, the batches wait for it, so memory stays flat however many cases go."""

    CHUNK = 100
    MAX_PENDING = 40

    def __init__(self) -> None:
        self.store = get_store()
        self.pool = ThreadPoolExecutor(max_workers=_UNLINK_THREADS, thread_name_prefix="purge-unlink")
        self.pending: deque = deque()
        self.removed = 0

    def _delete_all(self, digests: list[str], untouched_since: float) -> int:
        return sum(1 for digest in digests if self.store.delete(digest, untouched_since))

    def _settle(self, limit: int) -> None:
        while self.pending and (self.pending[0].done() or len(self.pending) > limit):
            self.removed += self.pending.popleft().result()

    def submit(self, digests: list[str], untouched_since: float) -> None:
        for start in range(0, len(digests), self.CHUNK):
            chunk = digests[start : start + self.CHUNK]
            self.pending.append(self.pool.submit(self._delete_all, chunk, untouched_since))
            self._settle(self.MAX_PENDING)

    def drain(self) -> int:
        """Wait for every removal handed over; how many files went in all."""
        self._settle(0)
        return self.removed

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def _remove_unreferenced(digests: Iterable[str], unlinker: _Unlinker | None = None) -> int:
    """Remove the store objects of `digests` that no committed Document references any more.
    Called right after a batch committed. With an unlinker the files go in the background (returns
    0; the unlinker counts them), without one they go now (returns how many).

    An object touched within PURGE_ORPHAN_MIN_AGE_SECONDS stays: an upload of the same bytes may be
    in flight, its Document not committed yet. The sweep of a later run looks at it again."""
    untouched_since = time.time() - _orphan_min_age()
    wanted = sorted(set(digests))
    gone: list[str] = []
    for start in range(0, len(wanted), 1000):
        gone.extend(_unreferenced(wanted[start : start + 1000]))
    if unlinker is not None:
        unlinker.submit(gone, untouched_since)
        return 0
    store = get_store()
    return sum(1 for digest in gone if store.delete(digest, untouched_since))


def _orphan_min_age() -> int:
    return int(current_app.config["PURGE_ORPHAN_MIN_AGE_SECONDS"])


def _add_objects(run_id: int, count: int) -> None:
    if count:
        db.session.execute(
            update(PurgeRun).where(PurgeRun.id == run_id).values(deleted_objects=PurgeRun.deleted_objects + count)
        )
        db.session.commit()


def _record_error(run_id: int, where: str, exc: BaseException) -> None:
    db.session.rollback()
    log.exception("purge: %s failed", where)
    run = db.session.get(PurgeRun, run_id)
    if run is not None:
        run.errors = [*(run.errors or []), {"where": where, "error": f"{type(exc).__name__}: {exc}"[:500]}]
        db.session.commit()


# --- company data (第28条2項・3項) ----------------------------------------------------------------


def _delete_company_data(run_id: int, company_id: int, today: date, now: datetime) -> None:
    """Delete an ended company's own data after its three months (one transaction; caller commits)."""
    company = db.session.get(Company, company_id, with_for_update=_is_postgres())
    if company is None or company.status != "ended":
        return
    contract = company.contract
    # The guard of an irreversible delete: it must hold under python -O too, so it is no assert.
    if contract is None or contract.data_delete_on is None or contract.data_delete_on > today:
        raise RuntimeError(f"company {company.id}'s data is not due for deletion on {today}")
    users = _table(User)
    user_ids = select(User.id).where(User.company_id == company_id)
    db.session.execute(delete(ChangeRequest).where(ChangeRequest.company_id == company_id))
    db.session.execute(delete(SentNotice).where(SentNotice.company_id == company_id))
    for child, column, fk in _referrers(users):
        refs = column.in_(user_ids)
        if column.nullable and fk.ondelete != "CASCADE":
            db.session.execute(update(child).where(refs).values({column.name: None}))
        elif child.name in _USER_OWNED_TABLES or fk.ondelete == "CASCADE":
            _delete_with_children(child, refs)
        elif db.session.scalar(select(exists().where(refs))):
            raise RuntimeError(f"{child.name}.{column.name} still refers to a user of company {company_id}")
    user_count = _rowcount(db.session.execute(delete(User).where(User.company_id == company_id)))
    # The private keys go (nobody can sign as the company again); the public certificate stays for
    # the CRL and for verifying the signed PDFs the counterparties keep.
    db.session.execute(
        update(Certificate).where(Certificate.company_id == company_id).values(key_pem_encrypted=None)
    )
    company.representative_name = ""
    company.representative_title = ""
    company.phone = ""
    company.address = ""
    company.postal_code = ""
    company.suspension_mode = None
    company.status = "deleted"
    db.session.execute(
        update(Application)
        .where(or_(Application.company_id == company_id, Application.id == company.application_id))
        .values(
            contact_name="",
            contact_department=None,
            contact_email="",
            contact_phone="",
            representative_name="",
            representative_title="",
            phone="",
            address="",
            postal_code="",
            correction_token_hash=None,
        )
    )
    dates = {
        "ended_on": _iso(contract.ended_on),
        "data_delete_on": _iso(contract.data_delete_on),
        "end_reason": contract.end_reason,
    }
    db.session.add(
        PurgeRecord(
            run_id=run_id,
            subject="company",
            company_id=company_id,
            parties=[{"company_id": company_id, "name": company.name}],
            rule="post_termination",
            dates=dates,
            deleted_at=now,
        )
    )
    db.session.execute(
        update(PurgeRun).where(PurgeRun.id == run_id).values(deleted_companies=PurgeRun.deleted_companies + 1)
    )
    audit.record("company.data_deleted", company_id=company_id, detail={**dates, "users": user_count}, now=now)
    db.session.flush()
    # A deleted company no longer votes on deletion agreements: the remaining parties decide.
    remaining = db.session.scalars(
        select(Case).where(
            Case.status == "complete", Case.id.in_(select(Party.case_id).where(Party.company_id == company_id))
        )
    )
    for case in remaining:
        retention.refresh_purge_due(case)


def _purge_company(run_id: int, company_id: int, ended_on: date | None, delete_on: date | None, today: date,
                   now: datetime, batch_size: int, unlinker: _Unlinker) -> None:
    after = 0
    while True:
        rows, parties = _load_batch(_cases_leaving_with(company_id), after, batch_size, lock=True)
        if not rows:
            break
        after = rows[-1].id
        reasons = {row.id: _company_case_reason(row, company_id, ended_on, delete_on) for row in rows}
        digests = _purge_case_batch(run_id, rows, parties, reasons, now)
        db.session.commit()
        _remove_unreferenced(digests, unlinker)
    _delete_company_data(run_id, company_id, today, now)
    db.session.commit()


# --- the run --------------------------------------------------------------------------------------


@contextmanager
def _run_lock() -> Iterator[bool]:
    """On PostgreSQL, a session advisory lock on a connection of its own, held for the whole run
    (it dies with the process). SQLite has one writer at a time anyway."""
    if db.engine.dialect.name != "postgresql":
        yield True
        return
    conn = db.engine.connect()
    try:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _PURGE_LOCK}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PURGE_LOCK})
                conn.commit()
    finally:
        conn.close()


def _close_interrupted_runs(now: datetime) -> None:
    """A run that never finished was killed; say so on its record (the work itself resumes)."""
    stale_runs = db.session.scalars(
        select(PurgeRun).where(PurgeRun.finished_at.is_(None), PurgeRun.dry_run.is_(False))
    ).all()
    for stale in stale_runs:
        stale.errors = [*(stale.errors or []), {"where": "run", "error": "中断されました（次回の実行で再開）"}]
        stale.finished_at = now
    if stale_runs:
        db.session.commit()


def _run_batches(run_id: int, today: date, now: datetime | None, batch: int, unlinker: _Unlinker) -> None:
    """Phases 1 and 2: ended companies with the cases that go with them, then the due cases."""
    for company_id, _name, ended_on, delete_on, _reason in _due_companies(today):
        try:
            _purge_company(run_id, company_id, ended_on, delete_on, today, now or now_utc(), batch, unlinker)
        except Exception as exc:  # recorded on the run; the next company still goes
            _record_error(run_id, f"company {company_id}", exc)

    after = 0
    while True:
        rows: list = []
        try:
            rows, parties = _load_batch(_due_cases_where(today), after, batch, lock=True)
            if not rows:
                db.session.rollback()
                return
            reasons, corrected = _rule_reasons(rows, parties, today)
            for case_id, due_on in corrected.items():  # stale purge_due_on: fix it, delete nothing
                db.session.execute(update(Case).where(Case.id == case_id).values(purge_due_on=due_on))
            digests = _purge_case_batch(run_id, rows, parties, reasons, now or now_utc())
            db.session.commit()
        except Exception as exc:  # this batch rolled back whole; go on after it
            _record_error(run_id, f"cases after id {after}", exc)
            if not rows:
                return  # the database itself failed: stop, the job is retried
            after = rows[-1].id
            continue
        after = rows[-1].id
        _remove_unreferenced(digests, unlinker)


def run(today: date | None = None, now: datetime | None = None, batch_size: int | None = None) -> PurgeRun:
    """Delete everything due on `today` (see the module docstring). Commits batch by batch.

    Returns the run record; raises PurgeIncomplete after recording errors (so a job is retried)
    and PurgeBusy when another run holds the lock.
    """
    today = today or today_jst()
    batch = int(batch_size or current_app.config["PURGE_BATCH_SIZE"])
    with _run_lock() as got:
        if not got:
            raise PurgeBusy("another purge run is in progress")
        _close_interrupted_runs(now or now_utc())
        purge_run = PurgeRun(run_on=today, started_at=now or now_utc(), dry_run=False, errors=[])
        db.session.add(purge_run)
        db.session.flush()
        run_id = purge_run.id
        db.session.commit()

        unlinker = _Unlinker()
        try:
            _run_batches(run_id, today, now, batch, unlinker)
        finally:
            removed = unlinker.drain()
            unlinker.close()
        _add_objects(run_id, removed)
        try:
            _add_objects(run_id, sweep_orphans())
        except Exception as exc:
            _record_error(run_id, "orphan sweep", exc)

        finished = db.session.get(PurgeRun, run_id)
        if finished is None:
            raise RuntimeError(f"purge run {run_id} vanished while it ran")
        finished.finished_at = now_utc() if now is None else now
        counts = {
            "cases": finished.deleted_cases,
            "companies": finished.deleted_companies,
            "objects": finished.deleted_objects,
            "errors": len(finished.errors or []),
        }
        if any(counts.values()):  # a quiet day leaves its run record only
            audit.record("purge.run", detail={"run_id": run_id, "run_on": today.isoformat(), **counts}, now=now)
        db.session.commit()
        if finished.errors:
            raise PurgeIncomplete(f"purge run {run_id} finished with {len(finished.errors)} error(s)")
        return finished


# --- the store's orphans ------------------------------------------------------------------------------


def _walk_store(root: str) -> Iterator[tuple[str, str, float]]:
    """(name, path, mtime) of every file in the store root (objects being written) and two levels
    under it (objects), streamed."""
    try:
        level1 = list(os.scandir(root))
    except FileNotFoundError:
        return
    for a in level1:
        if a.is_file(follow_symlinks=False):
            yield a.name, a.path, a.stat(follow_symlinks=False).st_mtime
        if not a.is_dir(follow_symlinks=False):
            continue
        for b in os.scandir(a.path):
            if not b.is_dir(follow_symlinks=False):
                continue
            for entry in os.scandir(b.path):
                if entry.is_file(follow_symlinks=False):
                    yield entry.name, entry.path, entry.stat(follow_symlinks=False).st_mtime


def sweep_orphans(min_age_seconds: int | None = None, chunk: int = 2000) -> int:
    """Remove store objects that no Document references and that are older than the minimum age,
    and temporary files of writes that died; objects a killed deletion left aside go back under their
    names first. Returns how many files went. Streams the store."""
    min_age = _orphan_min_age() if min_age_seconds is None else min_age_seconds
    store = get_store()
    root = getattr(store, "root", None)
    if root is None:  # a store without a local folder lists its objects its own way
        return 0
    cutoff = time.time() - min_age
    removed = 0
    pending: list[str] = []

    def flush() -> int:
        if not pending:
            return 0
        count = sum(1 for digest in _unreferenced(pending) if store.delete(digest, cutoff))
        pending.clear()
        db.session.rollback()
        return count

    for name, path, mtime in _walk_store(str(root)):
        if name.startswith(ASIDE_PREFIX):  # a deletion cut short: back under its name, whatever its age,
            name = store.put_back(Path(path))  # then judged like any other object
        if mtime > cutoff:
            continue
        if name.startswith(TMP_PREFIX):
            try:
                os.unlink(path)
                removed += 1
            except FileNotFoundError:
                pass
            continue
        if not _HEX64.match(name):
            continue
        pending.append(name)
        if len(pending) >= chunk:
            removed += flush()
    removed += flush()
    return removed


# --- warnings (R-RET-4) -----------------------------------------------------------------------------


def send_retention_warnings(today: date | None = None, now: datetime | None = None, batch_size: int = 500) -> int:
    """Warn every party of a completed case 90 and 30 days before its deletion date
    (rules.retention.retention_warning_dates). Each warning goes once per contact person, case,
    kind and deletion date (notify's dedupe key), also when the job runs twice or a few days late;
    a later deletion date (continued storage) earns new warnings. Held cases are not warned.
    Returns the notices recorded this time."""
    today = today or today_jst()
    horizon = today + timedelta(days=max(retention_rules.WARNING_DAYS_BEFORE))
    sent = 0
    after = 0
    while True:
        cases = list(
            db.session.scalars(
                select(Case)
                .where(
                    Case.status == "complete",
                    Case.legal_hold.is_(False),
                    Case.purge_due_on > today,
                    Case.purge_due_on <= horizon,
                    Case.id > after,
                )
                .order_by(Case.id)
                .limit(batch_size)
            )
        )
        if not cases:
            return sent
        after = cases[-1].id
        for case in cases:
            sent += _warn_case(case, today, now)


def _warn_case(case: Case, today: date, now: datetime | None) -> int:
    delete_on = retention.retention_delete_on(case)
    if delete_on <= today:
        return 0
    sent = 0
    statuses = retention.company_statuses(p.company_id for p in case.parties)
    for days, warn_on in zip(retention_rules.WARNING_DAYS_BEFORE, retention_rules.retention_warning_dates(delete_on),
                             strict=True):
        if warn_on > today:
            continue
        for party in case.parties:
            if statuses.get(party.company_id) in (None, "deleted"):
                continue
            contacts = db.session.scalars(
                select(User).where(User.company_id == party.company_id, User.role == "contact", User.active.is_(True))
            )
            for user in contacts:
                key = f"retention-warn-{case.id}-{days}-{delete_on.isoformat()}-u{user.id}"
                before = db.session.scalar(select(SentNotice.id).where(SentNotice.dedupe_key == key))
                if before is not None:
                    continue
                notify.queue(
                    f"retention_warning_{days}",
                    user.email,
                    f"案件 {case.number} の保管期間満了と削除のお知らせ（{days}日前）",
                    notify.render(
                        "retention_warning.txt",
                        case=case,
                        company_name=party.company_name,
                        days=(delete_on - today).days,
                        delete_on=_j(delete_on.isoformat()),
                        last_day=_j((delete_on - timedelta(days=1)).isoformat()),
                        completed_on=_j(_iso(case.completed_on)),
                        url=_case_url(case),
                    ),
                    company_id=party.company_id,
                    case_id=case.id,
                    dedupe_key=key,
                    now=now,
                )
                sent += 1
    return sent


def _case_url(case: Case) -> str:
    return retention._case_url(case)
