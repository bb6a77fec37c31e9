"""Refusals on cases (R-STORE-4, R-CASE-2, R-CASE-3, SPEC §6): other companies' ids, stale and repeated clicks,
out-of-turn signing, bad uploads, read-only companies, missing CSRF — a clear refusal and the case as it was."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Case, Company, OutboxItem, SentNotice
from portal.services import cases
from tests.conftest import csrf_token_from
from tests.pdf_tools import deeply_nested_pdf, looping_pages_pdf, lying_count_pdf, make_pdf, make_zero_page_pdf
from tests.web.cases_support import (
    agree,
    certified_company,
    client_for,
    draft_via_service,
    form_data,
    fresh,
    post_action,
    sent_after_edits_case,
    snapshot,
    work,
)


@pytest.fixture
def world(ctx, portal_pki):
    """甲 and 乙 share a sent case (甲 signs first); 丙 is a stranger to it. Returns ids."""
    kou = certified_company("甲建設株式会社", "kou")
    otsu = certified_company("乙工務店株式会社", "otsu")
    hei = certified_company("丙設備株式会社", "hei")
    case = draft_via_service(kou.users[0], [kou, otsu])
    cases.send(kou.users[0], case.id, case.version)
    db.session.commit()
    doc_id = cases.contract_document(case).id
    return {"case": case.id, "doc": doc_id, "kou": kou.id, "otsu": otsu.id, "hei": hei.id}


ROUTES = [
    ("GET", "/cases/{case}"),
    ("GET", "/cases/{case}/edit"),
    ("GET", "/cases/{case}/progress"),
    ("GET", "/cases/{case}/documents/{doc}/view"),
    ("GET", "/cases/{case}/documents/{doc}/download"),
    ("GET", "/cases/{case}/signed.pdf"),
    ("GET", "/cases/{case}/retention"),
    ("POST", "/cases/{case}/edit"),
    ("POST", "/cases/{case}/documents"),
    ("POST", "/cases/{case}/documents/{doc}/remove"),
    ("POST", "/cases/{case}/generate"),
    ("POST", "/cases/{case}/send"),
    ("POST", "/cases/{case}/withdraw"),
    ("POST", "/cases/{case}/return"),
    ("POST", "/cases/{case}/agree"),
]


@pytest.mark.parametrize(("method", "route"), ROUTES, ids=[f"{m} {r}" for m, r in ROUTES])
def test_r_store_4_another_companys_case_is_not_found_on_every_route(app, world, method, route):
    """Can a company that is not party to a case reach it by id on any route? (404, and nothing changes)"""
    stranger = client_for(app, "hei")
    url = route.format(**world)
    before = snapshot(world["case"])
    if method == "GET":
        response = stranger.get(url, headers={"HX-Request": "true"} if url.endswith("/progress") else {})
    else:
        token = csrf_token_from(stranger.get("/cases/"))
        data = {**form_data(["x", "y"]), "csrf_token": token, "version": str(before["version"]),
                "reason": "理由", "consent_version": cases.CONSENT_VERSION, "agree": "y", "kind": "main",
                "file": (io.BytesIO(make_pdf()), "x.pdf")}
        response = stranger.post(url, data=data, content_type="multipart/form-data")
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "〇〇ビル新築工事" not in body and "乙工務店" not in body
    assert snapshot(world["case"]) == before


def test_r_store_4_a_draft_is_hidden_from_the_counterparty_until_sent(app, ctx, portal_pki):
    """Does the counterparty get 404 for a draft it is named in, and see it once it is sent?"""
    kou = certified_company("甲建設株式会社", "kou")
    otsu = certified_company("乙工務店株式会社", "otsu")
    case = draft_via_service(kou.users[0], [kou, otsu])
    case_id = case.id
    client = client_for(app, "otsu")
    assert client.get(f"/cases/{case_id}").status_code == 404
    assert "〇〇ビル新築工事" not in client.get("/cases/").get_data(as_text=True)
    kou_client = client_for(app, "kou")
    assert post_action(kou_client, case_id, "send").status_code == 302
    assert client.get(f"/cases/{case_id}").status_code == 200


def test_r_case_2_stale_version_is_a_409_and_changes_nothing(app, world):
    """If the case changed after the page was shown, is the action refused with 409 and nothing changed?"""
    kou = client_for(app, "kou")
    before = snapshot(world["case"])
    response = post_action(kou, world["case"], "withdraw", version=before["version"] - 1)
    assert response.status_code == 409
    assert "内容が変わりました" in response.get_data(as_text=True)
    assert snapshot(world["case"]) == before


def test_r_case_3_repeated_agree_click_is_a_409_and_queues_nothing_more(app, world):
    """Does a second click on 同意して署名する (same page, same version) get 409 and queue no second job?"""
    kou = client_for(app, "kou")
    page = kou.get(f"/cases/{world['case']}").get_data(as_text=True)
    version = int(re.search(r'name="version" value="(\d+)"', page).group(1))
    assert agree(kou, world["case"], version=version).status_code == 302
    after_first = snapshot(world["case"])
    assert agree(kou, world["case"], version=version).status_code == 409
    assert snapshot(world["case"]) == after_first
    signs = db.session.scalar(select(db.func.count()).select_from(OutboxItem).where(OutboxItem.kind == "sign"))
    assert signs == 1


def test_r_case_3_out_of_turn_signing_is_refused(app, world):
    """Can party 2 sign before party 1 has? (409, nothing queued)"""
    otsu = client_for(app, "otsu")
    page = otsu.get(f"/cases/{world['case']}").get_data(as_text=True)
    assert "同意して署名する" not in page  # no button out of turn
    before = snapshot(world["case"])
    response = agree(otsu, world["case"], version=before["version"])
    assert response.status_code == 409 and "順番ではありません" in response.get_data(as_text=True)
    assert snapshot(world["case"]) == before


def test_r_case_3_htmx_refusal_comes_back_inside_the_progress_component(app, world):
    """Does an htmx agree that is refused (here: stale) return the component with the message, not a blank?"""
    kou = client_for(app, "kou")
    token = csrf_token_from(kou.get(f"/cases/{world['case']}"))
    response = kou.post(f"/cases/{world['case']}/agree", headers={"HX-Request": "true"},
                        data={"csrf_token": token, "version": "0", "consent_version": cases.CONSENT_VERSION,
                              "agree": "y"})
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="signing-progress"') and "内容が変わりました" in body


def test_r_case_3_agreeing_requires_the_consent_checkbox(app, world):
    """Without ticking the consent to the electronic method, is nothing signed?"""
    kou = client_for(app, "kou")
    before = snapshot(world["case"])
    response = post_action(kou, world["case"], "agree", consent_version=cases.CONSENT_VERSION)
    assert response.status_code == 400 and "同意欄にチェック" in response.get_data(as_text=True)
    assert snapshot(world["case"]) == before


def test_r_case_3_consent_is_recorded_with_the_statement_version(app, world):
    """Is the version of the consent statement the party saw stored with its consent?"""
    kou = client_for(app, "kou")
    agree(kou, world["case"])
    fresh()
    party = db.session.get(Case, world["case"]).parties[0]
    assert party.consent_text_version == cases.CONSENT_VERSION and party.consented_at is not None
    outdated = post_action(client_for(app, "otsu"), world["case"], "agree", consent_version="2000-1", agree="y")
    assert outdated.status_code == 409


BAD_UPLOADS = {
    "not-a-pdf": (b"This is a text file, not a contract.\n", "PDFファイルではありません"),
    "encrypted": (make_pdf(encrypt="secret"), "パスワードで保護"),
    "broken": (b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nthis is not a pdf body\n%%EOF\n", "壊れて"),
    "zero-pages": (make_zero_page_pdf(), "ページのないPDF"),
    # Hostile structure: each used to give a 500 (RecursionError) or pass the upload and fail at sending.
    "nested-100000-deep": (deeply_nested_pdf(), "構造が深すぎる"),
    "count-that-lies": (lying_count_pdf(), "実際のページ数と一致しない"),
    "page-tree-loop": (looping_pages_pdf(), "ページ構造が循環"),
}


@pytest.mark.parametrize("kind", list(BAD_UPLOADS))
def test_r_store_1_bad_upload_is_refused_and_nothing_stored(app, ctx, portal_pki, kind):
    """Is a non-PDF, encrypted, broken, zero-page or hostile (absurdly nested, lying /Count, looping page tree)
    upload refused with a Japanese message at the file field, storing nothing?"""
    kou = certified_company("甲建設株式会社", "kou")
    otsu = certified_company("乙工務店株式会社", "otsu")
    case = cases.create_draft(kou.users[0], _fields(), [kou.id, otsu.id])
    db.session.commit()
    case_id = case.id
    data, message = BAD_UPLOADS[kind]
    response = _upload(client_for(app, "kou"), case_id, data)
    before = snapshot(case_id)
    assert response.status_code == 400
    field_error = re.search(r'<p class="error" id="err-file">([^<]*)</p>', response.get_data(as_text=True))
    assert field_error and message in field_error.group(1)
    assert before["documents"] == [] and before["store"] == []


def test_r_store_1_oversized_upload_is_refused_and_nothing_stored(app, ctx, portal_pki, monkeypatch):
    """Is a PDF over UPLOAD_MAX_BYTES refused (and a request over the whole limit answered 413)?"""
    kou = certified_company("甲建設株式会社", "kou")
    otsu = certified_company("乙工務店株式会社", "otsu")
    case = cases.create_draft(kou.users[0], _fields(), [kou.id, otsu.id])
    db.session.commit()
    case_id = case.id
    big = make_pdf(40)
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", len(big) - 1)
    client = client_for(app, "kou")
    response = _upload(client, case_id, big)
    assert response.status_code == 400 and "ファイルが大きすぎます" in response.get_data(as_text=True)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", len(big) // 2)
    assert _upload(client, case_id, big).status_code == 413
    after = snapshot(case_id)
    assert after["documents"] == [] and after["store"] == []


def test_r_case_1_a_good_upload_is_stored_by_its_hash(app, ctx, portal_pki):
    """Is an accepted PDF stored under its SHA-256 with its size and page count on the row?"""
    import hashlib

    kou = certified_company("甲建設株式会社", "kou")
    otsu = certified_company("乙工務店株式会社", "otsu")
    case = cases.create_draft(kou.users[0], _fields(), [kou.id, otsu.id])
    db.session.commit()
    case_id = case.id
    pdf = make_pdf(3)
    assert _upload(client_for(app, "kou"), case_id, pdf, kind="attachment", label="見積書").status_code == 302
    fresh()
    doc = db.session.get(Case, case_id).documents[0]
    assert (doc.role, doc.label, doc.sha256, doc.size, doc.page_count) == (
        "attachment", "見積書", hashlib.sha256(pdf).hexdigest(), len(pdf), 3)


def test_r_adm_1_read_only_company_cannot_change_a_case(app, world):
    """Can a suspended (read-only) company still agree, withdraw or upload? (403, nothing changes)"""
    company = db.session.get(Company, world["kou"])
    company.status, company.suspension_mode = "suspended", "readonly"
    db.session.commit()
    kou = client_for(app, "kou")
    before = snapshot(world["case"])
    assert kou.get(f"/cases/{world['case']}").status_code == 200  # reading is fine
    assert agree(kou, world["case"]).status_code == 403
    assert post_action(kou, world["case"], "withdraw").status_code == 403
    assert snapshot(world["case"]) == before


def test_r_case_2_post_without_csrf_is_refused(app, world):
    """Is a forged POST (no CSRF token) refused and the case unchanged?"""
    kou = client_for(app, "kou")
    before = snapshot(world["case"])
    response = kou.post(f"/cases/{world['case']}/withdraw", data={"version": str(before["version"])})
    assert response.status_code == 400
    assert snapshot(world["case"]) == before


def test_r_case_2_signed_case_cannot_be_withdrawn_while_signing(app, world):
    """While a party's signature is being applied, is withdrawal refused (409) and nothing changed?"""
    agree(client_for(app, "kou"), world["case"])
    kou = client_for(app, "kou")
    before = snapshot(world["case"])
    response = post_action(kou, world["case"], "withdraw", version=before["version"])
    assert response.status_code == 409
    assert snapshot(world["case"]) == before
    work(app)
    fresh()
    assert db.session.get(Case, world["case"]).parties[0].status == "signed"


