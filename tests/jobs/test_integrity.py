"""R-STORE-1: the scheduled re-hash finds tampered and missing originals and alerts staff."""
from __future__ import annotations

import os
from datetime import date

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Case, Document, SentNotice
from portal.services import integrity
from portal.services.storage import get_store


def _document(company, data: bytes) -> Document:
    case = Case(
        number=f"T-{os.urandom(3).hex()}", title="t", originator_company_id=company.id, construction_name="c",
        construction_site="s", period_start=date(2026, 1, 1), period_end=date(2026, 2, 1),
        amount_excl_tax=100, tax_amount=10, amount_incl_tax=110, payment_terms="p",
    )  # fmt: skip
    db.session.add(case)
    db.session.flush()
    digest = get_store().put(data)
    doc = Document(case_id=case.id, role="main", sha256=digest, size=len(data), page_count=1)
    db.session.add(doc)
    db.session.flush()
    return doc


def test_r_store_1_intact_store_reports_ok_and_sends_nothing(ctx, company_a):
    """When every stored original still hashes to its name, is the report clean and no alert sent?"""
    _document(company_a, b"%PDF-1.7 one")
    _document(company_a, b"%PDF-1.7 two")
    report = integrity.rehash_store(batch_size=1)
    assert report.ok and report.checked == 2
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "integrity_alert")) is None


def test_r_store_1_tampered_and_missing_objects_raise_an_alert(ctx, company_a, staff_admin):
    """Does a changed byte or a vanished file in the store get detected and mailed to staff admins?"""
    tampered = _document(company_a, b"%PDF-1.7 original bytes")
    missing = _document(company_a, b"%PDF-1.7 will vanish")
    _document(company_a, b"%PDF-1.7 untouched")
    store = get_store()
    path = store._path(tampered.sha256)
    os.chmod(path, 0o640)
    path.write_bytes(b"%PDF-1.7 altered bytes!")
    store._path(missing.sha256).unlink()

    report = integrity.rehash_store()
    db.session.commit()

    assert report.mismatched == [tampered.sha256]
    assert report.missing == [missing.sha256]
    alert = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "integrity_alert"))
    assert alert is not None and alert.detail["mismatched"] == [tampered.sha256]
    notice = db.session.scalar(select(SentNotice).where(SentNotice.kind == "integrity_alert"))
    assert notice is not None and notice.recipient == staff_admin.email
    assert tampered.sha256 in notice.body
