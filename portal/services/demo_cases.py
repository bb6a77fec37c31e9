"""Demo cases in every interesting state, made through the real transitions and really signed.

For `flask portal seed-demo` (services/demo.py calls `seed`): one case waiting for the second party
(the first has signed), one returned with a reason, and one complete (PAdES B-LTA) between three
companies when three are given, else two. The signing is done in this process (`sign_pending_now`),
so no worker needs to run. DEMO ONLY.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from portal.clock import jst_date, now_utc
from portal.extensions import db
from portal.models import Case, Company, User
from portal.services import cases


def _contact(company: Company) -> User:
    user = db.session.scalar(
        select(User).where(User.company_id == company.id, User.role == "contact", User.active.is_(True))
        .order_by(User.id)
    )
    if user is None:
        raise ValueError(f"company {company.id} has no contact user")
    return user


def _fields(title: str, site: str, start, amount: int) -> cases.CaseFields:
    tax = amount // 10
    return cases.CaseFields(
        title=f"{title} 請負契約",
        construction_name=title,
        construction_site=site,
        period_start=start,
        period_end=start + timedelta(days=90),
        amount_excl_tax=amount,
        tax_amount=tax,
        amount_incl_tax=amount + tax,
        payment_terms="完成引渡し後、翌月末までに銀行振込で支払う",
        notes="デモ用の案件です。",
        checklist={"force_majeure": True, "inspection_delivery": True, "dispute_resolution": True},
    )


def _draft(companies: list[Company], fields: cases.CaseFields, now: datetime) -> Case:
    author = _contact(companies[0])
    case = cases.create_draft(author, fields, [c.id for c in companies], now=now)
    cases.generate_contract_document(author, case.id, case.version, now=now)
    cases.send(author, case.id, case.version, now=now)
    return case


def _sign(case: Case, company: Company, now: datetime) -> None:
    cases.agree_and_sign(_contact(company), case.id, case.version, cases.CONSENT_VERSION, now=now)
    cases.sign_pending_now(case.id, now=now)


def seed(companies: list[Company], now: datetime | None = None) -> list[Case]:
    """Make the demo cases between `companies` (2 or more, with certificates). Flushes; the caller commits."""
    if len(companies) < 2:
        raise ValueError("the demo cases need two companies")
    now = now or now_utc()
    start = jst_date(now) + timedelta(days=14)
    first, second = companies[0], companies[1]

    office = _fields("デモ事務所改修工事", "東京都千代田区丸の内1-1-1", start, 4_800_000)
    waiting = _draft([first, second], office, now)
    _sign(waiting, first, now)

    parking = _fields("デモ駐車場舗装工事", "大阪府大阪市北区梅田2-2-2", start, 2_300_000)
    returned = _draft([second, first], parking, now)
    cases.return_case(_contact(first), returned.id, returned.version,
                      "工期の完成日を2週間後ろにずらしていただけますか。", now=now)

    parties = companies[:3]
    warehouse = _fields("デモ物流倉庫新築工事", "埼玉県川口市本町4-4-4", start, 38_000_000)
    complete = _draft(parties, warehouse, now)
    for company in parties:
        _sign(complete, company, now)
    return [waiting, returned, complete]
