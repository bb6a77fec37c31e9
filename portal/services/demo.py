"""Demo data for `make run` / `flask portal seed-demo`: a staff administrator and two companies
accepted through the real onboarding path (contract, first term, certificate, acceptance notice).

DEMO ONLY. Every demo login shares the fixed, published password DEMO_PASSWORD and needs no change
at first login, so that someone trying the portal on their own machine can log in at once. Never run
seed-demo on a server reachable by others (`make run` sets UKEOI_DEMO=1; production does not).

Idempotent: each piece is looked up by a fixed key (login ID, 法人番号) and created only if missing,
so a second run creates nothing and returns the same logins.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from portal.clock import now_utc, today_jst
from portal.extensions import db
from portal.models import Case, Company, User
from portal.rules.validators import corporate_number_check_digit
from portal.services import accounts, certificates, demo_cases, onboarding, terms_versions

DEMO_PASSWORD = "ukeoi-demo-2026"  # noqa: S105 (published on purpose: demo data only)
STAFF_LOGIN = "staff"


def _corporate_number(base: str) -> str:
    return f"{corporate_number_check_digit(base)}{base}"


@dataclass(frozen=True)
class DemoCompany:
    corporate_number: str
    name: str
    name_kana: str
    contact_login: str
    contact_name: str
    member_login: str
    member_name: str
    address: str
    representative_name: str


DEMO_COMPANIES = (
    DemoCompany(
        corporate_number=_corporate_number("020000000001"),
        name="デモ建設株式会社",
        name_kana="デモケンセツ",
        contact_login="demo-a",
        contact_name="山田 花子",
        member_login="demo-a-member",
        member_name="佐藤 一郎",
        address="東京都千代田区丸の内1-1-1",
        representative_name="山田 太郎",
    ),
    DemoCompany(
        corporate_number=_corporate_number("020000000002"),
        name="株式会社サンプル工務店",
        name_kana="サンプルコウムテン",
        contact_login="demo-b",
        contact_name="鈴木 次郎",
        member_login="demo-b-member",
        member_name="高橋 三郎",
        address="大阪府大阪市北区梅田2-2-2",
        representative_name="鈴木 一夫",
    ),
    DemoCompany(
        corporate_number=_corporate_number("020000000003"),
        name="見本設備工業株式会社",
        name_kana="ミホンセツビコウギョウ",
        contact_login="demo-c",
        contact_name="田中 四郎",
        member_login="demo-c-member",
        member_name="伊藤 五郎",
        address="埼玉県川口市本町4-4-4",
        representative_name="田中 一郎",
    ),
)


@dataclass(frozen=True)
class DemoLogin:
    role: str  # Japanese label
    login_id: str
    password: str
    company: str | None


def seed_demo(today: date | None = None, now: datetime | None = None) -> list[DemoLogin]:
    """Create what is missing of the demo data (flushes; the caller commits) and return its logins."""
    today = today or today_jst()
    now = now or now_utc()
    certificates.pki().init()  # accepted companies get a certificate; idempotent
    terms_versions.ensure_initial()
    staff = _ensure_staff()
    companies = [_ensure_company(spec, staff, today, now) for spec in DEMO_COMPANIES]
    seed_demo_cases(companies)
    db.session.flush()
    return demo_logins()


def demo_logins() -> list[DemoLogin]:
    logins = [DemoLogin("運営管理者", STAFF_LOGIN, DEMO_PASSWORD, None)]
    for spec in DEMO_COMPANIES:
        logins.append(DemoLogin("申請担当者", spec.contact_login, DEMO_PASSWORD, spec.name))
        logins.append(DemoLogin("一般利用者", spec.member_login, DEMO_PASSWORD, spec.name))
    return logins


def seed_demo_cases(companies: list[Company]) -> list[Case]:
    """Demo cases between the demo companies: one draft from the first to the second, with the contract
    PDF generated from its fields, ready to be sent; and one case in each other state (waiting for a
    party, returned, and a three-party case completed with real signatures: demo_cases.seed).
    Creates nothing when the first company already has a case (idempotent)."""
    from portal.services import cases

    first, second = companies[0], companies[1]
    if db.session.scalar(select(func.count(Case.id)).where(Case.originator_company_id == first.id)):
        return []
    author = db.session.scalar(select(User).where(User.login_id == DEMO_COMPANIES[0].contact_login))
    if author is None:
        raise RuntimeError(f"demo user {DEMO_COMPANIES[0].contact_login} is missing")
    start = today_jst() + timedelta(days=14)
    fields = cases.CaseFields(
        title="デモ倉庫新築工事 請負契約",
        construction_name="デモ倉庫新築工事",
        construction_site="東京都江東区有明3-3-3",
        period_start=start,
        period_end=start + timedelta(days=120),
        amount_excl_tax=12_000_000,
        tax_amount=1_200_000,
        amount_incl_tax=13_200_000,
        payment_terms="着手時3割、完成引渡し後30日以内に残額を銀行振込",
        notes="デモ用の案件です。",
    )
    case = cases.create_draft(author, fields, [first.id, second.id])
    cases.generate_contract_document(author, case.id, case.version)
    return [case, *demo_cases.seed(companies)]


def _ensure_staff() -> User:
    staff = db.session.scalar(select(User).where(User.login_id == STAFF_LOGIN))
    if staff is None:
        staff = accounts.create_staff(
            login_id=STAFF_LOGIN,
            name="デモ運営管理者",
            email="staff@example.jp",
            password=DEMO_PASSWORD,
            role="staff_admin",
        )
    return staff


def _ensure_company(spec: DemoCompany, staff: User, today: date, now: datetime) -> Company:
    company = db.session.scalar(
        select(Company).where(Company.corporate_number == spec.corporate_number, Company.status != "deleted")
    )
    if company is None:
        applicant = onboarding.ApplicantData(
            company_name=spec.name,
            company_name_kana=spec.name_kana,
            corporate_number=spec.corporate_number,
            license_number="東京都知事許可（般-5）第012345号",
            postal_code="100-0005",
            address=spec.address,
            representative_name=spec.representative_name,
            representative_title="代表取締役",
            phone="03-1234-5678",
            contact_name=spec.contact_name,
            contact_department="工務部",
            contact_email=f"{spec.contact_login}@example.jp",
            contact_phone="090-1234-5678",
            plan="standard",
        )
        application = onboarding.submit(applicant, terms_versions.current(today).version, True, now=now)
        result = onboarding.accept(application, today, staff, now=now, login_id=spec.contact_login)
        # Demo only (see the module docstring): a known password, so the acceptance mail's
        # set-password link is not needed to log in.
        result.user.password_hash = accounts.hash_password(DEMO_PASSWORD)
        result.user.must_change_password = False
        company = result.company
    if db.session.scalar(select(User.id).where(User.login_id == spec.member_login)) is None:
        member, _temporary = accounts.create_company_user(
            company, name=spec.member_name, email=f"{spec.member_login}@example.jp", login_id=spec.member_login, now=now
        )
        member.password_hash = accounts.hash_password(DEMO_PASSWORD)
        member.must_change_password = False
    return company
