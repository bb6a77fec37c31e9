"""Builders for test data: one place that knows how to make a valid company, user, case…

Each builder takes keyword overrides, adds to the session and flushes; the test commits if it needs to.
"""
from __future__ import annotations

import functools
import itertools
from datetime import date

from portal.extensions import db
from portal.models import Company, Contract, ContractTerm, User
from portal.rules import terms
from portal.services import accounts

PASSWORD = "correct-horse-battery-staple"
_seq = itertools.count(1)


@functools.cache
def password_hash() -> str:
    """Hash PASSWORD once per test run: argon2id is deliberately slow."""
    return accounts.hash_password(PASSWORD)


def corporate_number(base12: str | None = None) -> str:
    """A 13-digit 法人番号 with a valid check digit (国税庁: check digit first)."""
    base = base12 or f"{next(_seq):012d}"
    total = sum(int(d) * (1 if i % 2 == 0 else 2) for i, d in enumerate(reversed(base)))
    return f"{9 - total % 9}{base}"


def company(**overrides) -> Company:
    n = next(_seq)
    fields = dict(
        corporate_number=corporate_number(),
        name=f"テスト建設{n}株式会社",
        name_kana=f"テストケンセツ{n}",
        postal_code="100-0001",
        address="東京都千代田区千代田1-1",
        representative_name="山田 太郎",
        representative_title="代表取締役",
        phone="03-1234-5678",
        terms_version="2026-11",
    )
    fields.update(overrides)
    start = fields.pop("start_date", date(2026, 4, 1))
    obj = Company(**fields)
    db.session.add(obj)
    db.session.flush()
    contract = Contract(company_id=obj.id, start_date=start)
    db.session.add(contract)
    db.session.flush()
    db.session.add(ContractTerm(contract_id=contract.id, start_date=start, end_date=terms.term_end(start)))
    db.session.flush()
    return obj


def user(company: Company | None = None, role: str = "contact", **overrides) -> User:
    n = next(_seq)
    fields = dict(
        company_id=company.id if company else None,
        login_id=f"user{n}",
        name=f"利用者{n}",
        email=f"user{n}@example.jp",
        role=role,
        password_hash=password_hash(),
        must_change_password=False,
    )
    fields.update(overrides)
    obj = User(**fields)
    db.session.add(obj)
    db.session.flush()
    return obj


def staff(role: str = "staff", **overrides) -> User:
    return user(None, role=role, **overrides)
