"""The public verification page (R-CASE-4): anyone uploads a PDF; the portal says whether it is an original it
issued (case number and dates only) and validates every signature with the evidence report. CSRF, rate limit."""
from __future__ import annotations

import io
import logging
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Case, Document
from portal.services import cases, signing
from portal.services.storage import get_store
from portal.services.tsa import InternalTimeStamper
from portal.web import format_jst
from tests.conftest import csrf_token_from
from tests.evidence_support import completed_case, parties, sent_case, sign
from tests.pdf_tools import make_pdf, small_pki, tamper
from tests.web.cases_support import fresh


@pytest.fixture
def pair(ctx, portal_pki) -> list[int]:
    return parties(("甲建設株式会社", "kou"), ("乙工務店株式会社", "otsu"))


def _check(client, data: bytes, name: str = "契約書.pdf", htmx: bool = False):
    page = client.get("/verify")
    assert page.status_code == 200
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post("/verify", data={"csrf_token": csrf_token_from(page), "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data", headers=headers)


def _sealed(case_id: int) -> tuple[Case, bytes]:
    fresh()
    case = db.session.get(Case, case_id)
    return case, get_store().get(cases.final_document(case).sha256)


def test_r_case_4_an_original_is_recognised_with_only_its_case_number_and_dates(app, client, pair):
    """Is the sealed file recognised as an original with its case number and completion date, every signature
    valid, and nothing of the case's content (title, site, amount) shown to the anonymous visitor?"""
    case, pdf = _sealed(completed_case(app, pair))
    response = _check(client, pdf)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Ukeoi が発行したファイルと一致しました" in body
    assert "締結済みの契約書（原本）です。" in body
    assert case.number in body
    assert format_jst(case.completed_at) in body
    assert "すべての電子署名と文書タイムスタンプが有効です" in body
    assert body.count('class="report-item ok"') == 3  # two signatures and the document timestamp
    for secret in (case.title, case.construction_site, "11,000,000", case.payment_terms):
        assert secret not in body


def test_r_case_4_a_modified_copy_is_not_an_original_and_its_signatures_fail(app, client, pair):
    """With one byte of the original changed, is the file no longer recognised, and is the breach reported —
    summarised as tampered (改ざんされています（無効）), not as 要確認 over an untrusted certificate?"""
    _case, pdf = _sealed(completed_case(app, pair))
    response = _check(client, tamper(pdf))
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Ukeoi が発行したファイルとは一致しません" in body
    assert "<strong>改ざんされています（無効）</strong>" in body
    assert "要確認" not in body and "信頼できません" not in body
    assert "署名後に改ざんされているか、署名が壊れています" in body
    assert 'class="report-item ok"' not in body


def test_r_case_4_a_partly_signed_version_is_recognised_as_not_concluded(app, client, pair):
    """Is a file the portal issued after the first signature recognised, but said not to be a concluded contract?"""
    case_id = sent_case(app, pair)
    sign(app, case_id, pair[0])
    signed = db.session.scalar(select(Document).where(Document.case_id == case_id, Document.role == "signed"))
    body = _check(client, get_store().get(signed.sha256)).get_data(as_text=True)
    assert "Ukeoi が発行したファイルと一致しました" in body
    assert "署名の途中の版です" in body
    assert "締結日時" not in body


def test_r_case_4_a_pdf_signed_elsewhere_is_not_ours_and_not_trusted(app, client, portal_pki, tmp_path):
    """Is a PDF signed under another CA reported as not issued by the portal, its signature not trusted?"""
    foreign = small_pki(tmp_path / "foreign")
    cert = foreign.issue_company_certificate("他社システム株式会社", "1234567890123")
    prepared = signing.prepare_signature_fields(make_pdf(1), ["他社システム株式会社"])
    pdf = signing.sign_as_party(prepared, 1, 1, foreign.signer_for(cert.cert_pem, cert.key_pem_encrypted),
                                InternalTimeStamper.from_pki(foreign),
                                signing.StampText("他社システム株式会社", "他社 太郎", datetime.now(UTC)))
    body = _check(client, pdf).get_data(as_text=True)
    assert "Ukeoi が発行したファイルとは一致しません" in body
    assert "他社システム株式会社" in body
    assert "信頼できません" in body
    assert 'class="report-item ok"' not in body


def test_r_case_4_an_unsigned_pdf_says_it_has_no_signature(app, client, portal_pki):
    """Does a plain PDF get a clear "no signature" answer rather than an error?"""
    response = _check(client, make_pdf(1))
    assert response.status_code == 200
    assert "このPDFには電子署名がありません。" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GIF89a not a pdf at all", "PDFファイルではありません。"),
        (b"%PDF-1.7\n garbage without structure", "PDFファイルが壊れているため読み込めません。"),
        (make_pdf(1, encrypt="secret"), "パスワードで保護されたPDFは検証できません。"),
    ],
    ids=["not-a-pdf", "broken", "encrypted"],
)
def test_r_case_4_a_file_that_is_no_readable_pdf_is_refused_with_a_reason(client, portal_pki, data, message):
    """Is a non-PDF, a broken or an encrypted file answered 400 with the reason in Japanese?"""
    response = _check(client, data, name="contract.pdf")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_r_case_4_a_file_over_the_upload_limit_is_refused(app, client, portal_pki, monkeypatch):
    """Is a file over UPLOAD_MAX_BYTES refused with the limit named?"""
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", 1024)
    response = _check(client, make_pdf(3))
    assert response.status_code == 400
    assert "ファイルが大きすぎます" in response.get_data(as_text=True)


