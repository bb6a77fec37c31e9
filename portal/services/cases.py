"""Cases (案件, R-CASE-1..3, R-CASE-5, R-STORE-4): the state machine, one function per transition.

    draft ──send──▶ waiting(party k) ──agree_and_sign──▶ [job sign_party] ──▶ waiting(k+1) …
                    … after the last party ──▶ [job seal_case] ──▶ complete
      ▲                 │  return_case (any party that has not signed; earlier signatures void)
      └── (edit) ◀── returned ──send──▶ waiting(party 1) on a new revision
    draft | waiting | returned ──withdraw (originator)──▶ withdrawn

Every transition takes the acting user, the case id and the version the user's page showed. It
answers NotFound for a case the user's company may not see (never revealing that it exists),
AccessDenied for a party that may not do this, StateConflict (409) for a stale version, a repeated
click or the wrong state — and changes nothing then. A transition moves `last_update`, refreshes the
purge date, writes the audit event and records any work (signing, mail) in the outbox: one
transaction, committed by the caller.

The signing jobs (`apply_signature`, `seal`) re-read everything and are idempotent: a second run
finds the party signed (or the case complete) and does nothing.
"""
from __future__ import annotations

import dataclasses
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from flask import current_app, render_template
from sqlalchemy import func, select
from sqlalchemy.orm.attributes import flag_modified

from portal.clock import jst_date, now_utc, today_jst
from portal.extensions import db
from portal.models import Case, Company, Delivery, Document, OutboxItem, Party, User
from portal.rules import validators
from portal.services import audit, certificates, contract_pdf, notify, outbox, retention, signing
from portal.services.audit import Actor
from portal.services.errors import AccessDenied, DomainError, NotFound, ReadOnlyAccount, StateConflict, ValidationFailed
from portal.services.search import visible_cases_clause
from portal.services.storage import get_store

MIN_PARTIES = 2
MAX_PARTIES = 9  # three rows of signature boxes on the last page
ATTACHMENT_LABELS = ("約款", "見積書", "図面", "その他")
MAIN_LABEL = "契約書"
ARTICLE19_ITEMS = contract_pdf.ARTICLE19_ITEMS
RETURN_REASON_MAX = 1000

# The statement a party agrees to before signing (建設業法第19条3項, 施行令第5条の5: the method is shown
# first). Versions are kept forever: a party's consent records the version it saw.
CONSENT_VERSION = "2026-1"
CONSENT_TEXTS: dict[str, str] = {
    "2026-1": (
        "当社は、この契約を書面の交付に代えて、Ukeoi（請負 電子契約）を用いた電磁的方法により締結することに"
        "同意します。\n"
        "・方法：契約書面をPDFファイルとし、各当事者が署名順に、当社の電子証明書による電子署名"
        "（PAdES形式、タイムスタンプ付き）を付します。全当事者の署名後、検証情報と文書タイムスタンプを付加します。\n"
        "・記録：締結した契約書面はUkeoiに保存され、各当事者はいつでも画面に表示し、印刷し、ダウンロードできます。"
        "署名後の改変は検出できます。\n"
        "この同意は、建設業法第19条第3項及び同法施行令第5条の5に基づくものです。"
    ),
}


class CertificateUnavailable(DomainError):
    """The signing company has no valid certificate (revoked, expired or never issued)."""

    status = 409

    def __init__(self, message: str = "貴社の電子証明書が失効しているか有効期限外のため、署名できません。"
                 "運営に証明書の再発行を依頼してください。"):
        super().__init__(message)


@dataclass
class CaseFields:
    """The items of 建設業法第19条1項 as entered in the form (money in int yen)."""

    title: str
    construction_name: str
    construction_site: str
    period_start: date
    period_end: date
    amount_excl_tax: int
    tax_amount: int
    amount_incl_tax: int
    payment_terms: str
    notes: str = ""
    checklist: dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class PartyProgress:
    position: int
    company_name: str
    status: str  # pending | signing | signed
    signed_at: datetime | None
    signer_name: str | None
    is_current: bool
    sign_error: str | None


@dataclass(frozen=True)
class SigningState:
    """What the signing-progress component shows (one case, seen by one company)."""

    case: Case
    parties: list[PartyProgress]
    phase: str  # idle | signing | sealing | complete | returned | withdrawn | draft
    polling: bool  # a job is at work: the component refreshes itself
    retrying: bool  # that job failed at least once and will run again
    can_agree: bool  # the viewer's company is the current party and may sign now
    my_party: Party | None


# ---------------------------------------------------------------------- reading


def actor_for(user: User) -> Actor:
    return Actor(user_id=user.id, company_id=user.company_id)


def visible_to(case: Case, company_id: int | None) -> bool:
    """R-STORE-4: a company sees a case it is party to; a counterparty only once a revision was sent to it
    (a party added after a return sees nothing until the case is sent again)."""
    if company_id is None:
        return False
    if case.originator_company_id == company_id:
        return True
    return bool(sent_revisions(case, company_id)) and any(p.company_id == company_id for p in case.parties)


