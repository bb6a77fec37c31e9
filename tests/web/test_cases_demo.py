"""Demo cases (issue: seed-demo has a completed three-party case, one waiting for a party, one returned)."""
from __future__ import annotations

from portal.extensions import db
from portal.models import Case
from portal.services import cases, certificates, demo_cases
from portal.services.storage import get_store
from portal.services.verification import verify_pdf
from tests.web.cases_support import certified_company, client_for, fresh


def test_r_case_2_demo_cases_stand_in_each_state_and_the_complete_one_verifies(app, ctx, portal_pki):
    """Do the demo cases come out waiting (party 1 signed), returned (with a reason) and complete with a valid
    three-party B-LTA file, and does the waiting party see its agree button?"""
    firms = [certified_company("デモ甲建設株式会社", "d1"), certified_company("デモ乙工務店", "d2"),
             certified_company("デモ丙設備", "d3")]
    made = demo_cases.seed(firms)
    db.session.commit()
    ids = [case.id for case in made]
    fresh()
    waiting, returned, complete = (db.session.get(Case, case_id) for case_id in ids)
    assert waiting.status == "waiting" and waiting.current_position == 2
    assert [p.status for p in waiting.parties] == ["signed", "pending"]
    assert returned.status == "returned" and returned.return_reason
    assert complete.status == "complete" and len(complete.parties) == 3
    report = verify_pdf(get_store().get(cases.final_document(complete).sha256), certificates.pki().trust_roots(),
                        [certificates.crl()])
    assert report.valid and report.ltv and len(report.signatures) == 3
    page = client_for(app, "d2").get(f"/cases/{ids[0]}").get_data(as_text=True)
    assert "同意して署名する" in page
