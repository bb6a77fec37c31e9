"""Retention of cases (R-RET-1..3, 第11条の2, 第11条の3, 第28条): when a case may be deleted,
continued storage (継続保管), deletion by agreement (削除合意) and legal hold.

`purge_due_on` is kept on the case row so the purge finds due cases by index; call
`refresh_purge_due(case)` after every change of status, last_update, completion, extension or
agreement. The purge re-checks each case with `due_reason()` before it deletes anything, so a
stale `purge_due_on` can never delete a case early.

The rules this module implements, beyond the pure functions of rules/retention.py:

- Completed case (第11条の2): deleted from `completed_case_delete_on(completed_on, extended_until)`.
- Continued storage: a party asks for 1-10 more years before that day; once staff record the fee
  as paid, `extended_until = anniversary(completed_on, 10 + all years paid for the case)`. Counting
  from completion (not from the previous end) keeps a case completed on 29 February on 28/29
  February in every later year instead of drifting to the 28th for good.
- Incomplete case (第11条の3): deleted from `incomplete_case_delete_on(last_update in JST)`.
- Deletion agreement (第28条3項): when every party whose company still exists (status other than
  "deleted") has agreed, the case is due from the day of the last agreement; it goes on the next
  purge run. Any party may withdraw its agreement until then. A deleted company has no data and
  no say left (its copies are gone under 第28条3項), so it is not asked.
- No party left (第28条3項): a completed case stays while any party's company still exists (active,
  suspended, or ended and within its three months); when the last one is deleted, nobody may look
  it up any more and it goes in the same purge run (or, if held, on the first run after release).
- Legal hold: staff may hold a case; a held case is never deleted, whatever its dates.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from werkzeug.routing import BuildError

from portal.clock import japanese_date, jst_date, now_utc, today_jst
from portal.extensions import db
from portal.models import Case, Company, ContinuedStorage, Party, User
from portal.rules import retention as rules
from portal.rules.dates import MIN_DATE, ONE_DAY, anniversary
from portal.services import audit, notify
from portal.services.errors import AccessDenied, NotFound, StateConflict, ValidationFailed

CONTINUED_STORAGE_YEARS = range(1, 11)

#: Rule ids written to tombstones and shown on the staff page, with the article that allows it.
RULES: dict[str, str] = {
    "completed_retention": "第11条の2 完了案件の保管期間（継続保管を含む）の満了",
    "incomplete_stale": "第11条の3 未完了案件の最終更新日から1年経過",
    "deletion_agreed": "第28条3項 全当事者の削除合意",
    "no_party_left": "第28条3項 全当事者の利用契約終了後の保存期間満了（照会できる相手方がいない）",
    "party_ended_incomplete": "第28条2項・3項 利用契約が終了した当事者の未完了案件",
    "post_termination": "第28条2項・3項 利用契約終了から3か月経過（アカウント情報等）",
}


# --- dates ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueReason:
    """Why a case may be deleted on a day: the rule id and the dates that made it due."""

    rule: str
    dates: dict[str, Any]

    @property
    def label(self) -> str:
        return RULES[self.rule]


#: A party's say in a deletion agreement: (its company's status, when it agreed or None).
Vote = tuple[str | None, datetime | None]


def delete_on_for(status: str, completed_on: date | None, extended_until: date | None, last_update: datetime) -> date:
    """The first day the retention rules (第11条の2 / 第11条の3) allow deleting a case with these values."""
    if status == "complete":
        if completed_on is None:
            raise ValueError("a complete case has a completion day")
        return rules.completed_case_delete_on(completed_on, extended_until)
    return rules.incomplete_case_delete_on(jst_date(last_update))


def agreed_on_for(status: str, votes: Sequence[Vote]) -> date | None:
    """The JST day the last party agreed to delete a completed case, when every party whose company
    is not deleted has agreed (第28条3項); None otherwise."""
    if status != "complete":
        return None
    voters = [agreed for company_status, agreed in votes if company_status != "deleted"]
    if not voters or any(agreed is None for agreed in voters):
        return None
    return jst_date(max(a for a in voters if a is not None))


def no_party_left(status: str, votes: Sequence[Vote]) -> bool:
    """A completed case whose every party's company was deleted: nobody may look it up any more
    (第28条3項), so it goes with the last of them."""
    return status == "complete" and bool(votes) and all(company_status == "deleted" for company_status, _ in votes)


def due_date_for(
    status: str, completed_on: date | None, extended_until: date | None, last_update: datetime, votes: Sequence[Vote]
) -> date:
    """The first day a case may be deleted: its retention day, or the day of the last deletion
    agreement when that is earlier; MIN_DATE (due now) when no party is left."""
    if no_party_left(status, votes):
        return MIN_DATE
    delete_on = delete_on_for(status, completed_on, extended_until, last_update)
    agreed = agreed_on_for(status, votes)
    return delete_on if agreed is None else min(delete_on, agreed)


def reason_for(
    status: str,
    completed_on: date | None,
    extended_until: date | None,
    last_update: datetime,
    legal_hold: bool,
    votes: Sequence[Vote],
    today: date,
) -> DueReason | None:
    """The rule under which a case with these values may be deleted on `today`, or None (held, or
    not yet due). The purge calls this on the rows it has locked, never trusting purge_due_on alone."""
    if legal_hold:
        return None
    if no_party_left(status, votes):
        return DueReason("no_party_left", {"completed_on": _iso(completed_on)})
    agreed = agreed_on_for(status, votes)
    if agreed is not None and agreed <= today:
        return DueReason("deletion_agreed", {"completed_on": _iso(completed_on), "agreed_on": agreed.isoformat()})
    delete_on = delete_on_for(status, completed_on, extended_until, last_update)
    if delete_on > today:
        return None
    if status == "complete":
        return DueReason(
            "completed_retention",
            {
                "completed_on": _iso(completed_on),
                "extended_until": _iso(extended_until),
                "delete_on": delete_on.isoformat(),
            },
        )
    return DueReason(
        "incomplete_stale",
        {"status": status, "last_update": jst_date(last_update).isoformat(), "delete_on": delete_on.isoformat()},
    )


def company_statuses(company_ids: Iterable[int]) -> dict[int, str]:
    ids = list(set(company_ids))
    if not ids:
        return {}
    rows = db.session.execute(select(Company.id, Company.status).where(Company.id.in_(ids)))
    return {row.id: row.status for row in rows}


def _votes(case: Case) -> list[Vote]:
    if case.status != "complete":
        return []
    statuses = company_statuses(p.company_id for p in case.parties)
    return [(statuses.get(p.company_id), p.delete_agreed_at) for p in case.parties]


def retention_delete_on(case: Case) -> date:
    """The first day the retention rules (第11条の2 / 第11条の3) allow deleting `case`."""
    return delete_on_for(case.status, case.completed_on, case.extended_until, case.last_update)


def agreed_deletion_on(case: Case) -> date | None:
    """The day every remaining party had agreed to delete `case` (第28条3項), or None."""
    return agreed_on_for(case.status, _votes(case))


def due_date(case: Case) -> date:
    """The first day on which `case` may be deleted under 第11条の2 / 第11条の3 / 第28条3項."""
    return due_date_for(case.status, case.completed_on, case.extended_until, case.last_update, _votes(case))


def refresh_purge_due(case: Case) -> None:
    """Call after every change of status, last_update, completion, extension or agreement."""
    case.purge_due_on = due_date(case)


def due_reason(case: Case, today: date) -> DueReason | None:
    """The rule under which `case` may be deleted on `today`, or None."""
    return reason_for(
        case.status, case.completed_on, case.extended_until, case.last_update, case.legal_hold, _votes(case), today
    )


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


# --- continued storage (継続保管) --------------------------------------------------------------


def _party_of(case: Case, user: User) -> Party:
    party = next((p for p in case.parties if p.company_id == user.company_id), None)
    if party is None:
        raise NotFound("指定された案件が見つかりません。")
    return party


def _require_writable_contact(case: Case, user: User, what: str) -> Party:
    party = _party_of(case, user)
    if user.role != "contact":
        raise AccessDenied(f"{what}は、この会社の申請担当者のみが行えます。")
    if user.company is not None and user.company.is_read_only:
        raise AccessDenied("現在このアカウントは閲覧のみ可能です。変更はできません。")
    return party


def fee_for(years: int) -> int:
    """The continued-storage fee in yen (without tax) for `years` years of one case."""
    return int(current_app.config["CONTINUED_STORAGE_FEE_PER_YEAR"]) * years


def request_continued_storage(
    case: Case,
    user: User,
    years: int,
    today: date | None = None,
    now: datetime | None = None,
    actor: audit.Actor | None = None,
) -> ContinuedStorage:
    """A party asks to keep a completed case `years` more years (第11条の2 ただし書). Accepted up to
    the last day of retention; it takes effect once staff record the fee as paid."""
    today = today or today_jst()
    party = _require_writable_contact(case, user, "継続保管のお申込み")
    if case.status != "complete":
        raise StateConflict("継続保管は完了した案件についてのみお申し込みいただけます。")
    if isinstance(years, bool) or not isinstance(years, int) or years not in CONTINUED_STORAGE_YEARS:
        raise ValidationFailed("継続保管の期間は1年から10年の間で選択してください。")
    delete_on = retention_delete_on(case)
    if today >= delete_on:
        raise StateConflict(
            f"この案件の保管期間は{japanese_date(delete_on - ONE_DAY)}で満了しているため、"
            "継続保管はお申し込みいただけません。"
        )
    pending = db.session.scalar(
        select(ContinuedStorage).where(
            ContinuedStorage.case_id == case.id,
            ContinuedStorage.company_id == party.company_id,
            ContinuedStorage.paid_at.is_(None),
        )
    )
    if pending is not None:
        raise StateConflict("この案件の継続保管のお申込みは既に受け付けています（お支払いの確認待ち）。")
    request = ContinuedStorage(
        case_id=case.id,
        company_id=party.company_id,
        requested_by_id=user.id,
        years=years,
        fee=fee_for(years),
        requested_at=now or now_utc(),
    )
    db.session.add(request)
    db.session.flush()
    audit.record(
        "case.continued_storage_requested",
        actor or audit.Actor(user_id=user.id, company_id=user.company_id),
        case_id=case.id,
        case_number=case.number,
        detail={"years": years, "fee": request.fee, "request_id": request.id},
    )
    return request


def record_continued_storage_paid(
    request: ContinuedStorage,
    staff: User,
    today: date | None = None,
    now: datetime | None = None,
    note: str | None = None,
    actor: audit.Actor | None = None,
) -> ContinuedStorage:
    """Staff record the fee as paid: the case's retention moves (extended_until) and its purge
    date with it. extended_until = anniversary(completed_on, 10 + every year paid for the case)."""
    today = today or today_jst()
    if not staff.is_staff:
        raise AccessDenied()
    if request.paid_at is not None:
        raise StateConflict("この継続保管のお申込みは既に入金済みとして記録されています。")
    case = db.session.get(Case, request.case_id)
    if case is None:
        raise NotFound("この案件は既に削除されています。")
    if case.completed_on is None:
        raise ValueError(f"case {case.id} has no completion day")
    paid_years = db.session.scalar(
        select(func.coalesce(func.sum(ContinuedStorage.years), 0)).where(
            ContinuedStorage.case_id == case.id, ContinuedStorage.paid_at.is_not(None)
        )
    )
    total = rules.COMPLETED_RETENTION_YEARS + int(paid_years or 0) + request.years
    before = retention_delete_on(case)
    request.paid_at = now or now_utc()
    request.recorded_by_id = staff.id
    request.note = (note or "").strip() or None
    request.extended_until = anniversary(case.completed_on, years=total)
    case.extended_until = max(case.extended_until or request.extended_until, request.extended_until)
    refresh_purge_due(case)
    audit.record(
        "case.continued_storage_paid",
        actor or audit.Actor(user_id=staff.id),
        case_id=case.id,
        case_number=case.number,
        detail={
            "request_id": request.id,
            "years": request.years,
            "fee": request.fee,
            "delete_on_before": before.isoformat(),
            "extended_until": case.extended_until.isoformat(),
            "recorded_on": today.isoformat(),
        },
    )
    db.session.flush()
    return request


def pending_continued_storage() -> list[ContinuedStorage]:
    """Requests waiting for staff to record the payment, oldest first."""
    return list(
        db.session.scalars(
            select(ContinuedStorage).where(ContinuedStorage.paid_at.is_(None)).order_by(ContinuedStorage.requested_at)
        )
    )


# --- deletion agreement (削除合意) --------------------------------------------------------------


def agree_deletion(
    case: Case, user: User, now: datetime | None = None, actor: audit.Actor | None = None
) -> bool:
    """The user's company agrees to delete a completed case before its retention ends (第28条3項).
    The first agreement is the proposal and the other parties are told. Returns True when every
    party has now agreed (the case goes on the next purge run)."""
    now = now or now_utc()
    party = _require_writable_contact(case, user, "削除への合意")
    if case.status != "complete":
        raise StateConflict("削除の合意は完了した案件についてのみ行えます。")
    if party.delete_agreed_at is not None:
        raise StateConflict("この案件の削除には既に合意しています。")
    first = all(p.delete_agreed_at is None for p in case.parties)
    party.delete_agreed_at = now
    refresh_purge_due(case)
    audit.record(
        "case.deletion_agreed",
        actor or audit.Actor(user_id=user.id, company_id=user.company_id),
        case_id=case.id,
        case_number=case.number,
        detail={"party": party.position, "proposal": first},
    )
    if first:
        _tell_parties_of_proposal(case, party, now)
    db.session.flush()
    return agreed_deletion_on(case) is not None


def withdraw_deletion(case: Case, user: User, actor: audit.Actor | None = None) -> None:
    """Take back the company's agreement; possible until the purge has deleted the case."""
    party = _require_writable_contact(case, user, "削除合意の取り下げ")
    if party.delete_agreed_at is None:
        raise StateConflict("取り下げる削除の合意がありません。")
    party.delete_agreed_at = None
    refresh_purge_due(case)
    audit.record(
        "case.deletion_withdrawn",
        actor or audit.Actor(user_id=user.id, company_id=user.company_id),
        case_id=case.id,
        case_number=case.number,
        detail={"party": party.position},
    )
    db.session.flush()


