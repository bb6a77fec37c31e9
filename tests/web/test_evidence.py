"""Evidence of a completed case (R-CASE-4): the report page, the evidence package and the report PDF, for the
parties only, every download audited; the package lets anyone validate the contract offline (pdfsig)."""
from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Case
from portal.services import cases, certificates, evidence
from portal.services.storage import get_store
from tests.evidence_support import completed_case, parties, sent_case
from tests.pdf_tools import make_pdf, pdfsig
from tests.web.cases_support import certified_company, client_for, fresh

NAMES = ["甲建設株式会社", "乙工務店株式会社", "丙設備株式会社"]


@pytest.fixture
def trio(ctx, portal_pki) -> list[int]:
    return parties((NAMES[0], "kou"), (NAMES[1], "otsu"), (NAMES[2], "hei"))


@pytest.fixture
def done(app, trio) -> int:
    """A three-party case signed by all and sealed, with a 約款 attachment."""
    return completed_case(app, trio, attachment=make_pdf(1, title="工事請負契約約款"))


@pytest.fixture
def pair_done(app, trio) -> int:
    """A two-party case (甲 and 乙) signed and sealed: cheaper where a third party adds nothing."""
    return completed_case(app, trio[:2])


def _zip(client, case_id: int) -> dict[str, bytes]:
    response = client.get(f"/cases/{case_id}/evidence.zip")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _final(case_id: int):
    fresh()
    case = db.session.get(Case, case_id)
    return case, cases.final_document(case)


def test_r_case_4_evidence_package_holds_the_signed_pdf_reports_audit_trail_and_ca_certificates(app, done):
    """Does the zip hold the sealed PDF byte for byte, both reports, the audit trail, the portal's CA PEMs,
    the CRL, the attachment, a README and correct checksums?"""
    files = _zip(client_for(app, "otsu"), done)
    case, final = _final(done)
    pki = certificates.pki()

    assert files[f"{case.number}_signed.pdf"] == get_store().get(final.sha256)
    assert {evidence.REPORT_HTML, evidence.REPORT_PDF, evidence.AUDIT_CSV, evidence.AUDIT_JSON,
            evidence.README, evidence.CHECKSUMS} <= set(files)
    assert files[evidence.ROOT_PEM] == pki.root_cert_pem()
    assert b"BEGIN CERTIFICATE" in files[evidence.ISSUING_PEM] and b"BEGIN CERTIFICATE" in files[evidence.TSA_PEM]
    assert files[evidence.CRL_FILE] == pki.current_crl()
    assert files[evidence.ROOT_CRL_FILE] == pki.current_root_crl()
    attachment = [name for name in files if name.startswith("attachments/")]
    assert len(attachment) == 1 and files[attachment[0]].startswith(b"%PDF-")
    sums = dict(reversed(line.split("  ", 1)) for line in files[evidence.CHECKSUMS].decode().splitlines())
    assert set(sums) == set(files) - {evidence.CHECKSUMS}
    assert all(hashlib.sha256(files[name]).hexdigest() == digest for name, digest in sums.items())
    readme = files[evidence.README].decode("utf-8")
    assert evidence.root_fingerprint() in readme and "pdfsig" in readme and "Acrobat" in readme


def test_r_case_4_report_names_every_signer_certificate_time_tsa_integrity_and_ltv(app, done):
    """Do the HTML and PDF reports name each party's company, certificate serial and TSA, say every signature
    is intact and unmodified beyond form filling, and show the document timestamp and LTV?"""
    files = _zip(client_for(app, "kou"), done)
    case, _final_doc = _final(done)
    serials = [p.certificate_serial for p in case.parties]
    html = files[evidence.REPORT_HTML].decode("utf-8")
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=files[evidence.REPORT_PDF],
                          capture_output=True, check=True).stdout.decode("utf-8")
    for rendered in (html, text):
        for name, serial in zip(NAMES, serials, strict=True):
            assert name in rendered and serial in rendered
        assert "Ukeoi Timestamping Authority" in rendered
        assert "署名後に改ざんされていません" in rendered
        assert "署名欄への署名・検証情報の追加のみ" in rendered
        assert "文書タイムスタンプ1" in rendered
        assert "PAdES B-LTA" in rendered
        assert "無効" not in rendered
        assert "シリアル番号" in rendered and "（署名欄 1）" in rendered
        assert "Serial Number" not in rendered and "Party1" not in rendered
    assert html.count('class="report-item ok"') == 4  # three signatures and the document timestamp
    assert "認証署名（DocMDP：署名欄への署名とフォーム入力のみ許可）" in html


def test_r_case_4_audit_trail_lists_the_case_events_with_hashes_anyone_can_recompute(app, done):
    """Does the package's audit trail list this case's events (with the download itself), each with a hash
    that recomputes from the listed fields, in JSON and in a CSV that Excel opens?"""
    files = _zip(client_for(app, "hei"), done)
    trail = json.loads(files[evidence.AUDIT_JSON])
    events = trail["events"]
    actions = [e["action"] for e in events]
    assert actions[0] == "created"
    assert {"sent", "consented", "signed", "completed", "downloaded"} <= set(actions)
    assert actions.count("signed") == 3
    case, _ = _final(done)
    assert {e["case_number"] for e in events} == {case.number}
    for event in events:
        body = {name: event[name] for name in trail["hashed_fields"]}
        canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
        assert hashlib.sha256(canonical).hexdigest() == event["hash"]
    download = next(e for e in events if e["action"] == "downloaded")
    assert download["company_name"] == NAMES[2] and download["ip"] and download["detail"]["what"] == "evidence_package"
    csv_text = files[evidence.AUDIT_CSV].decode("utf-8")
    assert csv_text.startswith("\ufeffid,created_at,")
    assert len(csv_text.strip().splitlines()) == len(events) + 1


