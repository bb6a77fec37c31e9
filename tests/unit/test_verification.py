"""The verification report behind the evidence download and the public verification page (R-CASE-4)."""
from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

from portal.services.evidence import describe
from portal.services.pki import PortalPKI
from portal.services.signing import InvalidPdf, StampText, prepare_signature_fields, seal_lta, sign_as_party
from portal.services.tsa import InternalTimeStamper
from portal.services.verification import VerificationReport, verify_pdf
from tests.pdf_tools import make_pdf, small_pki, tamper

SIGNED_AT = datetime(2026, 11, 25, 1, 30, tzinfo=UTC)
COMPANIES = [("株式会社発注建設", "1111111111111"), ("株式会社受注工務店", "2222222222222")]


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> PortalPKI:
    pki = small_pki(tmp_path_factory.mktemp("pki"))
    pki.write_crl([])
    return pki


@pytest.fixture(scope="module")
def certificates(pki):
    return [pki.issue_company_certificate(name, number) for name, number in COMPANIES]


@pytest.fixture(scope="module")
def signed(pki, certificates) -> dict[str, bytes]:
    """The contract after each step: party 1 signed, both signed, sealed."""
    timestamper = InternalTimeStamper.from_pki(pki)
    pdf = prepare_signature_fields(make_pdf(), ["発注者", "受注者"])
    steps = {}
    for position, cert in enumerate(certificates, start=1):
        signer = pki.signer_for(cert.cert_pem, cert.key_pem_encrypted)
        stamp = StampText(COMPANIES[position - 1][0], "署名 太郎", SIGNED_AT)
        pdf = steps[f"party{position}"] = sign_as_party(pdf, position, 2, signer, timestamper, stamp)
    steps["sealed"] = seal_lta(pdf, pki.validation_context, timestamper, pki.fresh_revocation_data)
    return steps


def _verify(pki: PortalPKI, pdf: bytes, crls: list[bytes] | None = None) -> VerificationReport:
    """Verify trusting `pki`'s root, with its CRLs (or the given issuing-CA CRLs and the root's)."""
    crls = [pki.current_crl()] if crls is None else crls
    return verify_pdf(pdf, pki.trust_roots(), crls=[*crls, pki.current_root_crl()] if crls else [])


def test_r_case_4_report_names_every_signer_certificate_time_and_tsa(pki, certificates, signed):
    """Does the report list each signature with company, 法人番号, serial, timestamp time and TSA?"""
    started = datetime.now(UTC) - timedelta(minutes=5)
    report = _verify(pki, signed["sealed"])
    assert [s.field_name for s in report.signatures] == ["Party1", "Party2"]
    for sig, cert, (company, number) in zip(report.signatures, certificates, COMPANIES, strict=True):
        assert (sig.company, sig.corporate_number, sig.certificate_serial) == (company, number, cert.serial)
        assert company in sig.signer_subject
        assert sig.certificate_not_after == cert.not_after
        assert sig.signing_time is not None and started <= sig.signing_time <= datetime.now(UTC)
        assert sig.tsa_name is not None and "Ukeoi Timestamping Authority" in sig.tsa_name
        assert sig.timestamp_ok and sig.intact and sig.valid and sig.trusted and sig.bottom_line
        assert not sig.revoked and sig.problem is None


def test_r_case_4_report_shows_certification_and_modification_levels(pki, signed):
    """Is party 1 shown as the certifying signature, and every signature's later changes as allowed ones?"""
    first, second = _verify(pki, signed["sealed"]).signatures
    assert first.certification and first.docmdp_permission == "FILL_FORMS"
    assert not second.certification and second.docmdp_permission is None
    assert first.modification_level == "FORM_FILLING"
    assert second.modification_level == "LTA_UPDATES"
    assert first.docmdp_ok and second.docmdp_ok
    assert first.coverage == second.coverage == "ENTIRE_REVISION"


def test_r_case_4_sealed_file_is_reported_ltv(pki, signed):
    """Does the sealed file report DSS, CRLs, a valid document timestamp, and LTV?"""
    report = _verify(pki, signed["sealed"])
    assert report.has_dss and report.dss_crls >= 1 and report.dss_certificates >= 4
    [timestamp] = report.document_timestamps
    assert timestamp.bottom_line and timestamp.trusted and timestamp.intact
    assert timestamp.tsa_name is not None and "Ukeoi Timestamping Authority" in timestamp.tsa_name
    assert report.ltv and report.valid