def test_r_case_1_form_errors_are_shown_next_to_the_field_and_input_kept(app, ctx, portal_pki):
    """Does a wrong total (税込 ≠ 税抜 + 消費税) or an unknown party re-render the form with the message and input?"""
    certified_company("甲建設株式会社", "kou")
    client = client_for(app, "kou")
    page = client.get("/cases/new")
    mine = re.search(r'name="parties-0"[^>]*value="(\d{13})"', page.get_data(as_text=True)).group(1)
    data = {**form_data([mine, "存在しない建設株式会社"], amount_incl_tax="11,000,001", title="体育館改修工事"),
            "csrf_token": csrf_token_from(page)}
    response = client.post("/cases/new", data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "一致しません" in body and "見つかりません" in body
    assert 'value="体育館改修工事"' in body and 'value="存在しない建設株式会社"' in body
    fresh()
    assert db.session.scalar(select(db.func.count()).select_from(Case)) == 0


def test_r_case_1_the_originator_must_be_a_party(app, ctx, portal_pki):
    """Can a company create a case between two other companies? (refused, nothing created)"""
    certified_company("甲建設株式会社", "kou")
    otsu = certified_company("乙工務店株式会社", "otsu")
    hei = certified_company("丙設備株式会社", "hei")
    client = client_for(app, "kou")
    page = client.get("/cases/new")
    data = {**form_data([otsu.corporate_number, hei.corporate_number]), "csrf_token": csrf_token_from(page)}
    body = client.post("/cases/new", data=data).get_data(as_text=True)
    assert "自社を当事者のいずれかの順番に含めてください" in body
    fresh()
    assert db.session.scalar(select(db.func.count()).select_from(Case)) == 0


def test_r_store_4_staff_see_metadata_and_content_reads_are_logged(app, world, staff_user):
    """Do staff see a case's metadata, and is opening its content recorded as staff_viewed?"""
    staff_id = staff_user.id
    staff = client_for(app, "staff1")
    listing = staff.get("/admin/cases").get_data(as_text=True)
    assert "甲建設株式会社" in listing
    page = staff.get(f"/admin/cases/{world['case']}").get_data(as_text=True)
    assert "SHA-256" in page and world["kou"] and "甲建設株式会社" in page
    assert "¥11,000,000" not in page and "月末締め" not in page  # metadata, not the contract's terms
    assert staff.get(f"/admin/cases/{world['case']}/documents/{world['doc']}").status_code == 200
    fresh()
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "staff_viewed"))
    assert event is not None and event.case_id == world["case"] and event.user_id == staff_id
    assert staff.get(f"/cases/{world['case']}").status_code == 403  # staff have no company case pages
    assert client_for(app, "kou").get("/admin/cases").status_code == 403


