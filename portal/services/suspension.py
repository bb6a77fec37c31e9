"""Staff suspend a company's use of the portal and lift the suspension (R-ADM-1; 第10条3項, 第19条3項,
第25条). Suspension is the lighter measure next to terminating the contract (contracts.terminate).

While suspended, the company's IDs either may still log in to look and download ("readonly": every
change and signature is refused, as for an ended contract) or may not log in at all ("blocked": their
sessions end at once; accounts.refusal_reason keeps them out). Each step names its grounds from
第25条1項 or 第19条1項, carries a note for the record, lands in the audit trail and is mailed to the
company's contact persons. The grounds and note live in the audit event; `current` reads them back.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from portal.clock import japanese_date, jst_date, now_utc
from portal.extensions import db
from portal.models import AuditEvent, Company, User
from portal.services import audit, notify
from portal.services.accounts import end_all_sessions
from portal.services.contracts import TERMINATION_GROUNDS, check_grounds
from portal.services.errors import AccessDenied, StateConflict, ValidationFailed

MODES = {
    "readonly": "閲覧・ダウンロードのみ可（変更・署名はできません）",
    "blocked": "ログイン不可",
}
SUSPENDED = "company.suspended"
LIFTED = "company.suspension_lifted"


@dataclass(frozen=True)
class Suspension:
    """The suspension in force: how, since when, and on which grounds (labels of 第25条1項 / 第19条1項)."""

    mode: str
    since: date | None  # None: suspended before suspensions were recorded this way
    grounds: list[str]
    note: str


def suspend(company: Company, mode: str, grounds: list[str], note: str, staff: User,
            actor: audit.Actor | None = None, now: datetime | None = None) -> None:
    """Suspend the company, or change how an existing suspension restricts it. Flushes."""
    now = now or now_utc()
    _require_staff(staff)
    if mode not in MODES:
        raise ValidationFailed("停止の種類を選んでください。")
    check_grounds(grounds, "停止")
    if company.status not in ("active", "suspended"):
        raise StateConflict("利用契約が終了した契約者は停止できません。")
    company.status = "suspended"
    company.suspension_mode = mode
    if mode == "blocked":
        for user in company.users:
            end_all_sessions(user, now)
    grounds = list(dict.fromkeys(grounds))
    audit.record(SUSPENDED, actor or audit.Actor(user_id=staff.id), company_id=company.id,
                 detail={"mode": mode, "grounds": grounds, "note": note.strip()}, now=now)
    _notify(company, "company_suspended", "ご利用の停止について", now, mode=MODES[mode],
            grounds=[TERMINATION_GROUNDS[g] for g in grounds])
    db.session.flush()


def lift(company: Company, note: str, staff: User, actor: audit.Actor | None = None,
         now: datetime | None = None) -> None:
    """End the suspension: the company is active again. Flushes."""
    now = now or now_utc()
    _require_staff(staff)
    if company.status != "suspended":
        raise StateConflict("この契約者は停止されていません。")
    company.status = "active"
    company.suspension_mode = None
    audit.record(LIFTED, actor or audit.Actor(user_id=staff.id), company_id=company.id,
                 detail={"note": note.strip()}, now=now)
    _notify(company, "company_suspension_lifted", "ご利用停止の解除について", now)
    db.session.flush()


def current(company: Company) -> Suspension | None:
    """The suspension in force, read from its latest audit event; None when the company is not suspended."""
    if company.status != "suspended":
        return None
    event = db.session.scalar(
        select(AuditEvent)
        .where(AuditEvent.company_id == company.id, AuditEvent.action == SUSPENDED)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    if event is None:
        return Suspension(company.suspension_mode or "blocked", None, [], "")
    detail = event.detail or {}
    return Suspension(
        mode=detail.get("mode", company.suspension_mode or "blocked"),
        since=jst_date(event.created_at),
        grounds=[TERMINATION_GROUNDS.get(g, g) for g in detail.get("grounds", [])],
        note=detail.get("note", ""),
    )


def _require_staff(user: User) -> None:
    if not user.is_staff:
        raise AccessDenied()


def _notify(company: Company, kind: str, subject: str, now: datetime, **context) -> None:
    day = jst_date(now)
    body = notify.render(f"{kind}.txt", company=company, day=japanese_date(day), **context)
    notify.queue_to_contacts(company, kind, subject, body, now=now)
