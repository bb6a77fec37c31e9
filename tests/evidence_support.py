"""Completed cases for the evidence, verification and archive tests: signed for real through the services
and the RQ jobs (real Redis, SimpleWorker in process), with the session's portal PKI and internal TSA."""
from __future__ import annotations

from portal.extensions import db
from portal.models import Case, Company
from portal.services import cases
from tests.web.cases_support import certified_company, draft_via_service, fresh, work


def user_of(company_id: int):
    return db.session.get(Company, company_id).users[0]


def parties(*names: tuple[str, str]) -> list[int]:
    """Ids of companies with a contact user (login id) and a signing certificate. Commits."""
    return [certified_company(name, login).id for name, login in names]


def sent_case(app, company_ids: list[int], *, attachment: bytes | None = None, **overrides) -> int:
    """A case sent to party 1 (with an optional 約款 attachment besides the main PDF). Commits."""
    companies = [db.session.get(Company, cid) for cid in company_ids]
    originator = user_of(company_ids[0])
    case = draft_via_service(originator, companies, **overrides)
    if attachment is not None:
        cases.attach_document(originator, case.id, case.version, attachment, "約款.pdf", kind="attachment",
                              label="約款")
        db.session.commit()
    cases.send(originator, case.id, case.version)
    db.session.commit()
    return case.id


def sign(app, case_id: int, company_id: int) -> None:
    """The party agrees; the worker runs the signing job (and the seal after the last party)."""
    case = db.session.get(Case, case_id)
    cases.agree_and_sign(user_of(company_id), case_id, case.version, cases.CONSENT_VERSION)
    db.session.commit()
    work(app)
    fresh()


def completed_case(app, company_ids: list[int], *, attachment: bytes | None = None, **overrides) -> int:
    """A case every party signed in order and the seal job completed (PAdES B-LTA)."""
    case_id = sent_case(app, company_ids, attachment=attachment, **overrides)
    for company_id in company_ids:
        sign(app, case_id, company_id)
    case = db.session.get(Case, case_id)
    assert case.status == "complete", case.status
    return case_id