def _fields():
    from tests.web.cases_support import case_fields

    return case_fields()


def _upload(client, case_id: int, data: bytes, kind: str = "main", label: str = "約款"):
    page = client.get(f"/cases/{case_id}")
    version = re.search(r'name="version" value="(\d+)"', page.get_data(as_text=True)).group(1)
    return client.post(
        f"/cases/{case_id}/documents",
        data={"csrf_token": csrf_token_from(page), "version": version, "kind": kind, "label": label,
              "file": (io.BytesIO(data), "contract.pdf")},
        content_type="multipart/form-data",
    )


# ---------------------------------------------------------------------- which documents a party reads (R-STORE-4)


def _doc_urls(case_id: int, doc_id: int) -> list[str]:
    return [f"/cases/{case_id}/documents/{doc_id}/view", f"/cases/{case_id}/documents/{doc_id}/download"]


def _reads(client, case_id: int, doc_id: int) -> list[int]:
    return [client.get(url).status_code for url in _doc_urls(case_id, doc_id)]


def _listed_ids(client, case_id: int) -> set[int]:
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    return {int(found) for found in re.findall(rf"/cases/{case_id}/documents/(\d+)/", page)}


@pytest.fixture
def sent_after_edits(ctx, portal_pki):
    """甲 drafts with secret.pdf, adds and removes an attachment, generates the contract, sends to 乙."""
    return sent_after_edits_case()