def get_for_user(user: User, case_id: int) -> Case:
    """The case if the user's company may see it; NotFound otherwise (also for staff: see staff_get)."""
    case = db.session.get(Case, case_id)
    if case is None or not visible_to(case, user.company_id):
        raise NotFound("案件が見つかりません。")
    return case


def staff_get(case_id: int) -> Case:
    """Staff see a case's metadata for operations (R-STORE-4); content reads go through open_document."""
    case = db.session.get(Case, case_id)
    if case is None:
        raise NotFound("案件が見つかりません。")
    return case


def party_of(case: Case, company_id: int | None) -> Party | None:
    return next((p for p in case.parties if p.company_id == company_id), None)


def current_party(case: Case) -> Party | None:
    if case.status != "waiting" or case.current_position is None:
        return None
    return next((p for p in case.parties if p.position == case.current_position), None)


def current_documents(case: Case, revision: int | None = None) -> tuple[Document | None, list[Document]]:
    """(main contract, attachments) of the case's current revision (or of `revision`)."""
    revision = case.revision if revision is None else revision
    docs = [d for d in case.documents if d.revision == revision and d.removed_at is None]
    main = next((d for d in docs if d.role == "main"), None)
    return main, [d for d in docs if d.role == "attachment"]


def signing_base(case: Case, revision: int | None = None) -> Document | None:
    """The newest PDF of the current revision's (or `revision`'s) signature chain (prepared, then signed by 1..n)."""
    revision = case.revision if revision is None else revision
    chain = [d for d in case.documents if d.revision == revision and d.role in ("prepared", "signed")]
    if not chain:
        return None
    return max(chain, key=lambda d: (d.signed_by_position or 0, d.id))


def final_document(case: Case) -> Document | None:
    """The PAdES B-LTA file of a complete case (what parties download and the evidence package holds)."""
    return next((d for d in reversed(case.documents) if d.role == "sealed"), None)


def contract_document(case: Case, revision: int | None = None) -> Document | None:
    """The contract PDF to show: the sealed file, else the newest signed/prepared one, else the draft's main
    (of the current revision, or of `revision`)."""
    revision = case.revision if revision is None else revision
    final = final_document(case)
    if final is not None and final.revision == revision:
        return final
    return signing_base(case, revision) or current_documents(case, revision)[0]


def sent_revisions(case: Case, company_id: int | None) -> set[int]:
    """The revisions of the case that were sent to the company (R-STORE-4)."""
    return {d.revision for d in case.deliveries if d.company_id == company_id}


def revision_shown_to(case: Case, company_id: int | None) -> int | None:
    """The revision a company's case page shows: the originator its current one (draft included), another
    party the newest revision sent to it — not the originator's edits after a return — or None."""
    if case.originator_company_id == company_id:
        return case.revision
    return max(sent_revisions(case, company_id), default=None)


@dataclass(frozen=True)
class ShownDocuments:
    """The files a company's case page lists (R-STORE-4): all None/empty before any was sent to it."""

    contract: Document | None = None  # what the page shows and the signed-PDF link downloads
    main: Document | None = None
    attachments: list[Document] = field(default_factory=list)
    final: Document | None = None  # the B-LTA file, when that is the contract shown


def documents_shown_to(case: Case, company_id: int | None) -> ShownDocuments:
    """The documents of `revision_shown_to` (every one of them is in `readable_documents`)."""
    revision = revision_shown_to(case, company_id)
    if revision is None:
        return ShownDocuments()
    main, attachments = current_documents(case, revision)
    contract = contract_document(case, revision)
    final = contract if contract is not None and contract.role == "sealed" else None
    return ShownDocuments(contract=contract, main=main, attachments=attachments, final=final)


def readable_documents(case: Case, company_id: int | None) -> list[Document]:
    """R-STORE-4: the documents a company's users may open. The originator: every file of its case. Another
    party: the files of the revisions sent to it, as they were sent (its signed and sealed files included);
    never a draft's removed or replaced file, nor a revision it was not sent."""
    if case.originator_company_id == company_id:
        return list(case.documents)
    sent = sent_revisions(case, company_id)
    return [d for d in case.documents if d.revision in sent and d.removed_at is None]


def _last_outbox(kind: str, ref_id: int) -> OutboxItem | None:
    return db.session.scalar(
        select(OutboxItem).where(OutboxItem.kind == kind, OutboxItem.ref_id == ref_id).order_by(OutboxItem.id.desc())
    )


