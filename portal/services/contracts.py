"""The 利用契約 of a company: its yearly terms, opt-out, mid-term cancellation and end (R-TERM-1,
R-TERM-2, R-RET-3, 第11条, 第24条, 第25条, 第28条).

A contract runs in yearly ContractTerm rows. It ends in one of three ways, each leaving the
company read-only for three months (Company.status "ended") before the purge deletes its data:

- expiry: the contractor opted out of renewal by the deadline, so the current term is the last;
- cancellation (中途解約): the contract ends on `rules.terms.cancellation_end_date`;
- termination by staff (第25条1項, 第19条1項): it ends on the day staff decide.

`renew_contracts` and `end_contracts` are the daily cron's work; both are idempotent and catch up
if the job did not run for a few days. Every date is a parameter (default: today in JST).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select

from portal.clock import japanese_date, now_utc, today_jst
from portal.extensions import db
from portal.models import Company, Contract, ContractTerm, User
from portal.rules import retention as retention_rules
from portal.rules import terms as term_rules
from portal.services import audit, notify
from portal.services.errors import AccessDenied, StateConflict, ValidationFailed

#: Grounds staff may cite when terminating a contract: 第25条1項 (1)-(10) and 第19条1項. The one
#: place these labels live; suspension (R-ADM-1) cites the same codes.
TERMINATION_GROUNDS: dict[str, str] = {
    "25-1-1": "第25条1項(1) 申込時の不適格事由の判明、又はID・パスワードの不正使用",
    "25-1-2": "第25条1項(2) 支払期限の翌日から6か月間の支払停止・支払不能",
    "25-1-3": "第25条1項(3) 手形・小切手の不渡り",
    "25-1-4": "第25条1項(4) 差押え・仮差押え・仮処分・競売の申立て又は租税滞納処分",
    "25-1-5": "第25条1項(5) 破産・会社更生・民事再生・特別清算等の申立て又は清算",
    "25-1-6": "第25条1項(6) 監督官庁による営業許可の取消・停止等の処分",
    "25-1-7": "第25条1項(7) 解散・減資・事業の全部又は重要な一部の譲渡等の決議",
    "25-1-8": "第25条1項(8) サービス運営の妨害又は不正な目的での利用",
    "25-1-9": "第25条1項(9) 利用規約の条項への違反",
    "25-1-10": "第25条1項(10) 利用契約の履行が困難と見込まれる事由の発生",
    "19-1": "第19条1項 禁止行為への該当",
}

END_REASONS = {"expired": "期間満了（更新せず）", "cancelled": "中途解約", "terminated": "当社による解除"}


def check_grounds(grounds: list[str], action: str) -> None:
    """Termination and suspension name one or more grounds of 第25条1項 or 第19条1項."""
    if not grounds:
        raise ValidationFailed(f"{action}の根拠を1つ以上選択してください。")
    if any(g not in TERMINATION_GROUNDS for g in grounds):
        raise ValidationFailed(f"{action}の根拠に不明な項目があります。")


# --- reading -------------------------------------------------------------------------------


def current_term(contract: Contract, today: date | None = None) -> ContractTerm:
    """The term `today` falls in; after the last term (not yet renewed, or ended) the last one,
    before the first one the first."""
    today = today or today_jst()
    terms = sorted(contract.terms, key=lambda t: t.start_date)
    if not terms:
        raise StateConflict("契約期間の記録がありません。運営者にお問い合わせください。")
    for term in terms:
        if term.start_date <= today <= term.end_date:
            return term
    return terms[-1] if today > terms[-1].end_date else terms[0]


def scheduled_last_day(contract: Contract) -> date | None:
    """The last day of the contract when it is known to end: the cancellation end date, or the
    end of the last term after an opt-out. None while it renews automatically."""
    if contract.ended_on is not None:
        return contract.ended_on
    candidates = []
    if contract.ends_on is not None:
        candidates.append(contract.ends_on)
    if contract.renewal_opted_out_at is not None and contract.terms:
        candidates.append(max(t.end_date for t in contract.terms))
    return min(candidates) if candidates else None


def _renews_after(contract: Contract, term: ContractTerm) -> bool:
    """Whether `term` is followed by an automatic renewal (第11条)."""
    if contract.ended_on is not None or contract.renewal_opted_out_at is not None:
        return False
    return contract.ends_on is None or contract.ends_on > term.end_date


@dataclass(frozen=True)
class ContractSummary:
    """What the account page shows about a contract on `today`."""

    contract: Contract
    today: date
    term: ContractTerm
    opt_out_deadline: date
    renewal_on: date | None  # first day of the next term, if it renews
    last_day: date | None  # known last day of the contract
    opted_out: bool
    can_opt_out: bool
    can_withdraw_opt_out: bool
    cancellation_pending: bool
    can_cancel: bool
    ended: bool
    data_delete_on: date | None

    @property
    def end_reason_label(self) -> str:
        return END_REASONS.get(self.contract.end_reason or "", "")

    @property
    def readable_until(self) -> date | None:
        """Last day the ended company may still log in read-only and download (第28条2項)."""
        return None if self.data_delete_on is None else self.data_delete_on - timedelta(days=1)


def summary(contract: Contract, today: date | None = None) -> ContractSummary:
    today = today or today_jst()
    term = current_term(contract, today)
    deadline = term_rules.renewal_opt_out_deadline(term.start_date)
    ended = contract.ended_on is not None
    opted_out = contract.renewal_opted_out_at is not None
    cancellation_pending = contract.cancellation_arrived_on is not None and not ended
    renews = _renews_after(contract, term)
    return ContractSummary(
        contract=contract,
        today=today,
        term=term,
        opt_out_deadline=deadline,
        renewal_on=term_rules.next_term_start(term.start_date) if renews else None,
        last_day=scheduled_last_day(contract),
        opted_out=opted_out,
        can_opt_out=not ended and not opted_out and not cancellation_pending and today <= deadline,
        can_withdraw_opt_out=not ended and opted_out and today <= deadline,
        cancellation_pending=cancellation_pending,
        can_cancel=not ended and not cancellation_pending,
        ended=ended,
        data_delete_on=contract.data_delete_on,
    )


# --- the contractor's requests ---------------------------------------------------------------


def _require_contact(contract: Contract, user: User) -> None:
    if user.company_id != contract.company_id or user.role != "contact":
        raise AccessDenied("契約の更新・解約のお届けは、この会社の申請担当者のみが行えます。")
    if contract.company.is_read_only:
        raise AccessDenied("現在このアカウントは閲覧のみ可能です。変更はできません。")


def _actor(user: User, actor: audit.Actor | None) -> audit.Actor:
    return actor or audit.Actor(user_id=user.id, company_id=user.company_id)


def opt_out(
    contract: Contract,
    user: User,
    today: date | None = None,
    now: datetime | None = None,
    actor: audit.Actor | None = None,
) -> ContractSummary:
    """Record that the contractor does not want the current term renewed (第11条).

    Accepted on or before `renewal_opt_out_deadline(term start)`; refused after it with the
    dates explained, since the term then renews for a year (a mid-term cancellation is the way out).
    """
    today = today or today_jst()
    _require_contact(contract, user)
    if contract.ended_on is not None:
        raise StateConflict("この契約は既に終了しています。")
    if contract.renewal_opted_out_at is not None:
        raise StateConflict("更新しない旨のお届けは既に受け付けています。")
    if contract.cancellation_arrived_on is not None:
        raise StateConflict("中途解約のお届けを受け付け済みのため、更新停止のお届けは不要です。")
    term = current_term(contract, today)
    deadline = term_rules.renewal_opt_out_deadline(term.start_date)
    if today > deadline:
        next_start = term_rules.next_term_start(term.start_date)
        raise ValidationFailed(
            f"更新しない旨のお届けの期限は、現在の契約期間の満了日（{japanese_date(term.end_date)}）の30日前にあたる"
            f"{japanese_date(deadline)}でした。期限を過ぎているため、契約は{japanese_date(next_start)}から1年間自動更新されます。"
            "それより前に終了をご希望の場合は、中途解約をお届けください。"
        )
    contract.renewal_opted_out_at = now or now_utc()
    audit.record(
        "contract.opt_out",
        _actor(user, actor),
        company_id=contract.company_id,
        detail={"term_start": term.start_date.isoformat(), "last_day": term.end_date.isoformat(),
                "received_on": today.isoformat()},
    )
    db.session.flush()
    return summary(contract, today)


def withdraw_opt_out(
    contract: Contract, user: User, today: date | None = None, actor: audit.Actor | None = None
) -> ContractSummary:
    """Take back an opt-out while the deadline has not passed: the contract renews again."""
    today = today or today_jst()
    _require_contact(contract, user)
    if contract.renewal_opted_out_at is None or contract.ended_on is not None:
        raise StateConflict("取り下げる更新停止のお届けがありません。")
    term = current_term(contract, today)
    deadline = term_rules.renewal_opt_out_deadline(term.start_date)
    if today > deadline:
        raise ValidationFailed(
            f"更新停止のお届けを取り下げられるのは{japanese_date(deadline)}までです。"
            f"契約は{japanese_date(term.end_date)}をもって終了します。"
        )
    contract.renewal_opted_out_at = None
    audit.record("contract.opt_out_withdrawn", _actor(user, actor), company_id=contract.company_id,
                 detail={"term_start": term.start_date.isoformat()})
    db.session.flush()
    return summary(contract, today)


@dataclass(frozen=True)
class CancellationPreview:
    """The end date 第24条1項 gives for a cancellation and, in Japanese, why."""

    arrived: date
    wished: date | None
    deemed_wished: date  # the wished date the rule uses
    end_on: date
    reason: str


def cancellation_preview(arrived: date, wished: date | None) -> CancellationPreview:
    """Explain `rules.terms.cancellation_end_date(arrived, wished)` (also the htmx preview).

    Raises ValidationFailed for a wished date before the day the request arrives.
    """
    if wished is not None and wished < arrived:
        raise ValidationFailed(f"ご希望日は届出日（{japanese_date(arrived)}）以降の日付を入力してください。")
    try:
        end_on = term_rules.cancellation_end_date(arrived, wished)
    except ValueError as exc:
        raise ValidationFailed("日付を正しく入力してください。") from exc
    notice_days = term_rules.CANCELLATION_NOTICE_DAYS
    deemed_days = term_rules.CANCELLATION_DEEMED_DAYS
    if wished is not None and (wished - arrived).days >= notice_days:
        deemed = wished
        reason = (
            f"ご希望日（{japanese_date(wished)}）は届出日（{japanese_date(arrived)}）から{notice_days}日以上先のため、"
            f"ご希望日の月末（{japanese_date(end_on)}）をもって契約が終了します。"
        )
    else:
        deemed = arrived + timedelta(days=deemed_days)
        why = (
            "ご希望日の記載がないため"
            if wished is None
            else f"ご希望日（{japanese_date(wished)}）が届出日（{japanese_date(arrived)}）から{notice_days}日未満のため"
        )
        reason = (
            f"{why}、届出日の{deemed_days}日後（{japanese_date(deemed)}）をご希望日とみなし、"
            f"その月末（{japanese_date(end_on)}）をもって契約が終了します。"
        )
    return CancellationPreview(arrived=arrived, wished=wished, deemed_wished=deemed, end_on=end_on, reason=reason)


def request_cancellation(
    contract: Contract,
    user: User,
    wished: date | None,
    arrived: date | None = None,
    actor: audit.Actor | None = None,
) -> CancellationPreview:
    """File a mid-term cancellation (中途解約, 第24条1項) that arrived on `arrived` (today).

    Sets `ends_on` to the rule's end date (or keeps an earlier end already scheduled by an
    opt-out). The cron's `end_contracts` ends the contract after that day.
    """
    arrived = arrived or today_jst()
    _require_contact(contract, user)
    if contract.ended_on is not None:
        raise StateConflict("この契約は既に終了しています。")
    if contract.cancellation_arrived_on is not None:
        raise StateConflict("中途解約のお届けは既に受け付けています。")
    preview = cancellation_preview(arrived, wished)
    contract.cancellation_arrived_on = arrived
    contract.cancellation_wished_on = wished
    scheduled = scheduled_last_day(contract)
    contract.ends_on = preview.end_on if scheduled is None else min(scheduled, preview.end_on)
    audit.record(
        "contract.cancellation_filed",
        _actor(user, actor),
        company_id=contract.company_id,
        detail={"arrived": arrived.isoformat(), "wished": wished.isoformat() if wished else None,
                "ends_on": contract.ends_on.isoformat()},
    )
    db.session.flush()
    return preview


# --- staff ------------------------------------------------------------------------------------


def terminate(
    company: Company,
    grounds: list[str],
    note: str,
    staff: User,
    today: date | None = None,
    actor: audit.Actor | None = None,
) -> Contract:
    """Staff terminate the contract today (第25条1項 / 第19条1項): it ends today, the company is
    read-only until `post_termination_delete_on(today)`, then the purge deletes its data."""
    today = today or today_jst()
    if not staff.is_staff:
        raise AccessDenied()
    check_grounds(grounds, "解除")
    contract = company.contract
    if contract is None:
        raise StateConflict("この契約者には利用契約の記録がありません。")
    if contract.ended_on is not None or company.status in ("ended", "deleted"):
        raise StateConflict("この契約は既に終了しています。")
    contract.ends_on = today
    contract.termination_grounds = list(dict.fromkeys(grounds))
    contract.termination_note = note.strip() or None
    _end(contract, today, "terminated", actor or audit.Actor(user_id=staff.id))
    return contract


# --- cron ---------------------------------------------------------------------------------------


def renew_contracts(today: date | None = None) -> int:
    """Add the next term to every running contract whose last term ended before `today` and that
    was neither opted out nor cancelled before that term's end (第11条). Returns the terms added.

    Idempotent: a term is added only when none starts on that day (and the unique constraint
    (contract_id, start_date) stops a concurrent duplicate). A job that missed days catches up.
    """
    today = today or today_jst()
    added = 0
    contracts = db.session.scalars(
        select(Contract)
        .join(Company, Company.id == Contract.company_id)
        .where(Contract.ended_on.is_(None), Company.status.in_(("active", "suspended")))
        .order_by(Contract.id)
    )
    for contract in contracts:
        if not contract.terms:
            continue
        last = max(contract.terms, key=lambda t: t.start_date)
        while last.end_date < today and _renews_after(contract, last):
            start = term_rules.next_term_start(last.start_date)
            term = ContractTerm(contract_id=contract.id, start_date=start, end_date=term_rules.term_end(start))
            db.session.add(term)
            contract.terms.append(term)
            audit.record("contract.renewed", company_id=contract.company_id,
                         detail={"term_start": start.isoformat(), "term_end": term.end_date.isoformat()})
            added += 1
            last = term
    db.session.flush()
    return added


def end_contracts(today: date | None = None) -> int:
    """End every contract whose known last day is before `today` (expiry after an opt-out, or a
    cancellation). Returns how many ended. The end date recorded is the contract's last day,
    not the day the job ran, so a late job does not move the deletion date."""
    today = today or today_jst()
    ended = 0
    contracts = db.session.scalars(
        select(Contract)
        .where(
            Contract.ended_on.is_(None),
            or_(Contract.ends_on < today, Contract.renewal_opted_out_at.is_not(None)),
        )
        .order_by(Contract.id)
    )
    for contract in contracts:
        last_day = scheduled_last_day(contract)
        if last_day is None or last_day >= today:
            continue
        cancelled = (
            contract.cancellation_arrived_on is not None
            and contract.ends_on == last_day
            and term_rules.cancellation_end_date(contract.cancellation_arrived_on, contract.cancellation_wished_on)
            == last_day
        )
        _end(contract, last_day, "cancelled" if cancelled else "expired", audit.SYSTEM)
        ended += 1
    return ended


def _end(contract: Contract, last_day: date, reason: str, actor: audit.Actor) -> None:
    """Mark the contract ended after `last_day`; its company turns read-only (第28条2項)."""
    contract.ended_on = last_day
    contract.end_reason = reason
    contract.data_delete_on = retention_rules.post_termination_delete_on(last_day)
    company = contract.company
    if company.status != "deleted":
        company.status = "ended"
    audit.record(
        "contract.ended",
        actor,
        company_id=contract.company_id,
        detail={"reason": reason, "ended_on": last_day.isoformat(),
                "data_delete_on": contract.data_delete_on.isoformat(),
                "grounds": contract.termination_grounds or []},
    )
    _notify_ended(contract)
    db.session.flush()


def _notify_ended(contract: Contract) -> None:
    company = contract.company
    body = notify.render(
        "contract_ended.txt",
        company=company,
        contract=contract,
        reason=END_REASONS[contract.end_reason or "expired"],
        ended_on=japanese_date(contract.ended_on) if contract.ended_on else "",
        readable_until=japanese_date(contract.data_delete_on - timedelta(days=1)) if contract.data_delete_on else "",
        delete_on=japanese_date(contract.data_delete_on) if contract.data_delete_on else "",
    )
    notify.queue_to_contacts(company, "contract_ended", "ご利用契約の終了と今後のデータ削除について", body,
                             dedupe_key=f"contract-ended-{contract.id}")


def cancellation_requests(include_ended: bool = False) -> list[Contract]:
    """Contracts with a filed cancellation, soonest end first (staff list)."""
    query = select(Contract).where(Contract.cancellation_arrived_on.is_not(None))
    if not include_ended:
        query = query.where(Contract.ended_on.is_(None))
    return list(db.session.scalars(query.order_by(Contract.ends_on, Contract.id)))


def renew_and_end(today: date | None = None) -> dict[str, int]:
    """The daily cron's work: first end what is over, then renew what goes on."""
    today = today or today_jst()
    ended = end_contracts(today)
    renewed = renew_contracts(today)
    return {"ended": ended, "renewed": renewed}