def test_r_store_4_a_party_cannot_read_a_drafts_removed_or_replaced_documents(app, sent_after_edits):
    """Can the counterparty open the draft's removed attachment or the contract the originator replaced
    before sending? (404 on view and download; only what was sent is listed and readable)"""
    ids = sent_after_edits
    otsu = client_for(app, "otsu")
    for hidden in ("secret", "removed"):
        assert _reads(otsu, ids["case"], ids[hidden]) == [404, 404], hidden
    assert _reads(otsu, ids["case"], ids["contract"]) == [200, 200]
    assert _reads(otsu, ids["case"], ids["main"]) == [200, 200]
    assert _listed_ids(otsu, ids["case"]) == {ids["contract"]}
    kou = client_for(app, "kou")
    assert _reads(kou, ids["case"], ids["secret"]) == [200, 200]  # the originator keeps its own drafts


@pytest.fixture
def returned_and_redrafted(ctx, portal_pki):
    """甲 sends revision 1 to 乙; 乙 returns it; 甲 replaces the contract in revision 2 (not sent yet)."""
    kou = certified_company("甲建設株式会社", "kou", certificate=False)
    otsu = certified_company("乙工務店株式会社", "otsu", certificate=False)
    hei = certified_company("丙設備株式会社", "hei", certificate=False)
    author = kou.users[0]
    case = draft_via_service(author, [kou, otsu])
    cases.send(author, case.id, case.version)
    first = cases.contract_document(case)
    cases.return_case(otsu.users[0], case.id, case.version, "金額の誤り")
    redraft = cases.attach_document(author, case.id, case.version, make_pdf(3, title="第2版"), "第2版.pdf",
                                    kind="main")
    db.session.commit()
    return {"case": case.id, "first": first.id, "redraft": redraft.id, "kou": kou, "otsu": otsu, "hei": hei}