def _tell_parties_of_proposal(case: Case, proposer: Party, now: datetime) -> None:
    statuses = company_statuses(p.company_id for p in case.parties)
    for party in case.parties:
        if party.id == proposer.id or statuses.get(party.company_id) == "deleted":
            continue
        users = db.session.scalars(
            select(User).where(User.company_id == party.company_id, User.role == "contact", User.active.is_(True))
        )
        for user in users:
            notify.queue(
                "retention_delete_proposal",
                user.email,
                f"案件 {case.number} の削除への合意のお願い",
                notify.render(
                    "retention_delete_proposal.txt",
                    case=case,
                    company_name=party.company_name,
                    proposer=proposer.company_name,
                    url=_case_url(case),
                ),
                company_id=party.company_id,
                case_id=case.id,
                dedupe_key=f"delete-proposal-{case.id}-{int(now.timestamp())}-u{user.id}",
            )


def _case_url(case: Case) -> str:
    try:
        return notify.public_url("cases.detail", case_id=case.id)
    except BuildError:  # the cases area may name its page differently; the mail still goes
        return notify.public_url("cases.index")


# --- legal hold ------------------------------------------------------------------------------------


def set_legal_hold(case: Case, staff: User, hold: bool, reason: str, actor: audit.Actor | None = None) -> None:
    """Staff hold a case (never deleted while held) or release it; both are audited with a reason."""
    if not staff.is_staff:
        raise AccessDenied()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("保全・解除の理由を入力してください。")
    if case.legal_hold == hold:
        raise StateConflict("この案件は既に保全中です。" if hold else "この案件は保全されていません。")
    case.legal_hold = hold
    audit.record(
        "case.legal_hold" if hold else "case.legal_release",
        actor or audit.Actor(user_id=staff.id),
        case_id=case.id,
        case_number=case.number,
        detail={"reason": reason[:500]},
    )
    db.session.flush()


