"""利用申込 and its review (第6条, 第7条, 第11条; R-APP-1..3).

submit → (request_correction → resubmit)* → reject | accept. Status changes are conditional
UPDATEs, so two staff members acting on the same application at once cannot both succeed (the
second gets StateConflict). Mail goes through notify.queue(); the caller commits.
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date, datetime

from flask import current_app
from sqlalchemy import func, select, update

from portal.clock import now_utc
from portal.extensions import db
from portal.models import Application, Company, Contract, ContractTerm, SentNotice, User
from portal.rules import terms, validators
from portal.services import accounts, audit, certificates, notify
from portal.services.email_addresses import email_address
from portal.services.errors import StateConflict, ValidationFailed

# 第6条3項 (1)-(7): the grounds on which an application may be refused, in plain words for the
# applicant. The one place these labels live; forms, pages and mails read them from here.
REJECTION_GROUNDS: dict[int, str] = {
    1: "過去に、当社サービスの料金の不払いその他の契約違反を理由として契約を解除されたことがあるため",
    2: "利用申込書に事実と異なる記載、誤りまたは記入漏れがあったため、または申込企業の実在を確認できなかったため",
    3: "お支払いに使われる口座が、金融機関から利用停止などの処分を受けたことがあるため",
    4: "料金のお支払いその他の契約上の義務を果たしていただけないおそれがあるため",
    5: "以前のご契約で、料金のお支払いの遅れその他の規約違反があったため",
    6: "規約第19条（禁止行為）または第25条（提供停止および解除）に定める事由に当たるため",
    7: "その他、当社がご契約を適当でないと判断したため",
}

# Plans offered on the form (R-APP-1). Fees per plan belong to billing (第12条).
PLANS: dict[str, str] = {
    "standard": "スタンダード",
    "light": "ライト（少量のご利用向け）",
}

STATUS_LABELS: dict[str, str] = {
    "pending": "審査待ち",
    "correction_requested": "訂正依頼中",
    "rejected": "お断り",
    "accepted": "受諾済み",
}
OPEN_STATUSES = ("pending", "correction_requested")
ALREADY_SUBMITTED = (
    "このお申込みは既に受け付けています（受付番号 {receipt_number}）。同じ申込書をもう一度送ることはできません。"
    "審査の結果はメールでお知らせします。内容を変える場合は、受付番号を添えてお問い合わせください。"
)

# Receipt numbers: "R-" + 10 random characters without look-alikes (0/O, 1/I/L): 31**10 ≈ 8 × 10**14,
# so one cannot be guessed from another, and they say nothing about how many came before.
RECEIPT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RECEIPT_LENGTH = 10


@dataclass
class ApplicantData:
    """What the applicant enters on the 利用申込書 (R-APP-1, 第6条2項, 第7条2項)."""

    company_name: str
    company_name_kana: str
    corporate_number: str
    license_number: str | None
    postal_code: str
    address: str
    representative_name: str
    representative_title: str
    phone: str
    contact_name: str
    contact_department: str | None
    contact_email: str
    contact_phone: str
    plan: str

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_application(cls, application: Application) -> ApplicantData:
        return cls(**{name: getattr(application, name) for name in cls.field_names()})


@dataclass
class ReviewFindings:
    """R-APP-3: what the same 法人番号 has done before (第6条3項(1)(5))."""

    prior_terminations: list[Contract]
    existing_companies: list[Company]
    other_applications: list[Application]
    past_rejections: list[Application]

    @property
    def has_prior_default(self) -> bool:
        return bool(self.prior_terminations)

    @property
    def has_duplicate(self) -> bool:
        return bool(self.existing_companies or self.other_applications)


@dataclass
class Acceptance:
    company: Company
    contract: Contract
    user: User
    notice: SentNotice


# --- applicant side ---------------------------------------------------------------------------


def new_submission_token() -> str:
    """The one-time token a blank application form carries (kept hashed by the application it creates)."""
    return secrets.token_urlsafe(32)


def submit(
    data: ApplicantData,
    terms_version: str,
    antisocial_declared: bool,
    now: datetime | None = None,
    submission_token: str | None = None,
) -> Application:
    """Record a new application with a fresh receipt number and queue the confirmation mail.

    A form whose `submission_token` already made an application is refused (StateConflict) and
    nothing is recorded: the applicant pressed Back and sent the same form again.
    """
    now = now or now_utc()
    clean = normalize(data)
    _require_declarations(terms_version, antisocial_declared)
    token_hash = _submission_token_hash(submission_token)
    if token_hash is not None:
        earlier = db.session.scalar(select(Application).where(Application.submission_token_hash == token_hash))
        if earlier is not None:
            raise StateConflict(ALREADY_SUBMITTED.format(receipt_number=earlier.receipt_number))
    application = Application(
        submission_token_hash=token_hash,
        receipt_number=_new_receipt_number(),
        status="pending",
        antisocial_declared=True,
        terms_version=terms_version,
        consented_at=now,
        submitted_at=now,
        updated_at=now,
        **vars(clean),
    )
    db.session.add(application)
    db.session.flush()
    _mail_applicant(application, "application_received", "利用申込を受け付けました", now)
    return application


def _submission_token_hash(token: str | None) -> str | None:
    if not token:
        return None
    if len(token) > 200:
        raise ValidationFailed("申込画面の情報が正しくありません。画面を再読み込みしてやり直してください。")
    return _token_hash(token)


def duplicate_numbers(applications: list[Application]) -> set[str]:
    """The 法人番号 among `applications` that another open application or an existing company also has
    (R-APP-3), for flagging them in the staff list; two queries whatever the number of rows."""
    numbers = {a.corporate_number for a in applications}
    if not numbers:
        return set()
    open_rows = db.session.execute(
        select(Application.corporate_number, Application.id).where(
            Application.corporate_number.in_(numbers), Application.status.in_(OPEN_STATUSES)
        )
    ).all()
    ids_by_number: dict[str, set[int]] = {}
    for number, application_id in open_rows:
        ids_by_number.setdefault(number, set()).add(application_id)
    companies = db.session.scalars(
        select(Company).where(Company.corporate_number.in_(numbers), Company.status != "deleted")
    ).all()
    existing = {c.corporate_number for c in companies if c.contract is None or c.contract.ended_on is None}
    duplicates = set(existing)
    for a in applications:
        if ids_by_number.get(a.corporate_number, set()) - {a.id}:
            duplicates.add(a.corporate_number)
    return duplicates


def find_for_correction(token: str) -> Application | None:
    """The application a correction link points to, while the link is still unused."""
    if not token or len(token) > 200:
        return None
    return db.session.scalar(
        select(Application).where(
            Application.correction_token_hash == _token_hash(token), Application.status == "correction_requested"
        )
    )


def resubmit(
    application: Application,
    token: str,
    data: ApplicantData,
    terms_version: str,
    antisocial_declared: bool,
    now: datetime | None = None,
) -> Application:
    """The corrected application goes back to review; the link stops working (a replay is refused)."""
    now = now or now_utc()
    clean = normalize(data)
    _require_declarations(terms_version, antisocial_declared)
    result = db.session.execute(
        update(Application)
        .where(
            Application.id == application.id,
            Application.status == "correction_requested",
            Application.correction_token_hash == _token_hash(token),
        )
        .values(status="pending", correction_token_hash=None, updated_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StateConflict("この訂正用リンクは既に使われたか、無効になっています。")
    for name, value in vars(clean).items():
        setattr(application, name, value)
    application.antisocial_declared = True
    application.terms_version = terms_version
    application.consented_at = now
    db.session.flush()
    _mail_applicant(application, "application_resubmitted", "訂正後の利用申込を受け付けました", now)
    return application


def normalize(data: ApplicantData) -> ApplicantData:
    """Apply the R-APP-1 rules; raises ValidationFailed with the first problem (forms show each field's)."""
    try:
        return ApplicantData(
            company_name=_required(data.company_name, "会社名"),
            company_name_kana=validators.katakana(data.company_name_kana),
            corporate_number=validators.corporate_number(data.corporate_number),
            license_number=validators.optional_construction_license_number(data.license_number),
            postal_code=validators.postal_code(data.postal_code),
            address=_required(data.address, "所在地"),
            representative_name=_required(data.representative_name, "代表者の氏名"),
            representative_title=_required(data.representative_title, "代表者の役職"),
            phone=validators.phone_number(data.phone),
            contact_name=_required(data.contact_name, "申請担当者の氏名"),
            contact_department=(data.contact_department or "").strip() or None,
            contact_email=email_address(data.contact_email),
            contact_phone=validators.phone_number(data.contact_phone),
            plan=_plan(data.plan),
        )
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None


# --- staff side -------------------------------------------------------------------------------


def review_findings(application: Application) -> ReviewFindings:
    """R-APP-3: companies and applications with the same 法人番号.

    A contract with end_reason "terminated" was ended by us under 第25条 (non-payment or a breach of
    the terms), which is what 第6条3項(1) and (5) ask staff to weigh.
    """
    number = application.corporate_number
    companies = db.session.scalars(
        select(Company).where(Company.corporate_number == number).order_by(Company.id)
    ).all()
    terminated = [c.contract for c in companies if c.contract is not None and c.contract.end_reason == "terminated"]
    existing = [c for c in companies if c.status != "deleted" and (c.contract is None or c.contract.ended_on is None)]
    others = db.session.scalars(
        select(Application)
        .where(Application.corporate_number == number, Application.id != application.id)
        .order_by(Application.submitted_at.desc())
    ).all()
    return ReviewFindings(
        prior_terminations=terminated,
        existing_companies=existing,
        other_applications=[a for a in others if a.status in (*OPEN_STATUSES, "accepted")],
        past_rejections=[a for a in others if a.status == "rejected"],
    )


def request_correction(
    application: Application, note: str, staff_user: User, now: datetime | None = None
) -> SentNotice:
    """Ask the applicant to fix the application; queues the mail with a single-use correction link.

    The link's token is minted when the mail is sent (`mint_correction_token`) and only its SHA-256
    is stored; asking again voids the previous link at once. Returns the queued notice.
    """
    now = now or now_utc()
    note = (note or "").strip()
    if not note:
        raise ValidationFailed("訂正していただく内容を入力してください。")
    _transition(application, OPEN_STATUSES, "correction_requested", now, correction_token_hash=None)
    application.correction_note = note
    application.reviewed_by_id = staff_user.id
    db.session.flush()
    link = notify.SecretLink("correction", application.id)
    body = notify.render("correction_requested.txt", application=application, note=note, link=link.masked_url())
    notice = notify.queue(
        "correction_requested", application.contact_email, "利用申込内容の訂正のお願い", body, now=now, secret_link=link
    )
    audit.record(
        "application.correction_requested",
        audit.Actor(user_id=staff_user.id),
        detail={"application_id": application.id, "receipt_number": application.receipt_number},
        now=now,
    )
    return notice


def mint_correction_token(application_id: int, now: datetime) -> str:
    """notify's minter for "correction" links: a fresh token whose SHA-256 the application stores
    while it still waits for the correction (a retried delivery mints again, voiding the earlier one)."""
    token = secrets.token_urlsafe(32)
    db.session.execute(
        update(Application)
        .where(Application.id == application_id, Application.status == "correction_requested")
        .values(correction_token_hash=_token_hash(token))
        .execution_options(synchronize_session="fetch")
    )
    return token


def reject(
    application: Application,
    grounds: Iterable[int],
    note: str | None,
    staff_user: User,
    now: datetime | None = None,
) -> Application:
    """Refuse the application on one or more grounds of 第6条3項 (1)-(7); the applicant is told in plain words."""
    now = now or now_utc()
    codes = sorted({int(code) for code in grounds})
    if not codes:
        raise ValidationFailed("お断りの理由（第6条3項の各号）を1つ以上選んでください。")
    if any(code not in REJECTION_GROUNDS for code in codes):
        raise ValidationFailed("お断りの理由は第6条3項(1)〜(7)から選んでください。")
    _transition(application, OPEN_STATUSES, "rejected", now, correction_token_hash=None)
    application.rejection_grounds = codes
    application.rejection_note = (note or "").strip() or None
    application.reviewed_by_id = staff_user.id
    application.decided_at = now
    db.session.flush()
    body = notify.render(
        "application_rejected.txt",
        application=application,
        grounds=[(code, REJECTION_GROUNDS[code]) for code in codes],
        note=application.rejection_note,
    )
    notify.queue(
        "application_rejected",
        application.contact_email,
        "利用申込の審査結果のお知らせ",
        body,
        dedupe_key=f"application_rejected:{application.id}",
        now=now,
    )
    audit.record(
        "application.rejected",
        audit.Actor(user_id=staff_user.id),
        detail={"application_id": application.id, "receipt_number": application.receipt_number, "grounds": codes},
        now=now,
    )
    return application


def accept(
    application: Application,
    start_date: date,
    staff_user: User,
    now: datetime | None = None,
    *,
    login_id: str | None = None,
) -> Acceptance:
    """Conclude the 利用契約 (第6条2項, 第11条): company, contract from `start_date` with its first
    term, the company's signing certificate, the contact person's user ID, and the 利用受諾通知 with
    a single-use set-password link (R-ACC-1: no password travels by mail). Needs the portal's PKI
    (`flask portal init`).

    `login_id` is generated unless given (seed-demo gives it). Contract.acceptance_notified_at is
    recorded when the mail job has sent the notice (第3条).
    """
    now = now or now_utc()
    _transition(application, ("pending",), "accepted", now, correction_token_hash=None)
    company = Company(
        corporate_number=application.corporate_number,
        name=application.company_name,
        name_kana=application.company_name_kana,
        license_number=application.license_number,
        postal_code=application.postal_code,
        address=application.address,
        representative_name=application.representative_name,
        representative_title=application.representative_title,
        phone=application.phone,
        plan=application.plan,
        status="active",
        terms_version=application.terms_version,
        application_id=application.id,
        created_at=now,
    )
    db.session.add(company)
    db.session.flush()
    contract = Contract(company_id=company.id, start_date=start_date)
    db.session.add(contract)
    db.session.flush()
    db.session.add(ContractTerm(contract_id=contract.id, start_date=start_date, end_date=terms.term_end(start_date)))

    user = User(
        company_id=company.id,
        login_id=login_id or new_login_id(),
        name=application.contact_name,
        email=application.contact_email,
        department=application.contact_department,
        phone=application.contact_phone,
        role="contact",
        password_hash=accounts.unknown_password_hash(),  # usable once set through the link
        password_changed_at=now,
        must_change_password=True,
        created_at=now,
    )
    db.session.add(user)
    application.company_id = company.id
    application.start_date = start_date
    application.reviewed_by_id = staff_user.id
    application.decided_at = now
    db.session.flush()

    # The company's signing certificate (第16条, R-ACC-4): 本人性 rests on a key issued after this review.
    certificates.issue_for_company(company, now=now)

    # The contact person chooses the first password through the link; the mail holds no password.
    link = accounts.issue_setup_link(user, now)
    body = notify.render(
        "acceptance.txt",
        application=application,
        company=company,
        contract=contract,
        term_end=terms.term_end(start_date),
        user=user,
        link=link.masked_url(),
        hours=current_app.config["PASSWORD_SETUP_HOURS"],
        login_url=notify.public_url("auth.login"),
    )
    notice = notify.queue(
        "acceptance",
        user.email,
        "利用受諾通知（ご利用開始のご案内）",
        body,
        company_id=company.id,
        dedupe_key=f"acceptance:{application.id}",
        now=now,
        secret_link=link,
    )
    audit.record(
        "application.accepted",
        audit.Actor(user_id=staff_user.id),
        company_id=company.id,
        detail={
            "application_id": application.id,
            "receipt_number": application.receipt_number,
            "start_date": start_date.isoformat(),
            "login_id": user.login_id,
        },
        now=now,
    )
    return Acceptance(company=company, contract=contract, user=user, notice=notice)


def acceptance_sent(notice: SentNotice) -> None:
    """notify's after-sent hook for the 利用受諾通知: the contract records when it was sent (第3条)."""
    contract = db.session.scalar(select(Contract).where(Contract.company_id == notice.company_id))
    if contract is not None and contract.acceptance_notified_at is None:
        contract.acceptance_notified_at = notice.sent_at


def new_login_id() -> str:
    """'u' + 7 random digits, unused so far (IDs are not sequential, so they reveal no count)."""
    while True:
        candidate = f"u{secrets.randbelow(10**7):07d}"
        if db.session.scalar(select(User.id).where(func.lower(User.login_id) == candidate)) is None:
            return candidate


# --- helpers ----------------------------------------------------------------------------------


def _transition(application: Application, allowed: tuple[str, ...], new: str, now: datetime, **values) -> None:
    """Move the status only if it is still one of `allowed` (a conditional UPDATE: one winner)."""
    result = db.session.execute(
        update(Application)
        .where(Application.id == application.id, Application.status.in_(allowed))
        .values(status=new, updated_at=now, **values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.session.refresh(application)
        raise StateConflict(
            f"この申込は既に「{STATUS_LABELS.get(application.status, application.status)}」になっています。"
            "最新の状態を確認してください。"
        )


def _mail_applicant(application: Application, template: str, subject: str, now: datetime) -> None:
    body = notify.render(
        f"{template}.txt",
        application=application,
        plan_label=PLANS.get(application.plan, application.plan),
    )
    notify.queue(template, application.contact_email, subject, body, now=now)


def _require_declarations(terms_version: str, antisocial_declared: bool) -> None:
    if not terms_version:
        raise ValidationFailed("利用規約への同意が必要です。")
    if not antisocial_declared:
        raise ValidationFailed("反社会的勢力に該当しないことの表明が必要です。")


def _required(value: str | None, label: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ValueError(f"{label}を入力してください")
    return text


def _plan(value: str) -> str:
    if value not in PLANS:
        raise ValueError("プランを選んでください")
    return value


def _new_receipt_number() -> str:
    while True:
        candidate = "R-" + "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))
        if db.session.scalar(select(Application.id).where(Application.receipt_number == candidate)) is None:
            return candidate


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