def test_r_case_4_signed_pdf_from_the_package_validates_offline_with_pdfsig(app, done, tmp_path):
    """With only the package's own root PEM in a fresh NSS database, does poppler's pdfsig find every party's
    signature valid and its certificate trusted (no network, no portal)?"""
    files = _zip(client_for(app, "kou"), done)
    case, _ = _final(done)
    report = pdfsig(files[f"{case.number}_signed.pdf"], files[evidence.ROOT_PEM], tmp_path)
    for position in (1, 2, 3):
        block = report[f"Party{position}"]
        assert "Signature is Valid" in block, block
        assert "Certificate is Trusted" in block, block


def test_r_case_4_evidence_page_shows_the_report_and_the_downloads(app, pair_done):
    """Is the evidence page linked from the case, and does it show the verification report and the three downloads?"""
    client = client_for(app, "kou")
    assert f"/cases/{pair_done}/evidence" in client.get(f"/cases/{pair_done}").get_data(as_text=True)
    page = client.get(f"/cases/{pair_done}/evidence")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'id="verification-report"' in body
    for name in NAMES[:2]:
        assert name in body
    for path in ("signed.pdf", "evidence.zip", "evidence/report.pdf"):
        assert f"/cases/{pair_done}/{path}" in body


def test_r_case_4_every_evidence_download_is_audited(app, pair_done):
    """Are the zip, the report PDF and the signed PDF each recorded as "downloaded" with the user's company?"""
    client = client_for(app, "otsu")
    assert client.get(f"/cases/{pair_done}/evidence.zip").status_code == 200
    report = client.get(f"/cases/{pair_done}/evidence/report.pdf")
    assert report.status_code == 200 and report.mimetype == "application/pdf" and report.data.startswith(b"%PDF-")
    assert client.get(f"/cases/{pair_done}/signed.pdf").status_code == 200
    fresh()
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.case_id == pair_done, AuditEvent.action == "downloaded")
        .order_by(AuditEvent.id)
    ).all()
    assert [e.detail.get("what") for e in events] == ["evidence_package", "verification_report", None]
    otsu = db.session.get(Case, pair_done).parties[1].company_id
    assert all(e.company_id == otsu and e.ip for e in events)


def test_r_case_4_a_company_that_is_not_a_party_gets_404(app, pair_done):
    """Does another company's user get 404 (not 403: the case's existence is not revealed) on the report page,
    the zip and the report PDF, with nothing recorded as downloaded?"""
    certified_company("丁電気株式会社", "tei")
    client = client_for(app, "tei")
    fresh()
    before = db.session.scalar(select(db.func.count()).select_from(AuditEvent))
    for path in ("evidence", "evidence.zip", "evidence/report.pdf", "signed.pdf"):
        assert client.get(f"/cases/{pair_done}/{path}").status_code == 404, path
    fresh()
    assert db.session.scalar(select(db.func.count()).select_from(AuditEvent)) == before


def test_r_store_4_evidence_is_only_for_a_party_the_signed_revision_was_sent_to(app, pair_done):
    """If 乙's record of what it was sent names only an earlier revision, does it get 404 on the report page,
    the zip, the report PDF and the signed PDF, while 甲 still gets them? (The evidence follows the sends.)"""
    fresh()
    case = db.session.get(Case, pair_done)
    otsu_id = case.parties[1].company_id
    for delivery in case.deliveries:
        if delivery.company_id == otsu_id:
            delivery.revision = 0  # as if only an earlier revision had been sent to 乙
    db.session.commit()
    otsu, kou = client_for(app, "otsu"), client_for(app, "kou")
    assert otsu.get(f"/cases/{pair_done}").status_code == 200  # the case itself is still 乙's
    for path in ("evidence", "evidence.zip", "evidence/report.pdf", "signed.pdf"):
        assert otsu.get(f"/cases/{pair_done}/{path}").status_code == 404, path
        assert kou.get(f"/cases/{pair_done}/{path}").status_code == 200, path


def test_r_case_4_a_case_not_yet_complete_has_no_evidence(app, trio):
    """Before every party has signed, does even a party get 404 for the evidence package?"""
    case_id = sent_case(app, trio[:2])
    client = client_for(app, "kou")
    assert client.get(f"/cases/{case_id}/evidence.zip").status_code == 404
    assert client.get(f"/cases/{case_id}/evidence").status_code == 404


def test_r_case_4_staff_cannot_download_a_companys_evidence(app, pair_done, staff_user):
    """Is the evidence download a company user's function (staff export through the CLI instead)?"""
    from tests.conftest import csrf_token_from

    client = app.test_client()
    page = client.get("/login")
    client.post("/login", data={"login_id": "staff1", "password": "correct-horse-battery-staple",
                                "csrf_token": csrf_token_from(page)})
    assert client.get(f"/cases/{pair_done}/evidence.zip").status_code == 403
