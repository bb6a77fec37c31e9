"""Builders for test data: one place that knows how to make a valid company, user, case…

Each builder takes keyword overrides, adds to the session and flushes; the test commits if it needs to.
"""
from __future__ import annotations

import functools
import itertools
from datetime import date

from portal.extensions import db
from portal.models import Case, Company, Contract, ContractTerm, Delivery, Document, Party, User
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


def case(parties: list[Company], status: str = "draft", documents: int = 1, **overrides) -> Case:
    """A case between `parties` (the first is the originator) with `documents` PDFs in the store.

    For status "complete" pass completed_on (a date); last_update (an aware datetime) defaults to
    now. purge_due_on is derived the way the services do it."""
    from datetime import UTC, datetime

    from portal.services import retention
    from portal.services.storage import get_store

    n = next(_seq)
    fields = dict(
        number=f"C{n:08d}",
        title=f"テスト工事{n} 請負契約",
        originator_company_id=parties[0].id,
        status=status,
        construction_name=f"テスト工事{n}",
        construction_site="東京都千代田区千代田1-1",
        period_start=date(2026, 5, 1),
        period_end=date(2026, 9, 30),
        amount_excl_tax=1_000_000,
        tax_amount=100_000,
        amount_incl_tax=1_100_000,
        payment_terms="月末締め翌月末払い",
        last_update=datetime.now(UTC),
        sent_at=None if status == "draft" else datetime.now(UTC),
    )
    fields.update(overrides)
    if status == "complete" and fields.get("completed_on") is None:
        raise ValueError("a complete case needs completed_on")
    obj = Case(**fields)
    db.session.add(obj)
    db.session.flush()
    for position, company_ in enumerate(parties, start=1):
        db.session.add(Party(case_id=obj.id, company_id=company_.id, position=position, company_name=company_.name,
                             status="signed" if status == "complete" else "pending"))
        if obj.sent_at is not None:  # as services.cases.send records it
            db.session.add(Delivery(case_id=obj.id, revision=obj.revision, company_id=company_.id, sent_at=obj.sent_at))
    store = get_store()
    for index in range(documents):
        data = f"%PDF-1.7\n% test document {obj.number}/{index}\n%%EOF\n".encode()
        digest = store.put(data)
        db.session.add(Document(case_id=obj.id, role="main" if index == 0 else "attachment", sha256=digest,
                                size=len(data), page_count=1, filename=f"{obj.number}-{index}.pdf"))
    db.session.flush()
    db.session.refresh(obj)
    retention.refresh_purge_due(obj)
    db.session.flush()
    return obj


def application_form(**overrides) -> dict:
    """What a valid 利用申込書 posts (R-APP-1), as the browser sends it; override a field to break it."""
    fields = dict(
        company_name="株式会社山田工務店",
        company_name_kana="ヤマダコウムテン",
        corporate_number=corporate_number(),
        license_number="東京都知事許可（般-5）第012345号",
        postal_code="100-0001",
        address="東京都千代田区千代田1-1",
        representative_title="代表取締役",
        representative_name="山田 太郎",
        phone="03-1234-5678",
        contact_name="山田 花子",
        contact_department="総務部",
        contact_email="hanako@example.jp",
        contact_phone="090-1234-5678",
        plan="standard",
        antisocial_declared="y",
        consent="y",
    )
    fields.update(overrides)
    return {key: value for key, value in fields.items() if value is not None}


def application(**overrides):
    """A pending application submitted through the onboarding service (confirmation mail queued)."""
    from portal.services import onboarding, terms_versions

    data = application_form()
    data.update(overrides)
    status = data.pop("status", None)
    applicant = onboarding.ApplicantData(**{name: data[name] for name in onboarding.ApplicantData.field_names()})
    obj = onboarding.submit(applicant, terms_versions.current().version, antisocial_declared=True)
    if status is not None:
        obj.status = status
    db.session.flush()
    return obj