def test_r_store_4_after_a_return_the_party_sees_the_revision_it_was_sent_not_the_new_draft(
        app, returned_and_redrafted):
    """While the originator reworks a returned case, does the party still read revision 1 and not the new
    draft — and read revision 2 once it is sent?"""
    ids = returned_and_redrafted
    otsu = client_for(app, "otsu")
    assert _reads(otsu, ids["case"], ids["first"]) == [200, 200]
    assert _reads(otsu, ids["case"], ids["redraft"]) == [404, 404]
    assert _listed_ids(otsu, ids["case"]) == {ids["first"]}
    assert post_action(client_for(app, "kou"), ids["case"], "send").status_code == 302
    fresh()
    second = cases.contract_document(db.session.get(Case, ids["case"])).id
    assert _reads(otsu, ids["case"], ids["redraft"]) == [200, 200]
    assert _listed_ids(otsu, ids["case"]) == {second}
    assert _reads(otsu, ids["case"], ids["first"]) == [200, 200]  # what was sent stays readable


def test_r_store_4_a_party_added_later_cannot_read_the_revision_sent_to_the_party_it_replaced(
        app, returned_and_redrafted):
    """After a return, 甲 replaces 乙 by 丙 and re-sends: does 丙 read revision 2 only (404 for revision 1,
    and neither the case nor its documents before revision 2 is sent to it)?"""
    ids = returned_and_redrafted
    kou, hei = ids["kou"], ids["hei"]
    case = db.session.get(Case, ids["case"])
    cases.update_draft(kou.users[0], case.id, case.version, cases.fields_of(case), [kou.id, hei.id])
    db.session.commit()
    client = client_for(app, "hei")
    assert _reads(client, ids["case"], ids["first"]) == [404, 404]
    assert _reads(client, ids["case"], ids["redraft"]) == [404, 404]
    assert client.get(f"/cases/{ids['case']}/signed.pdf").status_code == 404
    assert client.get(f"/cases/{ids['case']}").status_code == 404  # not sent to 丙 yet: a draft to it
    assert "〇〇ビル新築工事" not in client.get("/cases/").get_data(as_text=True)
    assert post_action(client_for(app, "kou"), ids["case"], "send").status_code == 302
    assert _reads(client, ids["case"], ids["first"]) == [404, 404]
    assert _reads(client, ids["case"], ids["redraft"]) == [200, 200]
    assert "〇〇ビル新築工事" in client.get("/cases/").get_data(as_text=True)
    fresh()
    first_chain = [d.id for d in db.session.get(Case, ids["case"]).documents if d.revision == 1]
    assert all(_reads(client, ids["case"], doc_id) == [404, 404] for doc_id in first_chain)


def test_r_case_5_a_party_added_after_a_return_is_not_mailed_about_a_case_never_sent_to_it(app, returned_and_redrafted):
    """If 甲 swaps 乙 for 丙 after a return and then withdraws, is 丙 — which was never sent the case — left
    out of the withdrawal mail (the link would only show it a 404)?"""
    ids = returned_and_redrafted
    kou, hei = ids["kou"], ids["hei"]
    case = db.session.get(Case, ids["case"])
    cases.update_draft(kou.users[0], case.id, case.version, cases.fields_of(case), [kou.id, hei.id])
    cases.withdraw(kou.users[0], case.id, case.version)
    db.session.commit()
    withdrawn = db.session.scalars(select(SentNotice.company_id).where(SentNotice.kind == "case_withdrawn")).all()
    assert withdrawn == [kou.id]
