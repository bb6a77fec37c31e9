"""Whole cases through the web and a real RQ worker: create, upload, send, agree, sign, seal (R-CASE-1..3, 5)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Case, SentNotice
from portal.services import cases, certificates
from portal.services.storage import get_store
from portal.services.verification import verify_pdf
from tests.conftest import csrf_token_from
from tests.pdf_tools import make_pdf, pdfsig
from tests.web.cases_support import (
    agree,
    audit_actions,
    certified_company,
    client_for,
    form_data,
    fresh,
    post_action,
    work,
)


@pytest.fixture
def trio(ctx, portal_pki):
    """Three accepted companies with certificates and a contact user each."""
    return [
        certified_company("甲建設株式会社", "kou"),
        certified_company("乙工務店株式会社", "otsu"),
        certified_company("丙設備株式会社", "hei"),
    ]


def _create_via_form(client, parties: list[str]) -> int:
    page = client.get("/cases/new")
    assert page.status_code == 200
    response = client.post("/cases/new", data={**form_data(parties), "csrf_token": csrf_token_from(page)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(re.search(r"/cases/(\d+)", response.headers["Location"]).group(1))


def _upload(client, case_id: int, pdf: bytes, kind: str = "main", label: str = "約款", name: str = "契約書.pdf"):
    import io

    page = client.get(f"/cases/{case_id}")
    version = re.search(r'name="version" value="(\d+)"', page.get_data(as_text=True)).group(1)
    return client.post(
        f"/cases/{case_id}/documents",
        data={"csrf_token": csrf_token_from(page), "version": version, "kind": kind, "label": label,
              "file": (io.BytesIO(pdf), name)},
        content_type="multipart/form-data",
    )


def _sign_in_turn(app, clients, case_id: int) -> None:
    for client in clients:
        response = agree(client, case_id)
        assert response.status_code == 302, response.get_data(as_text=True)[:800]
        work(app)


@pytest.mark.parametrize("count", [2, 3], ids=["two-parties", "three-parties"])
def test_r_case_3_full_flow_signs_every_party_and_seals_b_lta(app, trio, count, tmp_path):
    """Does a case created in the web, signed in order by every party through real RQ jobs, end 完了 with a
    PAdES B-LTA file that pyHanko and poppler both accept, and everyone notified?"""
    companies = trio[:count]
    logins = ["kou", "otsu", "hei"][:count]
    clients = [client_for(app, login) for login in logins]
    case_id = _create_via_form(clients[0], [c.corporate_number for c in companies])
    assert _upload(clients[0], case_id, make_pdf(2)).status_code == 302
    assert post_action(clients[0], case_id, "send").status_code == 302

    _sign_in_turn(app, clients, case_id)

    fresh()
    case = db.session.get(Case, case_id)
    assert case.status == "complete"
    assert case.completed_on is not None and case.contract_date == case.completed_on
    assert [p.status for p in case.parties] == ["signed"] * count
    final = cases.final_document(case)
    pdf = get_store().get(final.sha256)
    pki = certificates.pki()
    report = verify_pdf(pdf, pki.trust_roots(), [certificates.crl()])
    assert report.valid and report.ltv
    assert [s.company for s in report.signatures] == [c.name for c in companies]
    assert report.signatures[0].certification and report.signatures[0].docmdp_permission == "FILL_FORMS"
    assert all(s.modification_level in ("FORM_FILLING", "LTA_UPDATES") for s in report.signatures)
    poppler = pdfsig(pdf, pki.root_cert_pem(), tmp_path)
    for position in range(1, count + 1):
        assert "Signature Validation: Signature is Valid." in poppler[f"Party{position}"]
        assert "Certificate Validation: Certificate is Trusted." in poppler[f"Party{position}"]
    # each party's turn was mailed, and everyone got the completion notice
    kinds = db.session.execute(select(SentNotice.kind, SentNotice.company_id)).all()
    assert sorted(cid for kind, cid in kinds if kind == "case_turn") == sorted(c.id for c in companies)
    assert sorted(cid for kind, cid in kinds if kind == "case_completed") == sorted(c.id for c in companies)
    assert all(n.sent_at is not None for n in db.session.scalars(select(SentNotice)))
    actions = audit_actions(case_id)
    assert actions[:3] == ["created", "document_added", "sent"]
    assert actions.count("consented") == count and actions.count("signed") == count
    assert actions[-1] == "completed"
    # the parties can download the signed file; the page shows it complete
    response = clients[-1].get(f"/cases/{case_id}/signed.pdf")
    assert response.status_code == 200 and response.data == pdf
    assert "attachment" in response.headers["Content-Disposition"]
    fresh()
    assert audit_actions(case_id)[-1] == "downloaded"
    page = clients[0].get(f"/cases/{case_id}").get_data(as_text=True)
    assert "契約が締結されました" in page and 'hx-trigger="every' not in page


def test_r_case_3_progress_component_polls_while_signing_and_shows_result_after(app, trio):
    """While the job has not run, does the progress component poll itself briskly (also after a reload),
    back off after 20 polls, and once the job is done render the result, polling only slowly while
    another party's turn lasts — and not at all on the page of the party who may sign?"""
    kou, otsu = client_for(app, "kou"), client_for(app, "otsu")
    case_id = _create_via_form(kou, [trio[0].corporate_number, trio[1].corporate_number])
    _upload(kou, case_id, make_pdf())
    post_action(kou, case_id, "send")
    response = kou.post(
        f"/cases/{case_id}/agree",
        data={"csrf_token": csrf_token_from(kou.get(f"/cases/{case_id}")), "version": str(_version(kou, case_id)),
              "consent_version": cases.CONSENT_VERSION, "agree": "y"},
        headers={"HX-Request": "true", "HX-Target": "signing-progress"},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="signing-progress"') and body.count('id="signing-progress"') == 1
    assert f'hx-get="/cases/{case_id}/progress?polls=1"' in body and 'hx-trigger="every 250ms"' in body
    reload = kou.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'hx-trigger="every 250ms"' in reload and "署名処理中" in reload
    later = kou.get(f"/cases/{case_id}/progress?polls=20", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f'hx-get="/cases/{case_id}/progress?polls=21"' in later and 'hx-trigger="every 1s"' in later

    work(app)

    poll = kou.get(f"/cases/{case_id}/progress", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert poll.lstrip().startswith('<section id="signing-progress"')
    assert 'hx-trigger="every 3s"' in poll and "署名済み" in poll
    assert "乙工務店株式会社 の署名を待っています" in poll
    # without htmx the progress URL is the page itself
    assert kou.get(f"/cases/{case_id}/progress").status_code == 302
    # and party 2 sees the consent statement with its agree button
    page = otsu.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "施行令第5条の5" in page and "同意して署名する" in page and 'hx-trigger="every' not in page


def _version(client, case_id: int) -> int:
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    return int(re.search(r'name="version" value="(\d+)"', page).group(1))


def test_r_case_2_return_voids_signatures_and_resend_makes_a_new_revision(app, trio):
    """If party 2 returns a case after party 1 signed, is party 1's signature void, can the originator
    edit and re-send a new revision, and does that revision complete with fresh signatures?"""
    kou, otsu = client_for(app, "kou"), client_for(app, "otsu")
    case_id = _create_via_form(kou, [trio[0].corporate_number, trio[1].corporate_number])
    _upload(kou, case_id, make_pdf())
    post_action(kou, case_id, "send")
    agree(kou, case_id)
    work(app)

    missing_reason = post_action(otsu, case_id, "return", reason="")
    assert missing_reason.status_code == 400
    assert "差戻しの理由を入力してください" in missing_reason.get_data(as_text=True)
    assert post_action(otsu, case_id, "return", reason="工期の完成日を1か月延ばしてください。").status_code == 302

    fresh()
    case = db.session.get(Case, case_id)
    assert case.status == "returned" and case.revision == 2
    assert case.return_reason == "工期の完成日を1か月延ばしてください。"
    assert [p.status for p in case.parties] == ["pending", "pending"]
    assert all(p.signed_at is None and p.consented_at is None for p in case.parties)
    notices = db.session.scalars(select(SentNotice).where(SentNotice.kind == "case_returned")).all()
    assert sorted(n.company_id for n in notices) == sorted(c.id for c in trio[:2])
    # the counterparty cannot edit; the originator can, and re-sends
    assert otsu.get(f"/cases/{case_id}/edit").status_code == 403
    assert post_action(otsu, case_id, "send").status_code == 403
    page = kou.get(f"/cases/{case_id}/edit")
    response = kou.post(f"/cases/{case_id}/edit", data={
        **form_data([trio[0].corporate_number, trio[1].corporate_number], period_end="2027-04-30"),
        "csrf_token": csrf_token_from(page), "version": str(_version(kou, case_id))})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert post_action(kou, case_id, "send").status_code == 302
    agree(kou, case_id)
    work(app)
    agree(otsu, case_id)
    work(app)

    fresh()
    case = db.session.get(Case, case_id)
    assert case.status == "complete" and case.revision == 2
    signed = [d for d in case.documents if d.role == "signed"]
    assert sorted((d.revision, d.signed_by_position) for d in signed) == [(1, 1), (2, 1), (2, 2)]
    pdf = get_store().get(cases.final_document(case).sha256)
    report = verify_pdf(pdf, certificates.pki().trust_roots(), [certificates.crl()])
    assert report.valid and len(report.signatures) == 2


def test_r_case_2_withdraw_before_completion_notifies_the_parties(app, trio):
    """Can the originator withdraw a sent case, are the parties told, and can nobody sign it afterwards?"""
    kou, otsu = client_for(app, "kou"), client_for(app, "otsu")
    case_id = _create_via_form(kou, [trio[1].corporate_number, trio[0].corporate_number])  # originator signs 2nd
    _upload(kou, case_id, make_pdf())
    post_action(kou, case_id, "send")
    assert post_action(otsu, case_id, "withdraw").status_code == 403  # not the originator
    assert post_action(kou, case_id, "withdraw").status_code == 302
    fresh()
    case = db.session.get(Case, case_id)
    assert case.status == "withdrawn" and case.withdrawn_at is not None
    assert sorted(n.company_id for n in db.session.scalars(
        select(SentNotice).where(SentNotice.kind == "case_withdrawn"))) == sorted(c.id for c in trio[:2])
    assert agree(otsu, case_id).status_code == 409
    assert "withdrawn" in audit_actions(case_id)


def test_r_case_1_generated_contract_document_can_be_sent_and_signed(app, trio):
    """Can a company without a PDF have the portal write the 工事請負契約書 from the fields, send and sign it?"""
    kou, otsu = client_for(app, "kou"), client_for(app, "otsu")
    case_id = _create_via_form(kou, [trio[0].corporate_number, "乙工務店株式会社"])  # by 法人番号 and by name
    assert post_action(kou, case_id, "generate").status_code == 302
    fresh()
    main, _ = cases.current_documents(db.session.get(Case, case_id))
    assert main is not None and main.filename.endswith("工事請負契約書.pdf")
    assert post_action(kou, case_id, "send").status_code == 302
    _sign_in_turn(app, [kou, otsu], case_id)
    fresh()
    assert db.session.get(Case, case_id).status == "complete"


def test_r_case_1_document_is_shown_inline_in_the_browser(app, trio):
    """Does the detail page frame the contract PDF from an inline route that returns the PDF itself?"""
    kou = client_for(app, "kou")
    case_id = _create_via_form(kou, [trio[0].corporate_number, trio[1].corporate_number])
    pdf = make_pdf()
    _upload(kou, case_id, pdf)
    page = kou.get(f"/cases/{case_id}").get_data(as_text=True)
    src = re.search(r'<iframe class="pdf"[^>]*src="([^"]+)"', page, re.S).group(1)
    response = kou.get(src)
    assert response.status_code == 200 and response.data == pdf
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("inline")
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
    fresh()
    assert "viewed" in audit_actions(case_id)