def signing_state(case: Case, company_id: int | None) -> SigningState:
    parties = [
        PartyProgress(
            position=p.position,
            company_name=p.company_name,
            status=p.status,
            signed_at=p.signed_at,
            signer_name=p.signer_name,
            is_current=case.status == "waiting" and p.position == case.current_position,
            sign_error=p.sign_error,
        )
        for p in case.parties
    ]
    mine = party_of(case, company_id)
    signing_party = next((p for p in case.parties if p.status == "signing"), None)
    all_signed = bool(case.parties) and all(p.status == "signed" for p in case.parties)
    phase = case.status if case.status != "waiting" else "idle"
    item = None
    if case.status == "waiting" and signing_party is not None:
        phase, item = "signing", _last_outbox("sign", signing_party.id)
    elif case.status == "waiting" and all_signed:
        phase, item = "sealing", _last_outbox("seal", case.id)
    polling = phase in ("signing", "sealing")
    retrying = polling and item is not None and item.error is not None and item.status != "done"
    can_agree = (
        case.status == "waiting"
        and mine is not None
        and mine.position == case.current_position
        and mine.status == "pending"
    )
    return SigningState(case, parties, phase, polling, retrying, can_agree, mine)


def consent_text(version: str = CONSENT_VERSION) -> str:
    return CONSENT_TEXTS[version]


# ---------------------------------------------------------------------- party choice


def _normalize(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).strip()


def resolve_company(query: str) -> Company:
    """An active company chosen by 法人番号 (13 digits) or by its exact name (R-CASE-1).

    Raises ValidationFailed with a Japanese message naming candidates when the name is ambiguous.
    """
    text = _normalize(query).replace("-", "")
    if not text:
        raise ValidationFailed("法人番号または会社名を入力してください。")
    if re.fullmatch(r"[0-9]{13}", text):
        try:
            number = validators.corporate_number(text)
        except ValueError as exc:
            raise ValidationFailed(str(exc)) from exc
        company = db.session.scalar(
            select(Company).where(Company.corporate_number == number, Company.status == "active")
        )
        if company is None:
            raise ValidationFailed(
                "この法人番号の利用中の契約者は見つかりません。相手方にUkeoiの利用申込をご案内ください。"
            )
        return company
    wanted = _normalize(query)
    active = select(Company).where(Company.status == "active")
    exact = [c for c in db.session.scalars(active.where(Company.name == query.strip())) if _normalize(c.name) == wanted]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        raise ValidationFailed("同じ名前の契約者が複数あります。法人番号で指定してください。")
    similar = list(db.session.scalars(active.where(Company.name.icontains(query.strip(), autoescape=True)).limit(6)))
    if len(similar) == 1 and _normalize(similar[0].name) == wanted:
        return similar[0]
    if similar:
        names = "、".join(f"{c.name}（{c.corporate_number}）" for c in similar[:5])
        raise ValidationFailed(f"候補：{names}。法人番号または正確な会社名で指定してください。")
    raise ValidationFailed("この名前の利用中の契約者は見つかりません。法人番号で指定してください。")


def _check_parties(company_ids: Sequence[int], originator_id: int) -> list[Company]:
    if len(company_ids) < MIN_PARTIES:
        raise ValidationFailed("当事者は2社以上必要です。")
    if len(company_ids) > MAX_PARTIES:
        raise ValidationFailed(f"当事者は{MAX_PARTIES}社までです。")
    if len(set(company_ids)) != len(company_ids):
        raise ValidationFailed("同じ会社を二度指定することはできません。")
    if originator_id not in company_ids:
        raise ValidationFailed("自社を当事者のいずれかの順番に含めてください。")
    companies = {c.id: c for c in db.session.scalars(select(Company).where(Company.id.in_(company_ids)))}
    result = []
    for company_id in company_ids:
        company = companies.get(company_id)
        if company is None or company.status != "active":
            raise ValidationFailed("利用中でない会社は当事者にできません。")
        result.append(company)
    return result


def _check_fields(fields: CaseFields) -> None:
    problems = []
    for name, label in (
        ("title", "件名"),
        ("construction_name", "工事名"),
        ("construction_site", "工事場所"),
        ("payment_terms", "支払方法及び時期"),
    ):
        if not (getattr(fields, name) or "").strip():
            problems.append(f"{label}を入力してください。")
    if fields.period_end < fields.period_start:
        problems.append("工期の完成日は着手日以降にしてください。")
    for value in (fields.amount_excl_tax, fields.tax_amount, fields.amount_incl_tax):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append("金額は0以上の整数（円）で入力してください。")
            break
    else:
        if fields.amount_excl_tax + fields.tax_amount != fields.amount_incl_tax:
            problems.append("税込金額は税抜金額と消費税額の合計と一致させてください。")
    unknown = set(fields.checklist) - set(ARTICLE19_ITEMS)
    if unknown:
        problems.append("不明なチェック項目があります。")
    if problems:
        raise ValidationFailed(" ".join(problems))


def _apply_fields(case: Case, fields: CaseFields) -> None:
    case.title = fields.title.strip()
    case.construction_name = fields.construction_name.strip()
    case.construction_site = fields.construction_site.strip()
    case.period_start = fields.period_start
    case.period_end = fields.period_end
    case.amount_excl_tax = fields.amount_excl_tax
    case.tax_amount = fields.tax_amount
    case.amount_incl_tax = fields.amount_incl_tax
    case.payment_terms = fields.payment_terms.strip()
    case.notes = (fields.notes or "").strip()
    case.checklist = {key: bool(fields.checklist.get(key)) for key in ARTICLE19_ITEMS}