def test_r_case_4_a_signed_but_unsealed_file_is_valid_but_not_ltv(pki, signed):
    """Before the seal, are the signatures valid while LTV is reported missing?"""
    report = _verify(pki, signed["party2"])
    assert report.valid
    assert not report.ltv and not report.has_dss and report.document_timestamps == []


def test_r_case_4_the_dss_alone_lets_a_sealed_file_verify(pki, signed):
    """Is the CRL embedded at sealing enough to verify the sealed file without the portal's current CRL?"""
    assert _verify(pki, signed["sealed"], crls=[]).valid


def test_r_case_4_an_unsealed_file_without_revocation_info_is_not_trusted(pki, signed):
    """Without any CRL, is an unsealed signature reported untrusted rather than silently fine?"""
    report = _verify(pki, signed["party1"], crls=[])
    assert not report.valid
    assert not report.signatures[0].trusted and report.signatures[0].problem is not None


def test_r_case_4_a_changed_byte_is_reported_as_broken_integrity(pki, signed):
    """Does the report flag every signature as not intact when the document was altered?"""
    report = _verify(pki, tamper(signed["sealed"]))
    assert all(not sig.intact and not sig.bottom_line for sig in report.signatures)
    assert not report.valid


def test_r_case_4_a_foreign_root_is_not_trusted(pki, signed, tmp_path):
    """Checked against another CA's root, is the signature intact but untrusted?"""
    other = small_pki(tmp_path / "other", b"other")
    other.write_crl([])
    report = verify_pdf(signed["sealed"], other.trust_roots(), crls=[other.current_crl()])
    assert all(sig.intact and not sig.trusted for sig in report.signatures)
    assert not report.valid


def _revoked_crl(pki: PortalPKI, serial: str, at: datetime, reason: str) -> bytes:
    return pki.build_crl([(serial, at.replace(microsecond=0), reason)])


def test_r_case_4_a_certificate_revoked_before_signing_is_reported_revoked(pki, certificates, signed):
    """If the CRL dates a revocation before the signature's timestamp, does the report say revoked and when?"""
    signed_at = _verify(pki, signed["party2"]).signatures[1].signing_time
    revoked_at = signed_at.replace(microsecond=0) - timedelta(seconds=1)
    crl = _revoked_crl(pki, certificates[1].serial, revoked_at, "key_compromise")
    report = _verify(pki, signed["party2"], crls=[crl])
    first, second = report.signatures
    assert first.trusted and not first.revoked
    assert second.revoked and not second.trusted and second.revoked_at == revoked_at
    assert not report.valid


def test_r_case_4_a_later_revocation_does_not_void_earlier_contracts(pki, certificates, signed):
    """After a certificate is revoked on reissue, do contracts it signed before still verify?"""
    signed_at = _verify(pki, signed["party2"]).signatures[1].signing_time
    later = signed_at.replace(microsecond=0) + timedelta(seconds=1)
    report = _verify(pki, signed["party2"], crls=[_revoked_crl(pki, certificates[1].serial, later, "superseded")])
    assert report.valid and not report.signatures[1].revoked


def test_r_case_4_a_crl_issued_after_signing_is_accepted(pki, signed):
    """Does the CRL the cron publishes after signing still vouch for the signing time?"""
    later_crl = pki.build_crl([], now=datetime.now(UTC) + timedelta(minutes=10))
    assert _verify(pki, signed["party2"], crls=[later_crl]).valid


def test_r_case_4_a_certificate_that_expired_after_signing_still_verifies(tmp_path):
    """Is a signature judged at its timestamp, so the signer's certificate may have expired since?"""
    now = datetime.now(UTC)
    pki = small_pki(tmp_path / "pki", now=now - timedelta(days=2))  # CA and TSA valid since two days ago
    cert = pki.issue_company_certificate("株式会社期限切れ", "3333333333333", now=now - timedelta(days=3 * 365 + 1))
    signed_at = cert.not_after - timedelta(hours=1)  # yesterday, an hour before the certificate expired
    timestamper = InternalTimeStamper.from_pki(pki, clock=lambda: signed_at)
    signer = pki.signer_for(cert.cert_pem, cert.key_pem_encrypted)
    prepared = prepare_signature_fields(make_pdf(), ["当事者"])
    pdf = sign_as_party(prepared, 1, 1, signer, timestamper, StampText("期限", "太郎", signed_at))
    [sig] = verify_pdf(pdf, pki.trust_roots(), crls=[pki.write_crl([]), pki.write_root_crl()]).signatures
    assert sig.signing_time == signed_at and cert.not_after < now
    assert sig.trusted and sig.bottom_line


