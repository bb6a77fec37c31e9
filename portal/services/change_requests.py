"""Change requests (R-ACC-3): 利用変更申込 for the contact person (第7条3項) and changes of the
registered items (第17条). The contact person submits; staff approve (the change is applied) or
reject with a note; every request stays as history for both sides.

A different 法人番号 is not a change: the contract and its rights cannot pass to another legal
person (第8条), so a new corporate number needs a new application. `submit` refuses it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import func, select

from portal.clock import now_utc
from portal.extensions import db
from portal.models import ChangeRequest, Company, User
from portal.rules import validators
from portal.services import audit
from portal.services.accounts import InvalidFields
from portal.services.audit import Actor
from portal.services.email_addresses import email_address
from portal.services.errors import AccessDenied, NotFound, StateConflict, ValidationFailed

KINDS = {"contact": "申請担当者の変更", "registration": "登録事項の変更"}
STATUS_LABELS = {"pending": "審査中", "approved": "承認済み", "rejected": "却下"}

# field -> Japanese label, in the order the forms and the review page show them.
CONTACT_FIELDS = {"name": "氏名", "department": "部署", "email": "メールアドレス", "phone": "電話番号"}
REGISTRATION_FIELDS = {
    "name": "商号",
    "name_kana": "商号（フリガナ）",
    "postal_code": "郵便番号",
    "address": "所在地",
    "representative_title": "代表者の役職",
    "representative_name": "代表者の氏名",
    "phone": "電話番号",
    "license_number": "建設業許可番号",
}
FIELDS = {"contact": CONTACT_FIELDS, "registration": REGISTRATION_FIELDS}

TRANSFER_REFUSAL = (
    "法人番号が異なる会社への変更はお受けできません。利用契約上の地位や権利は、他の会社へ譲り渡したり"
    "名義を変えたりすることができないためです（利用規約第8条）。別の法人としてご利用になる場合は、"
    "その法人で新たに利用申込をしてください。"
)


class TransferRefused(ValidationFailed):
    """A request that would move the contract to another legal person (第8条)."""

    field = "corporate_number"

    def __init__(self) -> None:
        super().__init__(TRANSFER_REFUSAL)


def _required_text(limit: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        text = " ".join(value.split())
        if not text:
            raise ValueError("入力してください")
        if len(text) > limit:
            raise ValueError(f"{limit}文字以内で入力してください")
        return text

    return check


def _optional_text(limit: int) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        text = " ".join(value.split())
        if len(text) > limit:
            raise ValueError(f"{limit}文字以内で入力してください")
        return text or None

    return check


_NORMALIZERS: dict[str, dict[str, Callable[[str], str | None]]] = {
    "contact": {
        "name": _required_text(100),
        "department": _optional_text(100),
        "email": email_address,
        "phone": validators.phone_number,
    },
    "registration": {
        "name": _required_text(200),
        "name_kana": validators.katakana,
        "postal_code": validators.postal_code,
        "address": _required_text(300),
        "representative_title": _required_text(100),
        "representative_name": _required_text(100),
        "phone": validators.phone_number,
        "license_number": validators.optional_construction_license_number,
    },
}


def current_values(kind: str, company: Company, contact: User) -> dict[str, str | None]:
    """What is registered now for the fields of `kind` (the form starts from these)."""
    target: object = contact if kind == "contact" else company
    return {field: getattr(target, field) for field in FIELDS[kind]}


def _check_corporate_number(company: Company, value: str | None) -> None:
    if value is None or not value.strip():
        return
    try:
        number = validators.corporate_number(value)
    except ValueError as exc:
        raise InvalidFields({"corporate_number": str(exc)}) from None
    if number != company.corporate_number:
        raise TransferRefused()


def submit(
    company: Company,
    requester: User,
    kind: str,
    data: Mapping[str, str | None],
    actor: Actor,
    now: datetime | None = None,
) -> ChangeRequest:
    """Record a change request of `kind` ("contact" or "registration") with the fields that differ.

    Raises TransferRefused for a different 法人番号, InvalidFields for bad or unchanged input, and
    StateConflict while a request of the same kind is still pending."""
    now = now or now_utc()
    if kind not in KINDS:
        raise NotFound("指定された変更の種類はありません。")
    if requester.company_id != company.id or requester.role != "contact":
        raise AccessDenied("変更の申込は申請担当者が行います。")
    if kind == "registration":
        _check_corporate_number(company, data.get("corporate_number"))
    old = current_values(kind, company, requester)
    errors: dict[str, str] = {}
    clean: dict[str, str | None] = {}
    for field, normalize in _NORMALIZERS[kind].items():
        raw = data.get(field)
        raw = raw.strip() if isinstance(raw, str) else ""
        if raw == (old[field] or ""):
            clean[field] = old[field]  # left as registered: not re-judged by today's rules
            continue
        try:
            clean[field] = normalize(raw)
        except ValueError as exc:
            errors[field] = str(exc)
    if errors:
        raise InvalidFields(errors)
    changes = {field: {"old": old[field], "new": new} for field, new in clean.items() if new != old[field]}
    if not changes:
        raise InvalidFields({"__all__": "変更された項目がありません。変更後の内容を入力してください。"})
    pending = db.session.scalar(
        select(ChangeRequest.id).where(
            ChangeRequest.company_id == company.id, ChangeRequest.kind == kind, ChangeRequest.status == "pending"
        )
    )
    if pending is not None:
        raise StateConflict(f"審査中の「{KINDS[kind]}」の申込があります。審査の結果をお待ちください。")
    request = ChangeRequest(
        company_id=company.id,
        requested_by_id=requester.id,
        kind=kind,
        changes=changes,
        status="pending",
        created_at=now,
    )
    db.session.add(request)
    db.session.flush()
    audit.record(
        "change_request.submitted",
        actor,
        company_id=company.id,
        detail={"change_request_id": request.id, "kind": kind, "fields": sorted(changes)},
        now=now,
    )
    return request


def history(company: Company) -> list[ChangeRequest]:
    """Every change request of the company, newest first."""
    return list(
        db.session.scalars(
            select(ChangeRequest)
            .where(ChangeRequest.company_id == company.id)
            .order_by(ChangeRequest.created_at.desc(), ChangeRequest.id.desc())
        )
    )


def for_review(status: str | None = "pending") -> list[ChangeRequest]:
    """Requests for the staff list; oldest pending first, or every request newest first."""
    query = select(ChangeRequest)
    if status:
        query = query.where(ChangeRequest.status == status).order_by(ChangeRequest.created_at, ChangeRequest.id)
    else:
        query = query.order_by(ChangeRequest.created_at.desc(), ChangeRequest.id.desc())
    return list(db.session.scalars(query.limit(500)))


def pending_count() -> int:
    return int(db.session.scalar(select(func.count()).where(ChangeRequest.status == "pending")) or 0)


def get(request_id: int) -> ChangeRequest:
    request = db.session.get(ChangeRequest, request_id)
    if request is None:
        raise NotFound("指定された変更申込が見つかりません。")
    return request


def _pending(request_id: int) -> ChangeRequest:
    request = get(request_id)
    if request.status != "pending":
        raise StateConflict("この変更申込は既に審査済みです。")
    return request


def approve(
    request_id: int, reviewer: User, note: str | None, actor: Actor, now: datetime | None = None
) -> ChangeRequest:
    """Apply the requested values to the company (registration) or to the requesting contact user."""
    now = now or now_utc()
    request = _pending(request_id)
    target: object = db.session.get(User, request.requested_by_id) if request.kind == "contact" else request.company
    for field, change in request.changes.items():
        setattr(target, field, change["new"])
    _close(request, "approved", reviewer, note, actor, now)
    return request


def reject(
    request_id: int, reviewer: User, note: str | None, actor: Actor, now: datetime | None = None
) -> ChangeRequest:
    """Refuse a request; the note (required) is shown to the company."""
    now = now or now_utc()
    request = _pending(request_id)
    if not (note or "").strip():
        raise InvalidFields({"note": "却下の理由を入力してください。申込者に表示されます。"})
    _close(request, "rejected", reviewer, note, actor, now)
    return request


def _close(request: ChangeRequest, status: str, reviewer: User, note: str | None, actor: Actor, now: datetime) -> None:
    from portal.services import notify

    request.status = status
    request.reviewed_by_id = reviewer.id
    request.reviewed_at = now
    request.review_note = (note or "").strip() or None
    audit.record(
        f"change_request.{status}",
        actor,
        company_id=request.company_id,
        detail={"change_request_id": request.id, "kind": request.kind},
        now=now,
    )
    requester = db.session.get(User, request.requested_by_id)
    if requester is not None:
        notify.queue(
            "change_request_reviewed",
            requester.email,
            f"【Ukeoi】{KINDS[request.kind]}の審査結果のお知らせ",
            notify.render(
                "change_request_reviewed.txt",
                request=request,
                requester=requester,
                kind_label=KINDS[request.kind],
                labels=FIELDS[request.kind],
            ),
            company_id=request.company_id,
            dedupe_key=f"change_request:{request.id}:{status}",
        )
    db.session.flush()