def fields_of(case: Case) -> CaseFields:
    """The case's items as the form edits them (the Case columns carry CaseFields' names)."""
    values = {item.name: getattr(case, item.name) for item in dataclasses.fields(CaseFields)}
    return CaseFields(**{**values, "checklist": dict(case.checklist or {})})


def _set_parties(case: Case, companies: list[Company]) -> None:
    if case.parties:
        case.parties.clear()
        db.session.flush()  # delete the old rows before the new ones take their positions
    for position, company in enumerate(companies, start=1):
        case.parties.append(Party(company_id=company.id, position=position, company_name=company.name))


# ---------------------------------------------------------------------- checks shared by transitions


def _company_user(user: User) -> Company:
    if user.company_id is None or user.company is None:
        raise AccessDenied("案件は契約者のユーザーのみ操作できます。")
    company = user.company
    if company.is_read_only or company.status not in ("active", "suspended"):
        raise ReadOnlyAccount()
    return company


def _load(user: User, case_id: int, version: int | None, *, originator_only: bool = False) -> tuple[Case, Company]:
    """The case for a change: 404 unless visible, 403 for a read-only company or a non-originator (when
    required), 409 if the version the user saw is not the current one."""
    company = _company_user(user)
    case = get_for_user(user, case_id)
    if originator_only:
        _require_originator(case, company)
    if version is not None and case.version != version:
        raise StateConflict()
    return case, company


def _require_originator(case: Case, company: Company) -> None:
    if case.originator_company_id != company.id:
        raise AccessDenied("この操作は案件を作成した会社のみ行えます。")


def _require_status(case: Case, *statuses: str) -> None:
    if case.status not in statuses:
        raise StateConflict(f"案件の状態（{case.status_label}）ではこの操作はできません。")


def _touch(case: Case, now: datetime) -> None:
    case.last_update = now
    flag_modified(case, "last_update")  # always an UPDATE, so the version moves even at the same instant
    retention.refresh_purge_due(case)


# ---------------------------------------------------------------------- drafts


def get_for_edit(user: User, case_id: int) -> Case:
    """A case the user may edit now: 404 if not visible, 403 unless originator, 409 unless draft/returned."""
    case, _company = _load(user, case_id, None, originator_only=True)
    _require_status(case, "draft", "returned")
    return case


