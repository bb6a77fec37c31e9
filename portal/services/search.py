"""案件検索 (R-STORE-2) within the cases a company may see (R-STORE-4).

Filters combine with AND: case number, title, counterparty (name or 法人番号), construction name,
contract amount range (税込), contract date range (取引年月日), completion date range and status —
the search keys that 電子帳簿保存法 asks for (取引年月日, 取引金額, 取引先) with ranges and combinations.
Text filters match anywhere in the value, case-insensitively, with LIKE wildcards escaped.
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import Case, Company, Delivery, Party
from portal.models.case import CASE_STATUSES

SORTS = {
    "last_update": Case.last_update,
    "number": Case.number,
    "title": Case.title,
    "amount": Case.amount_incl_tax,
    "contract_date": Case.contract_date,
    "completed_on": Case.completed_on,
    "status": Case.status,
}
SORT_LABELS = {
    "last_update": "最終更新日",
    "number": "案件番号",
    "title": "件名",
    "amount": "請負代金（税込）",
    "contract_date": "契約日",
    "completed_on": "完了日",
    "status": "状態",
}
PER_PAGE = 20
MAX_PER_PAGE = 100


@dataclass
class CaseQuery:
    number: str = ""
    title: str = ""
    counterparty: str = ""
    construction_name: str = ""
    amount_min: int | None = None
    amount_max: int | None = None
    contract_from: date | None = None
    contract_to: date | None = None
    completed_from: date | None = None
    completed_to: date | None = None
    status: str = ""
    sort: str = "last_update"
    direction: str = "desc"
    page: int = 1
    per_page: int = PER_PAGE


@dataclass
class ResultPage:
    items: list[Case] = field(default_factory=list)
    total: int = 0
    page: int = 1
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def visible_cases_clause(company_id: int) -> ColumnElement[bool]:
    """Cases the company is party to; a counterparty's only once a revision was sent to it (drafts stay
    private, also from a party added after a return until the case is sent again)."""
    is_party = exists().where(Party.case_id == Case.id, Party.company_id == company_id)
    was_sent = exists().where(Delivery.case_id == Case.id, Delivery.company_id == company_id)
    return and_(is_party, or_(Case.originator_company_id == company_id, was_sent))


def _text(value: str) -> str:
    return unicodedata.normalize("NFKC", value or "").strip()


def _counterparty_clause(text: str, company_id: int | None) -> ColumnElement[bool]:
    digits = re.sub(r"[\s-]", "", text)
    matches = [Party.company_name.icontains(text, autoescape=True)]
    if re.fullmatch(r"[0-9]{13}", digits):
        matches.append(Company.corporate_number == digits)
    where = [Party.case_id == Case.id, or_(*matches)]
    if company_id is not None:
        where.append(Party.company_id != company_id)
    return exists(select(Party.id).join(Company, Company.id == Party.company_id).where(*where))


def _filters(query: CaseQuery, company_id: int | None) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    for attr, column in (("number", Case.number), ("title", Case.title), ("construction_name", Case.construction_name)):
        text = _text(getattr(query, attr))
        if text:
            clauses.append(column.icontains(text, autoescape=True))
    counterparty = _text(query.counterparty)
    if counterparty:
        clauses.append(_counterparty_clause(counterparty, company_id))
    if query.amount_min is not None:
        clauses.append(Case.amount_incl_tax >= query.amount_min)
    if query.amount_max is not None:
        clauses.append(Case.amount_incl_tax <= query.amount_max)
    if query.contract_from is not None:
        clauses.append(Case.contract_date >= query.contract_from)
    if query.contract_to is not None:
        clauses.append(Case.contract_date <= query.contract_to)
    if query.completed_from is not None:
        clauses.append(Case.completed_on >= query.completed_from)
    if query.completed_to is not None:
        clauses.append(Case.completed_on <= query.completed_to)
    if query.status in CASE_STATUSES:
        clauses.append(Case.status == query.status)
    return clauses


def search(query: CaseQuery, company_id: int | None, *, staff: bool = False) -> ResultPage:
    """One page of matching cases, sorted; `company_id` limits to that company's cases.

    Staff (staff=True, company_id None) search every case's metadata.
    """
    if company_id is None and not staff:
        raise ValueError("a company search needs the company")
    where = _filters(query, company_id)
    if company_id is not None:
        where.append(visible_cases_clause(company_id))
    per_page = min(max(query.per_page, 1), MAX_PER_PAGE)
    total = db.session.scalar(select(func.count()).select_from(Case).where(*where)) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(query.page, 1), pages)
    column = SORTS.get(query.sort, Case.last_update)
    order = column.asc() if query.direction == "asc" else column.desc()
    stmt = (
        select(Case)
        .options(selectinload(Case.parties))
        .where(*where)
        .order_by(order.nulls_last(), Case.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return ResultPage(items=list(db.session.scalars(stmt)), total=total, page=page, per_page=per_page)