# --- what the case page shows -------------------------------------------------------------------------


@dataclass
class RetentionPanel:
    """The retention section of a case page for one company (cases/_retention.html)."""

    case: Case
    today: date
    delete_on: date
    last_day: date
    rule_label: str
    extended: bool
    agreed_on: date | None
    my_party: Party | None
    can_request_storage: bool
    can_agree: bool
    can_withdraw: bool
    pending: list[ContinuedStorage] = field(default_factory=list)
    paid: list[ContinuedStorage] = field(default_factory=list)
    agreements: list[tuple[str, datetime | None]] = field(default_factory=list)
    fee_per_year: int = 0
    years: range = CONTINUED_STORAGE_YEARS


def panel(case: Case, user: User | None, today: date | None = None) -> RetentionPanel:
    """Everything `cases/_retention.html` needs for `user`'s company on `today`."""
    today = today or today_jst()
    delete_on = retention_delete_on(case)
    my_party = None
    if user is not None and user.company_id is not None:
        my_party = next((p for p in case.parties if p.company_id == user.company_id), None)
    writable = (
        my_party is not None
        and user is not None
        and user.role == "contact"
        and not (user.company is not None and user.company.is_read_only)
    )
    requests = list(
        db.session.scalars(
            select(ContinuedStorage).where(ContinuedStorage.case_id == case.id).order_by(ContinuedStorage.id)
        )
    )
    mine_pending = [r for r in requests if r.paid_at is None and my_party and r.company_id == my_party.company_id]
    complete = case.status == "complete"
    return RetentionPanel(
        case=case,
        today=today,
        delete_on=delete_on,
        last_day=delete_on - ONE_DAY,
        rule_label="第11条の2（完了案件の保管期間）" if complete else "第11条の3（未完了案件）",
        extended=case.extended_until is not None,
        agreed_on=agreed_deletion_on(case),
        my_party=my_party,
        can_request_storage=writable and complete and today < delete_on and not mine_pending,
        can_agree=writable and complete and my_party is not None and my_party.delete_agreed_at is None,
        can_withdraw=writable and my_party is not None and my_party.delete_agreed_at is not None,
        pending=[r for r in requests if r.paid_at is None],
        paid=[r for r in requests if r.paid_at is not None],
        agreements=[(p.company_name, p.delete_agreed_at) for p in case.parties],
        fee_per_year=int(current_app.config["CONTINUED_STORAGE_FEE_PER_YEAR"]),
    )