def create_draft(
    user: User,
    fields: CaseFields,
    party_company_ids: Sequence[int],
    *,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Case:
    """A new case in 下書き with the parties in signing order (two: 契約文書登録; three+: ３社以上)."""
    company = _company_user(user)
    now = now or now_utc()
    companies = _check_parties(list(party_company_ids), company.id)
    _check_fields(fields)
    case = Case(
        number=f"tmp-{secrets.token_hex(8)}",
        originator_company_id=company.id,
        created_by_id=user.id,
        status="draft",
        created_at=now,
        last_update=now,
    )
    _apply_fields(case, fields)
    db.session.add(case)
    _set_parties(case, companies)
    db.session.flush()
    case.number = f"{jst_date(now).year}-{case.id:06d}"
    retention.refresh_purge_due(case)
    db.session.flush()
    audit.record(
        "created",
        actor or actor_for(user),
        case_id=case.id,
        case_number=case.number,
        detail={"parties": [c.id for c in companies]},
        now=now,
    )
    return case


def update_draft(
    user: User,
    case_id: int,
    version: int,
    fields: CaseFields,
    party_company_ids: Sequence[int] | None = None,
    *,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Case:
    """Edit a draft or a returned case (originator only); optionally change the parties and their order."""
    case, company = _load(user, case_id, version, originator_only=True)
    _require_status(case, "draft", "returned")
    now = now or now_utc()
    _check_fields(fields)
    _apply_fields(case, fields)
    changed_parties = False
    if party_company_ids is not None and list(party_company_ids) != [p.company_id for p in case.parties]:
        companies = _check_parties(list(party_company_ids), company.id)
        _set_parties(case, companies)
        changed_parties = True
    _touch(case, now)
    db.session.flush()
    audit.record(
        "edited",
        actor or actor_for(user),
        case_id=case.id,
        case_number=case.number,
        detail={"parties_changed": changed_parties},
        now=now,
    )
    return case


def _safe_filename(name: str | None, default: str) -> str:
    name = unicodedata.normalize("NFKC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?').strip(" .")
    if not name:
        name = default
    if not name.lower().endswith(".pdf"):
        name += ".pdf"
    return name[-200:]


def _store_document(case: Case, data: bytes, *, role: str, label: str, filename: str, page_count: int,
                    now: datetime, revision: int | None = None, signed_by_position: int | None = None) -> Document:
    """Bytes go to the store first (under their SHA-256); only then does a row reference them."""
    return _add_document(case, get_store().put(data), len(data), role=role, label=label, filename=filename,
                         page_count=page_count, now=now, revision=revision, signed_by_position=signed_by_position)


def _add_document(case: Case, digest: str, size: int, *, role: str, label: str, filename: str, page_count: int,
                  now: datetime, revision: int | None = None, signed_by_position: int | None = None) -> Document:
    """The row of an object already in the store."""
    doc = Document(
        role=role,
        label=label,
        filename=filename,
        sha256=digest,
        size=size,
        page_count=page_count,
        revision=case.revision if revision is None else revision,
        signed_by_position=signed_by_position,
        created_at=now,
    )
    case.documents.append(doc)
    db.session.flush()
    return doc


def attach_document(
    user: User,
    case_id: int,
    version: int,
    data: bytes,
    filename: str | None,
    *,
    kind: str,
    label: str | None = None,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Document:
    """Add the main contract PDF (replacing the previous one) or an attachment (約款, 見積書, 図面, その他).

    The bytes must be a real, unencrypted, unsigned PDF with pages, within UPLOAD_MAX_BYTES
    (checked by parsing); otherwise ValidationFailed and nothing is stored.
    """
    case, company = _load(user, case_id, version, originator_only=True)
    _require_status(case, "draft", "returned")
    if kind == "main":
        label = MAIN_LABEL
    elif kind == "attachment":
        if label not in ATTACHMENT_LABELS:
            raise ValidationFailed("添付書類の種類を選択してください。")
    else:
        raise ValidationFailed("書類の種類が正しくありません。")
    try:
        info = signing.inspect_upload(data, current_app.config["UPLOAD_MAX_BYTES"])
    except signing.InvalidPdf as exc:
        raise ValidationFailed(exc.message_ja) from exc
    now = now or now_utc()
    replaced = None
    if kind == "main":
        replaced, _ = current_documents(case)
        if replaced is not None:
            replaced.removed_at = now
    doc = _store_document(case, data, role=kind, label=label, filename=_safe_filename(filename, label),
                          page_count=info.page_count, now=now)
    _touch(case, now)
    db.session.flush()
    audit.record(
        "document_added",
        actor or actor_for(user),
        case_id=case.id,
        case_number=case.number,
        detail={"document_id": doc.id, "role": kind, "label": label, "sha256": doc.sha256,
                "replaced": replaced.id if replaced else None},
        now=now,
    )
    return doc


def remove_document(
    user: User, case_id: int, version: int, document_id: int, *, actor: Actor | None = None,
    now: datetime | None = None,
) -> Document:
    """Take a document off a draft (the row and bytes stay as evidence, marked removed)."""
    case, company = _load(user, case_id, version, originator_only=True)
    _require_status(case, "draft", "returned")
    main, attachments = current_documents(case)
    doc = next((d for d in [main, *attachments] if d is not None and d.id == document_id), None)
    if doc is None:
        raise NotFound("書類が見つかりません。")
    now = now or now_utc()
    doc.removed_at = now
    _touch(case, now)
    db.session.flush()
    audit.record("document_removed", actor or actor_for(user), case_id=case.id, case_number=case.number,
                 detail={"document_id": doc.id}, now=now)
    return doc


def contract_content(case: Case, today: date | None = None) -> contract_pdf.ContractContent:
    companies = {c.id: c for c in db.session.scalars(
        select(Company).where(Company.id.in_([p.company_id for p in case.parties])))}
    lines = []
    for party in case.parties:
        company = companies[party.company_id]
        lines.append(contract_pdf.PartyLine(
            name=company.name,
            address=f"〒{company.postal_code} {company.address}",
            representative=f"{company.representative_title} {company.representative_name}",
        ))
    return contract_pdf.ContractContent(
        case_number=case.number, parties=lines, created_on=today or today_jst(), **dataclasses.asdict(fields_of(case))
    )


def generate_contract_document(
    user: User, case_id: int, version: int, *, actor: Actor | None = None, now: datetime | None = None,
) -> Document:
    """Write the 工事請負契約書 from the case's fields and make it the main contract PDF."""
    case, company = _load(user, case_id, version, originator_only=True)
    _require_status(case, "draft", "returned")
    now = now or now_utc()
    pdf = contract_pdf.render(contract_content(case, jst_date(now)))
    info = signing.inspect_upload(pdf, max(current_app.config["UPLOAD_MAX_BYTES"], len(pdf)))
    replaced, _ = current_documents(case)
    if replaced is not None:
        replaced.removed_at = now
    doc = _store_document(case, pdf, role="main", label=MAIN_LABEL, filename=f"{case.number}_工事請負契約書.pdf",
                          page_count=info.page_count, now=now)
    _touch(case, now)
    db.session.flush()
    audit.record("document_generated", actor or actor_for(user), case_id=case.id, case_number=case.number,
                 detail={"document_id": doc.id, "sha256": doc.sha256}, now=now)
    return doc


# ---------------------------------------------------------------------- sending and signing


def send(user: User, case_id: int, version: int, *, actor: Actor | None = None, now: datetime | None = None) -> Case:
    """下書き/差戻し → 署名待ち: prepare every party's signature field on the main PDF and notify party 1."""
    case, company = _load(user, case_id, version, originator_only=True)
    _require_status(case, "draft", "returned")
    now = now or now_utc()
    main, _attachments = current_documents(case)
    if main is None:
        raise ValidationFailed("契約書のPDFを登録するか、入力内容から作成してから送信してください。")
    _check_fields(fields_of(case))
    inactive = [p.company_name for p in case.parties if p.company.status != "active"]
    if inactive:
        raise ValidationFailed(f"利用中でない当事者があるため送信できません：{'、'.join(inactive)}")
    for party in case.parties:
        party.company_name = party.company.name  # as the company is named when the contract is sent
        _reset_party(party)
    names = [p.company_name for p in case.parties]
    prepared_pdf = signing.prepare_signature_fields(get_store().get(main.sha256), names)
    prepared = _store_document(case, prepared_pdf, role="prepared", label=MAIN_LABEL, filename=main.filename,
                               page_count=main.page_count, now=now)
    # What each party may read from now on: this revision, as it is now (R-STORE-4).
    for party in case.parties:
        case.deliveries.append(Delivery(revision=case.revision, company_id=party.company_id, sent_at=now))
    case.status = "waiting"
    case.current_position = 1
    case.sent_at = now
    case.return_reason = None
    case.returned_by_company_id = None
    _touch(case, now)
    db.session.flush()
    audit.record("sent", actor or actor_for(user), case_id=case.id, case_number=case.number,
                 detail={"revision": case.revision, "document_id": prepared.id, "sha256": prepared.sha256}, now=now)
    _notify_turn(case, now)
    return case


def _reset_party(party: Party) -> None:
    party.status = "pending"
    party.consent_text_version = None
    party.consented_at = None
    party.consented_by_id = None
    party.signed_at = None
    party.signer_name = None
    party.certificate_serial = None
    party.sign_error = None


def agree_and_sign(
    user: User,
    case_id: int,
    version: int,
    consent_version: str,
    *,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Party:
    """The current party agrees (consent recorded with the statement's version) and asks for its signature.

    Records the intent in the outbox in this transaction; the RQ job `sign_party` signs after commit.
    """
    case, company = _load(user, case_id, version)
    _require_status(case, "waiting")
    party = party_of(case, company.id)
    if party is None:
        raise NotFound("案件が見つかりません。")
    if party.position != case.current_position:
        raise StateConflict("現在は貴社の署名の順番ではありません。")
    if party.status != "pending":
        raise StateConflict("署名はすでに受け付けています。")
    if consent_version != CONSENT_VERSION:
        raise StateConflict("同意事項の内容が更新されました。画面を再読み込みして内容を確認してください。")
    now = now or now_utc()
    if certificates.active_for(company.id, now) is None:
        raise CertificateUnavailable()
    party.status = "signing"
    party.consent_text_version = consent_version
    party.consented_at = now
    party.consented_by_id = user.id
    party.signer_name = user.name
    party.sign_error = None
    _touch(case, now)
    db.session.flush()
    outbox.add("sign", party.id, {"case_id": case.id, "revision": case.revision})
    audit.record("consented", actor or actor_for(user), case_id=case.id, case_number=case.number,
                 detail={"position": party.position, "consent_version": consent_version}, now=now)
    return party


def apply_signature(party_id: int, now: datetime | None = None) -> str:
    """Job side of agree_and_sign: sign the newest PDF with the party's certificate (PAdES B-T).

    Returns what happened: "signed", "refused" (no valid certificate: the party goes back to pending
    with the reason), or "skipped" (nothing to do: already signed, returned, withdrawn or purged).
    Raises when the work could not be done now (TSA down, store error): the caller rolls back and
    the job is retried, the party still 'signing'.
    """
    party = db.session.get(Party, party_id)
    if party is None:
        return "skipped"
    case = party.case
    if case.status != "waiting" or party.status != "signing" or case.current_position != party.position:
        return "skipped"
    now = now or now_utc()
    base = signing_base(case)
    if base is None or (base.signed_by_position or 0) != party.position - 1:
        raise RuntimeError(f"case {case.id}: signature chain does not end at party {party.position - 1}")
    certificate = certificates.active_for(party.company_id, now)
    if certificate is None:
        party.status = "pending"
        party.sign_error = CertificateUnavailable().message
        _touch(case, now)
        db.session.flush()
        audit.record("sign_refused", Actor(user_id=party.consented_by_id, company_id=party.company_id),
                     case_id=case.id, case_number=case.number,
                     detail={"position": party.position, "reason": "no valid certificate"}, now=now)
        return "refused"
    signer = certificates.pki().signer_for(certificate.cert_pem, certificate.key_pem_encrypted or b"")
    stamp = signing.StampText(company=party.company_name, signer_name=party.signer_name or "", signed_at=now)
    store = get_store()
    # File to file: a large contract is never held in the job's memory whole.
    with store.open(base.sha256) as source, store.new_object() as signed:
        signing.sign_into(source, signed.file, party.position, len(case.parties), signer,
                          certificates.timestamper(), stamp)
    doc = _add_document(case, signed.digest, signed.size, role="signed", label=MAIN_LABEL, filename=base.filename,
                        page_count=base.page_count, now=now, signed_by_position=party.position)
    party.status = "signed"
    party.signed_at = now
    party.certificate_serial = certificate.serial
    last = party.position == len(case.parties)
    case.current_position = None if last else party.position + 1
    _touch(case, now)
    db.session.flush()
    audit.record("signed", Actor(user_id=party.consented_by_id, company_id=party.company_id),
                 case_id=case.id, case_number=case.number,
                 detail={"position": party.position, "certificate_serial": certificate.serial,
                         "document_id": doc.id, "sha256": doc.sha256}, now=now)
    if last:
        outbox.add("seal", case.id, {"revision": case.revision})
    else:
        _notify_turn(case, now)
    return "signed"


def seal(case_id: int, now: datetime | None = None) -> str:
    """Job after the last signature: DSS + document timestamp (PAdES B-LTA), then 完了. Idempotent."""
    case = db.session.get(Case, case_id)
    if case is None or case.status != "waiting" or not all(p.status == "signed" for p in case.parties):
        return "skipped"
    now = now or now_utc()
    base = signing_base(case)
    if base is None or base.signed_by_position != len(case.parties):
        raise RuntimeError(f"case {case.id}: the last signature is missing")
    # Each party's certificate is judged at its own signing time (a later reissue cannot strand the case).
    context_at = certificates.sealing_contexts()
    store = get_store()
    with store.open(base.sha256) as source, store.new_object() as sealed:
        signing.seal_lta_into(source, sealed.file, context_at, certificates.timestamper(),
                              certificates.sealing_revocation())
    doc = _add_document(case, sealed.digest, sealed.size, role="sealed", label=MAIN_LABEL, filename=base.filename,
                        page_count=base.page_count, now=now, signed_by_position=base.signed_by_position)
    case.status = "complete"
    case.current_position = None
    case.completed_at = now
    case.completed_on = jst_date(now)
    case.contract_date = case.completed_on
    _touch(case, now)
    db.session.flush()
    audit.record("completed", case_id=case.id, case_number=case.number,
                 detail={"document_id": doc.id, "sha256": doc.sha256}, now=now)
    _notify_all(case, "case_completed", "契約が締結されました", now)
    return "sealed"


def sign_pending_now(case_id: int, now: datetime | None = None) -> int:
    """Do the case's pending signing and sealing work in this process and transaction (demo data, CLI,
    benchmarks), instead of waiting for the worker. Returns how many intents it did; the jobs enqueued
    for them after commit then find nothing to do."""
    done = 0
    while True:
        party_ids = select(Party.id).where(Party.case_id == case_id)
        item = db.session.scalar(
            select(OutboxItem)
            .where(OutboxItem.status == "pending",
                   ((OutboxItem.kind == "sign") & OutboxItem.ref_id.in_(party_ids))
                   | ((OutboxItem.kind == "seal") & (OutboxItem.ref_id == case_id)))
            .order_by(OutboxItem.id)
        )
        if item is None:
            return done
        if item.kind == "sign":
            apply_signature(item.ref_id, now=now)
        else:
            seal(item.ref_id, now=now)
        outbox.finish(item, now=now)
        db.session.flush()
        done += 1


# ---------------------------------------------------------------------- return and withdrawal


def return_case(
    user: User,
    case_id: int,
    version: int,
    reason: str,
    *,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> Case:
    """差戻し: a party that has not signed sends the case back with a reason; earlier signatures are void.

    The case gets a new revision holding the same documents; the originator edits and re-sends it.
    """
    case, company = _load(user, case_id, version)
    _require_status(case, "waiting")
    party = party_of(case, company.id)
    if party is None:
        raise NotFound("案件が見つかりません。")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("差戻しの理由を入力してください。")
    if len(reason) > RETURN_REASON_MAX:
        raise ValidationFailed(f"差戻しの理由は{RETURN_REASON_MAX}文字以内で入力してください。")
    if party.status != "pending":
        raise StateConflict("署名済み又は署名処理中の当事者は差戻しできません。")
    if any(p.status == "signing" for p in case.parties):
        raise StateConflict("署名処理中のため、完了するまで差戻しできません。")
    now = now or now_utc()
    voided = [p.position for p in case.parties if p.status == "signed"]
    main, attachments = current_documents(case)
    case.revision += 1
    for doc in [main, *attachments]:
        if doc is not None:  # the new revision starts from the same files (same hashes, new rows)
            case.documents.append(Document(role=doc.role, label=doc.label, filename=doc.filename, sha256=doc.sha256,
                                           size=doc.size, page_count=doc.page_count, revision=case.revision,
                                           created_at=now))
    for p in case.parties:
        _reset_party(p)
    case.status = "returned"
    case.current_position = None
    case.return_reason = reason
    case.returned_by_company_id = company.id
    _touch(case, now)
    db.session.flush()
    audit.record("returned", actor or actor_for(user), case_id=case.id, case_number=case.number,
                 detail={"reason": reason, "position": party.position, "voided_signatures": voided,
                         "new_revision": case.revision}, now=now)
    _notify_all(case, "case_returned", "案件が差し戻されました", now)
    return case


def withdraw(user: User, case_id: int, version: int, *, actor: Actor | None = None,
             now: datetime | None = None) -> Case:
    """取消: the originator withdraws a case before completion (not while a signature is being applied)."""
    case, company = _load(user, case_id, version, originator_only=True)
    _require_status(case, "draft", "waiting", "returned")
    if any(p.status == "signing" for p in case.parties):
        raise StateConflict("署名処理中のため、完了するまで取り消せません。")
    if case.status == "waiting" and all(p.status == "signed" for p in case.parties):
        raise StateConflict("全当事者の署名が済んでいるため取り消せません。")
    now = now or now_utc()
    was_sent = case.sent_at is not None
    case.status = "withdrawn"
    case.current_position = None
    case.withdrawn_at = now
    _touch(case, now)
    db.session.flush()
    audit.record("withdrawn", actor or actor_for(user), case_id=case.id, case_number=case.number, now=now)
    if was_sent:
        _notify_all(case, "case_withdrawn", "案件が取り消されました", now)
    return case


# ---------------------------------------------------------------------- documents


def open_document(
    user: User,
    case_id: int,
    document_id: int,
    *,
    disposition: str = "inline",
    actor: Actor | None = None,
    now: datetime | None = None,
) -> tuple[Document, bytes]:
    """The bytes of one of the case's PDFs that the user's company may read (`readable_documents`; any other
    id is NotFound); records "viewed" or "downloaded"."""
    case = get_for_user(user, case_id)
    return _open(case, document_id, "downloaded" if disposition == "attachment" else "viewed",
                 actor or actor_for(user), now, readable_documents(case, user.company_id))


def staff_open_document(staff: User, case_id: int, document_id: int, *, actor: Actor | None = None,
                        now: datetime | None = None) -> tuple[Document, bytes]:
    """Staff reading a contract's content: allowed for operations, always logged (R-STORE-4)."""
    if not staff.is_staff:
        raise AccessDenied()
    case = staff_get(case_id)
    return _open(case, document_id, "staff_viewed", actor or Actor(user_id=staff.id), now, case.documents)


def _open(case: Case, document_id: int, action: str, actor: Actor, now: datetime | None,
          readable: Sequence[Document]) -> tuple[Document, bytes]:
    doc = next((d for d in readable if d.id == document_id), None)
    if doc is None:
        raise NotFound("書類が見つかりません。")
    data = get_store().get(doc.sha256)
    audit.record(action, actor, case_id=case.id, case_number=case.number,
                 detail={"document_id": doc.id, "sha256": doc.sha256}, now=now)
    return doc, data


# ---------------------------------------------------------------------- notifications (R-CASE-5)


def _recipients(company_id: int) -> list[User]:
    return list(db.session.scalars(
        select(User).where(User.company_id == company_id, User.active.is_(True), User.role.in_(("contact", "member")))
        .order_by(User.id)
    ))


def _queue_for_company(case: Case, company_id: int, kind: str, subject: str, key: str, now: datetime,
                       **context) -> None:
    url = notify.public_url("cases.detail", case_id=case.id)
    for user in _recipients(company_id):
        body = render_template(f"cases/mail/{kind}.txt", case=case, user=user, url=url, **context).strip() + "\n"
        notify.queue(kind, user.email, f"{subject}（{case.number} {case.title}）", body, company_id=company_id,
                     case_id=case.id, dedupe_key=f"{key}:u{user.id}"[:120], now=now)


def _notify_turn(case: Case, now: datetime) -> None:
    party = current_party(case)
    if party is None:
        return
    _queue_for_company(case, party.company_id, "case_turn", "署名の順番になりました",
                       f"case:{case.id}:turn:r{case.revision}:p{party.position}", now, party=party)


def _notify_all(case: Case, kind: str, subject: str, now: datetime) -> None:
    for party in case.parties:
        if not visible_to(case, party.company_id):
            continue  # a party added after a return hears of the case only once it is sent to it
        _queue_for_company(case, party.company_id, kind, subject,
                           f"case:{case.id}:{kind}:r{case.revision}", now, party=party)


# ---------------------------------------------------------------------- small queries


def count_by_status(company_id: int) -> dict[str, int]:
    """Cases the company sees, by status (home page counters)."""
    rows = db.session.execute(
        select(Case.status, func.count()).where(visible_cases_clause(company_id)).group_by(Case.status)
    ).all()
    return {status: count for status, count in rows}
