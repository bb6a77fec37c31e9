"""Helpers for the case tests: companies with certificates, logged-in clients, form data, the RQ worker.

Each client runs every request in its own app context, as production does, so the test reads the
database through its own session and calls `fresh()` after requests.
"""
from __future__ import annotations

import re
from datetime import date

from redis import Redis
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Case, Company, OutboxItem, SentNotice
from portal.services import cases, certificates
from portal.services.storage import get_store
from tests import factories
from tests.conftest import FreshContextClient, csrf_token_from
from tests.pdf_tools import make_pdf


def client_for(app, login_id: str) -> FreshContextClient:
    client = app.test_client()
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"login_id": login_id, "password": factories.PASSWORD, "csrf_token": csrf_token_from(page)},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def fresh() -> None:
    """Forget what the test's session loaded, so the next read sees what requests and jobs committed."""
    db.session.expire_all()


def certified_company(name: str, login_id: str, *, certificate: bool = True, **overrides) -> Company:
    """An active company with a contact user (login_id) and, by default, a signing certificate. Commits."""
    company = factories.company(name=name, **overrides)
    factories.user(company, role="contact", login_id=login_id, name=f"{name[:4]}担当", email=f"{login_id}@example.jp")
    if certificate:
        certificates.issue_for_company(company)
    db.session.commit()
    return company


def case_fields(**overrides) -> cases.CaseFields:
    fields = dict(
        title="〇〇ビル新築工事 請負契約",
        construction_name="〇〇ビル新築工事",
        construction_site="東京都千代田区千代田1-1",
        period_start=date(2026, 12, 1),
        period_end=date(2027, 3, 31),
        amount_excl_tax=10_000_000,
        tax_amount=1_000_000,
        amount_incl_tax=11_000_000,
        payment_terms="月末締め翌月末払い",
        notes="",
        checklist={"force_majeure": True, "dispute_resolution": True},
    )
    fields.update(overrides)
    return cases.CaseFields(**fields)


def form_data(parties: list[str], **overrides) -> dict:
    """What the create/edit form posts (the browser's view of case_fields)."""
    data = {
        "title": "〇〇ビル新築工事 請負契約",
        "construction_name": "〇〇ビル新築工事",
        "construction_site": "東京都千代田区千代田1-1",
        "period_start": "2026-12-01",
        "period_end": "2027-03-31",
        "amount_excl_tax": "10,000,000",
        "tax_amount": "1,000,000",
        "amount_incl_tax": "11,000,000",
        "payment_terms": "月末締め翌月末払い",
        "notes": "",
        "item_force_majeure": "y",
        "save": "保存する",
    }
    for index, party in enumerate(parties):
        data[f"parties-{index}"] = party
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def draft_via_service(originator_user, companies: list[Company], *, pdf: bytes | None = None, **overrides) -> Case:
    """A draft made by the service with a real main PDF attached. Commits."""
    case = cases.create_draft(originator_user, case_fields(**overrides), [c.id for c in companies])
    cases.attach_document(originator_user, case.id, case.version, pdf or make_pdf(2), "契約書.pdf", kind="main")
    db.session.commit()
    return case


def token(client, path: str) -> str:
    return csrf_token_from(client.get(path))


def version_on(client, case_id: int) -> int:
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    match = re.search(r'name="version" value="(\d+)"', page)
    assert match, "page shows no version"
    return int(match.group(1))


def post_action(client, case_id: int, action: str, version: int | None = None, **data):
    """POST one of the detail page's buttons with its CSRF token and the version the page shows."""
    page = client.get(f"/cases/{case_id}")
    if version is None:
        match = re.search(r'name="version" value="(\d+)"', page.get_data(as_text=True))
        version = int(match.group(1)) if match else 0
    payload = {"csrf_token": csrf_token_from(page), "version": str(version), **data}
    return client.post(f"/cases/{case_id}/{action}", data=payload)


def agree(client, case_id: int, version: int | None = None, **extra):
    return post_action(client, case_id, "agree", version, consent_version=cases.CONSENT_VERSION, agree="y", **extra)


def work(app) -> SimpleWorker:
    """Run every queued job now in this process: a real SimpleWorker (JSON serializer, burst) on Redis."""
    connection = Redis.from_url(app.config["REDIS_URL"])
    queues = [Queue(name, connection=connection, serializer=JSONSerializer) for name in app.config["RQ_QUEUES"]]
    worker = SimpleWorker(queues, connection=connection, serializer=JSONSerializer)
    with app.app_context():
        worker.work(burst=True)
        db.session.remove()
    return worker


def snapshot(case_id: int) -> dict:
    """Everything a refused request must leave as it was."""
    fresh()
    case = db.session.get(Case, case_id)
    return {
        "status": case.status,
        "version": case.version,
        "last_update": case.last_update,
        "revision": case.revision,
        "parties": [(p.position, p.status, p.consented_at, p.signed_at) for p in case.parties],
        "documents": sorted((d.id, d.role, d.sha256, d.removed_at) for d in case.documents),
        "outbox": db.session.scalar(select(db.func.count()).select_from(OutboxItem)),
        "audit": db.session.scalar(select(db.func.count()).select_from(AuditEvent)),
        "notices": db.session.scalar(select(db.func.count()).select_from(SentNotice)),
        "store": sorted(get_store().digests()),
    }


def audit_actions(case_id: int) -> list[str]:
    query = select(AuditEvent.action).where(AuditEvent.case_id == case_id).order_by(AuditEvent.id)
    return list(db.session.scalars(query))


def sent_after_edits_case() -> dict:
    """甲 (login kou) drafts with secret.pdf as the contract, adds and removes an attachment, replaces the
    contract by generating it, then sends to 乙 (login otsu). Commits; returns the ids: case, secret
    (the replaced contract), removed (the attachment), main (the generated contract), contract (sent)."""
    kou = certified_company("甲建設株式会社", "kou", certificate=False)
    otsu = certified_company("乙工務店株式会社", "otsu", certificate=False)
    author = kou.users[0]
    case = draft_via_service(author, [kou, otsu], pdf=make_pdf(1, title="秘密の下書き"))
    secret = cases.current_documents(case)[0]
    assert secret is not None
    attachment = cases.attach_document(author, case.id, case.version, make_pdf(1), "見積書.pdf", kind="attachment",
                                       label="見積書")
    cases.remove_document(author, case.id, case.version, attachment.id)
    generated = cases.generate_contract_document(author, case.id, case.version)
    cases.send(author, case.id, case.version)
    db.session.commit()
    contract = cases.contract_document(case)
    assert contract is not None
    return {"case": case.id, "secret": secret.id, "removed": attachment.id, "main": generated.id,
            "contract": contract.id}