def test_r_case_4_a_pdf_without_signatures_says_so(pki):
    """Does an unsigned PDF give an empty, invalid report instead of an error?"""
    report = _verify(pki, make_pdf())
    assert not report.has_signatures and report.signatures == [] and report.document_timestamps == []
    assert not report.valid and not report.ltv


@pytest.mark.parametrize(
    "data",
    [b"", "署名済みの契約書です".encode(), b"%PDF-1.7\n" + b"\x00" * 100, make_pdf(encrypt="pw")],
    ids=["empty", "text", "broken", "encrypted"],
)
def test_r_case_4_garbage_is_refused_as_invalid_pdf(pki, data):
    """Is a non-PDF upload on the verification page refused with a Japanese message?"""
    with pytest.raises(InvalidPdf) as refused:
        _verify(pki, data)
    assert refused.value.message_ja


def test_r_case_4_an_unreadable_signature_is_refused_with_a_reason(pki, signed):
    """If a signature's CMS blob is garbage, is the file refused saying the signature data is broken?"""
    pdf = signed["party1"]
    start = pdf.index(b"/Contents <") + len(b"/Contents <")
    end = pdf.index(b">", start)
    with pytest.raises(InvalidPdf, match="署名データが壊れている"):
        _verify(pki, pdf[:start] + b"0" * (end - start) + pdf[end:])


def test_r_case_4_a_signature_without_timestamp_is_not_accepted(pki, certificates):
    """Is a signature made elsewhere without an RFC 3161 timestamp reported as missing it, not valid?"""
    writer = IncrementalPdfFileWriter(io.BytesIO(prepare_signature_fields(make_pdf(), ["当事者"])))
    meta = signers.PdfSignatureMetadata(field_name="Party1", subfilter=fields.SigSeedSubFilter.PADES)
    signer = pki.signer_for(certificates[0].cert_pem, certificates[0].key_pem_encrypted)
    untimed = signers.PdfSigner(meta, signer=signer).sign_pdf(writer, existing_fields_only=True).getvalue()
    [sig] = _verify(pki, untimed).signatures
    assert sig.intact and sig.signing_time is None and not sig.timestamp_ok
    assert sig.problem == "NO_SIGNATURE_TIMESTAMP" and not sig.bottom_line


def test_r_case_4_a_tampered_file_is_summarised_as_tampered_not_as_untrusted(pki, signed):
    """For a changed file, does the summary name the real failure (改ざん, 無効) first, and does no signature
    blame its certificate's trust instead?"""
    view = describe(_verify(pki, tamper(signed["sealed"])))
    assert view.verdict == "改ざんされています（無効）"
    assert "改ざん" in view.headline
    for item in view.signatures:
        trust = next(line for line in item.lines if line.label == "証明書の信頼性")
        assert trust.value != "信頼できません"


def test_r_case_4_report_shows_japanese_name_labels_and_the_field_number(pki, signed):
    """Does the report label the certificate name in Japanese (シリアル番号, 名前(CN), 組織(O), 国(C)) and the
    signature field by number, with no English field names left?"""
    view = describe(_verify(pki, signed["sealed"]))
    first = view.signatures[0]
    subject = next(line.value for line in first.lines if line.label == "証明書の主体者")
    labels = ("シリアル番号: 1111111111111", "名前(CN): 株式会社発注建設", "組織(O): 株式会社発注建設", "国(C): JP")
    for label in labels:
        assert label in subject
    assert "（署名欄 1）" in first.title
    texts = " ".join([item.title for item in view.signatures + view.timestamps]
                     + [line.value for item in view.signatures + view.timestamps for line in item.lines])
    for english in ("Serial Number", "Common Name", "Organization", "Country", "Party1"):
        assert english not in texts


def test_r_case_4_the_sealed_file_is_called_b_lta_only_after_strict_lta_validation(pki, signed):
    """Is the sealed file reported B-LTA because pyHanko's strict LTA validation passed, with OCSP responses in
    its DSS, and is a signed but unsealed file not?"""
    sealed = _verify(pki, signed["sealed"])
    assert sealed.lta_passed and sealed.ltv and sealed.dss_ocsps >= 3
    assert describe(sealed).notes[1].value == "あり（PAdES B-LTA）"
    unsealed = _verify(pki, signed["party2"])
    assert not unsealed.lta_passed and not unsealed.ltv