def test_r_case_4_without_a_file_the_form_asks_for_one(client):
    """Does submitting without a file re-show the form with the message next to the field?"""
    page = client.get("/verify")
    response = client.post("/verify", data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 400
    assert "PDFファイルを選択してください。" in response.get_data(as_text=True)


def test_r_case_4_htmx_gets_the_result_fragment_and_the_page_works_without_js(app, client, portal_pki):
    """Does an htmx request get only the result fragment (to swap below the form), while the plain form post
    gets the whole page with the form and the result?"""
    fragment = _check(client, make_pdf(1), htmx=True).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="verify-result"') and "<html" not in fragment
    page = _check(client, make_pdf(1)).get_data(as_text=True)
    assert "<html" in page and 'id="verify-output"' in page and 'id="verify-result"' in page
    form = client.get("/verify").get_data(as_text=True)
    assert re.search(r'<form[^>]+method="post"[^>]+enctype="multipart/form-data"', form)
    assert 'hx-post="/verify"' in form and 'hx-indicator="#verify-indicator"' in form


def test_r_case_4_verify_needs_the_csrf_token(client):
    """Is a POST without the CSRF token refused (400)?"""
    response = client.post("/verify", data={"file": (io.BytesIO(make_pdf(1)), "a.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 400


def test_r_case_4_verify_is_rate_limited_per_ip(app, client, monkeypatch):
    """Past VERIFY_RATE_LIMIT posts from one IP (counted in the real Redis), is the next one refused with 429,
    while another IP still gets through?"""
    monkeypatch.setitem(app.config, "VERIFY_RATE_LIMIT", "3 per hour")
    for _ in range(3):
        assert _check(client, b"not a pdf").status_code == 400
    refused = _check(client, b"not a pdf")
    assert refused.status_code == 429
    assert "しばらく時間をおいてから" in refused.get_data(as_text=True)
    page = client.get("/verify", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    other = client.post("/verify", data={"csrf_token": csrf_token_from(page), "file": (io.BytesIO(b"x"), "a.pdf")},
                        content_type="multipart/form-data", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 400


def _variants_of(pdf: bytes) -> dict[str, bytes]:
    """Damaged copies of a signed file: cut short, bytes flipped across it, an array nested 100,000 deep
    spliced in, the signature's CMS garbled, and an incremental update that changes the contract."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    variants = {f"cut-{n}": pdf[: len(pdf) * n // 8] for n in range(1, 8)}
    for n in range(1, 12):
        at = len(pdf) * n // 12
        variants[f"flip-{n}"] = pdf[:at] + bytes([pdf[at] ^ 0x5A]) + pdf[at + 1:]
    at = pdf.index(b"/Type /Catalog") if b"/Type /Catalog" in pdf else pdf.index(b"/Catalog")
    variants["nested"] = pdf[:at] + b"/Deep " + b"[" * 100_000 + b"]" * 100_000 + b" " + pdf[at:]
    contents = re.search(rb"/Contents <([0-9a-fA-F]{200})", pdf)
    variants["cms"] = pdf[:contents.start(1) + 100] + b"F" * 100 + pdf[contents.start(1) + 200:]
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    writer.root["/Lang"] = generic.TextStringObject("en")
    writer.update_root()
    changed = io.BytesIO()
    writer.write(changed)
    variants["changed-after-signing"] = changed.getvalue()
    return variants


def test_r_case_4_verify_never_answers_500_on_hostile_or_damaged_bytes(app, client, pair, monkeypatch):
    """Whatever bytes an anonymous visitor uploads — hostile structure (100,000 nested `[`, a /Count that lies,
    a looping page tree) or a signed file cut, flipped, garbled or changed — is the answer a result or a
    Japanese refusal, never a 500?"""
    from tests.pdf_tools import deeply_nested_pdf, looping_pages_pdf, lying_count_pdf

    monkeypatch.setitem(app.config, "VERIFY_RATE_LIMIT", "1000 per hour")
    _case, pdf = _sealed(completed_case(app, pair))
    files = {"deep": deeply_nested_pdf(), "count": lying_count_pdf(), "loop": looping_pages_pdf(),
             **_variants_of(pdf)}
    for name, data in files.items():
        response = _check(client, data)
        assert response.status_code in (200, 400), f"{name}: {response.status_code}"
        if response.status_code == 400:
            assert "PDF" in response.get_data(as_text=True), name
    deep = _check(client, deeply_nested_pdf())
    assert deep.status_code == 400 and "壊れている" in deep.get_data(as_text=True)


def test_r_case_4_a_tampered_or_malformed_file_logs_one_info_line_not_a_traceback(app, client, pair, caplog):
    """Does checking a tampered or malformed file log no traceback and nothing at WARNING or above — just
    one-line INFO records — since such uploads are what the page is for?"""
    from tests.pdf_tools import deeply_nested_pdf

    _case, pdf = _sealed(completed_case(app, pair))
    variants = _variants_of(pdf)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        for data in (tamper(pdf), variants["cms"], variants["changed-after-signing"], deeply_nested_pdf()):
            assert _check(client, data).status_code in (200, 400)
    loud = [(r.name, r.levelname, r.getMessage()[:80]) for r in caplog.records
            if r.exc_info or r.levelno >= logging.ERROR or r.name == "pyhanko.sign.diff_analysis.policies"
            and r.levelno >= logging.WARNING]
    assert loud == []
    assert any(r.name == "portal.services.evidence" and r.levelno == logging.INFO for r in caplog.records)
