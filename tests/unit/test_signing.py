"""PAdES signing of contract PDFs (R-CASE-3): real PKI, real PDFs, pyHanko's validator and poppler's pdfsig."""
from __future__ import annotations

import functools
import io
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.x509 import ocsp
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields
from pyhanko.sign.ades.report import AdESPassed
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import DocumentSecurityStore, validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator.errors import PathValidationError

from portal.services.pki import IssuedCertificate, PortalPKI
from portal.services.signing import (
    InvalidPdf,
    StampText,
    inspect_upload,
    page_count,
    prepare_signature_fields,
    seal_lta,
    sign_as_party,
    signature_area_height,
    signature_boxes,
    signature_timestamp_time,
)
from portal.services.tsa import InternalTimeStamper, TimestampUnavailable, make_timestamper
from tests.pdf_tools import make_pdf, make_zero_page_pdf, pdfsig, small_pki, strict_lta_results, tamper

SIGNED_AT = datetime(2026, 11, 25, 1, 30, tzinfo=UTC)  # 10:30 JST


@dataclass(frozen=True)
class Contract:
    parties: list[IssuedCertificate]
    versions: list[bytes]  # prepared, after party 1, ..., after party N
    sealed: bytes


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> PortalPKI:
    pki = small_pki(tmp_path_factory.mktemp("pki"))
    pki.write_crl([])
    return pki


@pytest.fixture(scope="module")
def timestamper(pki) -> InternalTimeStamper:
    return InternalTimeStamper.from_pki(pki)


@pytest.fixture(scope="module")
def companies(pki) -> list[IssuedCertificate]:
    return [pki.issue_company_certificate(f"株式会社テスト{n}号建設", f"100000000000{n}") for n in range(1, 4)]


def _stamp(position: int) -> StampText:
    return StampText(company=f"株式会社テスト{position}号建設", signer_name="山田 太郎", signed_at=SIGNED_AT)


def _sign_all(pki, timestamper, parties: list[IssuedCertificate], pdf: bytes) -> Contract:
    versions = [prepare_signature_fields(pdf, [f"当事者{n}" for n in range(1, len(parties) + 1)])]
    for position, cert in enumerate(parties, start=1):
        signer = pki.signer_for(cert.cert_pem, cert.key_pem_encrypted)
        versions.append(sign_as_party(versions[-1], position, len(parties), signer, timestamper, _stamp(position)))
    sealed = seal_lta(versions[-1], pki.validation_context, timestamper, pki.fresh_revocation_data)
    return Contract(parties=parties, versions=versions, sealed=sealed)


@pytest.fixture(scope="module", params=[2, 3], ids=["2-parties", "3-parties"])
def contract(request, pki, timestamper, companies) -> Contract:
    return _sign_all(pki, timestamper, companies[: request.param], make_pdf(pages=2))


def _statuses(pki: PortalPKI, pdf: bytes, crls: list[bytes] | None = None) -> dict[str, PdfSignatureStatus]:
    reader = PdfFileReader(io.BytesIO(pdf))
    return {
        sig.field_name: validate_pdf_signature(sig, pki.validation_context(crls), pki.validation_context(crls))
        for sig in reader.embedded_regular_signatures
    }


# ---------------------------------------------------------------------- pyHanko's view


def test_r_case_3_every_party_signature_is_intact_trusted_and_timestamped(pki, contract):
    """After sealing, is every party's signature intact, trusted and carrying a trusted timestamp (B-T)?"""
    statuses = _statuses(pki, contract.sealed)
    assert list(statuses) == [f"Party{n}" for n in range(1, len(contract.parties) + 1)]
    for name, status in statuses.items():
        assert status.intact and status.valid and status.trusted, name
        assert status.timestamp_validity is not None and status.timestamp_validity.trusted, name
        assert status.bottom_line, name
        assert format(status.signing_cert.serial_number, "x") == contract.parties[int(name[5:]) - 1].serial


def test_r_case_3_first_party_certifies_and_the_others_approve(contract):
    """Does party 1 certify with DocMDP 'form filling and signatures', and do the others approve?"""
    reader = PdfFileReader(io.BytesIO(contract.sealed))
    certification = reader.root["/Perms"]["/DocMDP"]
    by_name = {sig.field_name: sig for sig in reader.embedded_regular_signatures}
    assert by_name["Party1"].sig_object == certification
    assert by_name["Party1"].docmdp_level == fields.MDPPerm.FILL_FORMS
    for name, sig in by_name.items():
        if name != "Party1":
            assert "/Reference" not in sig.sig_object, name


def test_r_case_3_later_signatures_and_the_seal_keep_earlier_signatures_at_form_filling(pki, contract):
    """Are the later signatures, DSS and document timestamp only FORM_FILLING (or LTA) changes for each signature?"""
    for name, status in _statuses(pki, contract.sealed).items():
        assert status.modification_level in (ModificationLevel.LTA_UPDATES, ModificationLevel.FORM_FILLING), name
        assert status.docmdp_ok, name


def test_r_case_3_each_signature_is_an_incremental_update(contract):
    """Does every step append to the file, leaving the earlier bytes (and signatures) untouched?"""
    steps = [*contract.versions, contract.sealed]
    for before, after in zip(steps, steps[1:], strict=False):
        assert after.startswith(before) and len(after) > len(before)
    for signed_count, version in enumerate(contract.versions):
        assert len(PdfFileReader(io.BytesIO(version)).embedded_regular_signatures) == signed_count


def test_r_case_3_the_sealed_file_is_pades_b_lta(pki, contract):
    """Does the sealed file hold a DSS with certificates and CRLs, closed by a valid document timestamp?"""
    reader = PdfFileReader(io.BytesIO(contract.sealed))
    dss = reader.root["/DSS"]
    assert len(dss["/Certs"]) >= len(contract.parties) + 2  # companies, issuing CA, TSA (+ root)
    assert len(dss["/CRLs"]) >= 1
    [doc_timestamp] = reader.embedded_timestamp_signatures
    status = validate_pdf_timestamp(doc_timestamp, validation_context=pki.validation_context())
    assert status.intact and status.valid and status.trusted
    assert "/DSS" not in PdfFileReader(io.BytesIO(contract.versions[-1])).root


# ---------------------------------------------------------------------- an independent validator


def test_r_case_3_sealed_file_passes_pyhankos_strict_lta_validation_now_and_in_4_and_9_years(pki, contract):
    """Does every party signature pass pyHanko's AdES LTA validation with REQUIRE_REVINFO, trusting only the
    root, at seal time and when simulated 4 and 9 years on (company and TSA certificates long expired)?"""
    results = strict_lta_results(contract.sealed, pki.trust_roots())
    assert len(results) == 3 * len(contract.parties)
    assert all(subindic == AdESPassed.OK for _when, subindic in results), results


def test_r_case_3_seal_revocation_data_is_issued_after_the_last_signature_timestamp(pki, contract):
    """Are the CRLs and OCSP responses in the DSS dated strictly after the newest signature timestamp,
    even though the seal may run in the same second?"""
    reader = PdfFileReader(io.BytesIO(contract.sealed))
    last_signed = max(signature_timestamp_time(sig) for sig in reader.embedded_regular_signatures)
    dss = DocumentSecurityStore.read_dss(reader)
    crls = [x509.load_der_x509_crl(ref.get_object().data) for ref in dss.crls]
    ocsps = [ocsp.load_der_ocsp_response(ref.get_object().data) for ref in dss.ocsps]
    assert {crl.issuer.rfc4514_string() for crl in crls} >= {"CN=Ukeoi Root CA,O=Ukeoi,C=JP",
                                                             "CN=Ukeoi Issuing CA,O=Ukeoi,C=JP"}
    assert len(ocsps) >= len(contract.parties) + 1  # every company certificate and the TSA certificate
    assert all(crl.last_update_utc > last_signed for crl in crls)
    assert all(response.produced_at_utc > last_signed for response in ocsps)


def test_r_case_3_pdfsig_accepts_every_party_signature(pki, contract, tmp_path):
    """Does poppler's pdfsig, trusting only the portal root, find every party signature valid and trusted?"""
    report = pdfsig(contract.sealed, pki.root_cert_pem(), tmp_path)
    for position in range(1, len(contract.parties) + 1):
        block = report[f"Party{position}"]
        assert "Signature Validation: Signature is Valid." in block
        assert "Certificate Validation: Certificate is Trusted." in block
        assert "Signature Type: ETSI.CAdES.detached" in block


def test_r_case_3_a_changed_byte_breaks_the_signatures(pki, contract, tmp_path):
    """If one byte of the signed document changes, do pyHanko and pdfsig both report it?"""
    tampered = tamper(contract.sealed)
    for name, status in _statuses(pki, tampered).items():
        assert not status.intact, name
        assert not status.bottom_line, name
    report = pdfsig(tampered, pki.root_cert_pem(), tmp_path)
    assert "Signature Validation: Signature is Valid." not in report["Party1"]
    assert "Digest Mismatch" in report["Party1"]


# ---------------------------------------------------------------------- failures


def test_r_acc_4_a_revoked_certificate_is_reported_and_not_sealed(pki, timestamper, companies):
    """Is a signature by a revoked certificate reported revoked, and does sealing refuse it?"""
    revoked = pki.issue_company_certificate("株式会社失効建設", "2000000000001")
    signed = _sign_one(pki, timestamper, revoked)
    crl = pki.build_crl([(revoked.serial, datetime.now(UTC) - timedelta(minutes=1), "key_compromise")])
    status = _statuses(pki, signed, [crl, pki.build_root_crl()])["Party1"]
    assert status.revoked and not status.trusted and not status.bottom_line
    with pytest.raises(PathValidationError):
        seal_lta(signed, functools.partial(pki.validation_context, [crl, pki.build_root_crl()]), timestamper)


def test_r_acc_4_reissuing_a_certificate_mid_case_does_not_block_the_seal(pki, timestamper, companies):
    """If party 1's certificate is revoked (superseded) after it signed, can the case still be sealed and verified?"""
    first, second = (pki.issue_company_certificate(f"株式会社再発行{n}", f"400000000000{n}") for n in (1, 2))
    pdf = prepare_signature_fields(make_pdf(), ["当事者1", "当事者2"])
    pdf = sign_as_party(pdf, 1, 2, pki.signer_for(first.cert_pem, first.key_pem_encrypted), timestamper, _stamp(1))
    crls = [pki.build_crl([(first.serial, datetime.now(UTC) + timedelta(seconds=1), "superseded")]),
            pki.build_root_crl()]
    pdf = sign_as_party(pdf, 2, 2, pki.signer_for(second.cert_pem, second.key_pem_encrypted), timestamper, _stamp(2))
    with pytest.raises(PathValidationError):  # judged after the revocation, party 1 is refused
        seal_lta(pdf, pki.validation_context(crls, moment=datetime.now(UTC) + timedelta(seconds=5)), timestamper)
    sealed = seal_lta(pdf, functools.partial(pki.validation_context, crls), timestamper)
    assert len(PdfFileReader(io.BytesIO(sealed)).embedded_timestamp_signatures) == 1


def test_r_case_3_no_timestamp_means_no_signature(pki, companies):
    """With the TSA unreachable, does signing fail with TimestampUnavailable instead of an untimed signature?"""
    prepared = prepare_signature_fields(make_pdf(), ["当事者1", "当事者2"])
    signer = pki.signer_for(companies[0].cert_pem, companies[0].key_pem_encrypted)
    stamper = make_timestamper(pki, ["http://127.0.0.1:9/"])
    with pytest.raises(TimestampUnavailable):
        sign_as_party(prepared, 1, 2, signer, stamper, _stamp(1))


def test_r_case_3_sealing_without_a_tsa_fails(pki, contract):
    """Does sealing also refuse to finish without a document timestamp?"""
    with pytest.raises(TimestampUnavailable):
        seal_lta(contract.versions[-1], pki.validation_context, make_timestamper(pki, ["http://127.0.0.1:9/"]))


def test_r_case_3_position_must_be_within_the_parties(pki, timestamper, companies):
    """Is a position outside 1..total refused before anything is signed?"""
    signer = pki.signer_for(companies[0].cert_pem, companies[0].key_pem_encrypted)
    with pytest.raises(ValueError, match="position"):
        sign_as_party(make_pdf(), 3, 2, signer, timestamper, _stamp(1))


def test_a_field_added_after_certification_is_not_form_filling(pki, timestamper, companies):
    """Measured fact behind prepare_signature_fields: does adding a field after certifying break DocMDP?"""
    signed = _sign_one(pki, timestamper, companies[0])
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    fields.append_signature_field(writer, fields.SigFieldSpec("Late", on_page=0, box=(50, 300, 250, 350)))
    out = io.BytesIO()
    writer.write(out)
    status = _statuses(pki, out.getvalue())["Party1"]
    assert status.modification_level == ModificationLevel.OTHER
    assert not status.docmdp_ok and not status.bottom_line


def _sign_one(pki: PortalPKI, timestamper, cert: IssuedCertificate) -> bytes:
    prepared = prepare_signature_fields(make_pdf(), ["当事者1"])
    signer = pki.signer_for(cert.cert_pem, cert.key_pem_encrypted)
    return sign_as_party(prepared, 1, 1, signer, timestamper, _stamp(1))


# ---------------------------------------------------------------------- fields and stamp


def test_r_case_3_signature_fields_sit_on_the_last_page_without_overlapping():
    """Are the empty fields Party1..N pre-created as visible boxes on the last page, inside it, apart?"""
    prepared = prepare_signature_fields(make_pdf(pages=3), ["甲", "乙", "丙", "丁"])
    reader = PdfFileReader(io.BytesIO(prepared))
    last_page = reader.root["/Pages"]["/Kids"][2].get_object()
    widgets = {annot.get_object()["/T"]: annot.get_object() for annot in last_page["/Annots"]}
    assert sorted(widgets) == ["Party1", "Party2", "Party3", "Party4"]
    assert [widgets[f"Party{n}"]["/TU"] for n in range(1, 5)] == ["甲", "乙", "丙", "丁"]
    rects = [tuple(float(v) for v in widget["/Rect"]) for widget in widgets.values()]
    _assert_apart_and_inside(rects, (0, 0, 595.27, 841.89))
    assert all("/V" not in widget for widget in widgets.values())


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8])
def test_signature_boxes_never_overlap(count):
    """For any number of parties, do the boxes stay apart, on the page and below the reserved height?"""
    page = (0.0, 0.0, 595.0, 842.0)
    boxes = signature_boxes(page, count)
    assert len(boxes) == count
    _assert_apart_and_inside(boxes, page)
    assert max(box[3] for box in boxes) == signature_area_height(count)


def _assert_apart_and_inside(rects, page) -> None:
    for index, (llx, lly, urx, ury) in enumerate(rects):
        assert page[0] <= llx < urx <= page[2] and page[1] <= lly < ury <= page[3]
        for other in rects[index + 1 :]:
            assert urx <= other[0] or other[2] <= llx or ury <= other[1] or other[3] <= lly


def test_r_case_3_visible_stamp_shows_company_signer_and_jst_time_in_an_embedded_font(contract, tmp_path):
    """Does the stamp render the company, signer and JST time with IPAex Gothic embedded?"""
    path = tmp_path / "signed.pdf"
    path.write_bytes(contract.versions[1])
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    stamp_fonts = [line for line in fonts.splitlines() if "IPAexGothic-Identity-H" in line]
    assert stamp_fonts and all(" yes yes yes " in line for line in stamp_fonts)
    reader = PdfFileReader(io.BytesIO(contract.versions[1]))
    [sig] = reader.embedded_regular_signatures
    appearance = sig.sig_field["/AP"]["/N"]
    assert appearance.data  # a drawn stamp, not the empty placeholder
    assert "/Font" in appearance["/Resources"] or "/XObject" in appearance["/Resources"]


def test_r_case_3_stamp_text_is_japanese_in_jst():
    """Does the stamp say the company, the signer and the time in JST?"""
    from portal.services.signing import stamp_text

    assert stamp_text(_stamp(1)) == "株式会社テスト1号建設\n署名者：山田 太郎\n2026年11月25日 10:30（日本時間）"


# ---------------------------------------------------------------------- uploads


def test_r_case_1_a_good_upload_reports_its_pages():
    """Is a normal contract PDF accepted with its page count?"""
    assert inspect_upload(make_pdf(pages=4), max_bytes=10_000_000).page_count == 4
    assert page_count(make_pdf(pages=2)) == 2


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: "これは契約書ではありません".encode() * 10, "PDFファイルではありません"),
        (lambda: make_pdf(encrypt="secret"), "パスワード"),
        (lambda: make_pdf()[:2000], "壊れている"),
        (lambda: b"%PDF-1.7\n%garbage\n" + b"\x00" * 500, "壊れている"),
        (make_zero_page_pdf, "ページのない"),
        (lambda: make_pdf(pages=80), "大きすぎます"),
    ],
    ids=["text-renamed-pdf", "encrypted", "truncated", "garbage-after-header", "zero-pages", "oversized"],
)
def test_r_case_1_bad_uploads_are_refused_in_japanese(make, message):
    """Are non-PDFs, encrypted, broken, empty and oversized files refused with a Japanese message?"""
    with pytest.raises(InvalidPdf) as refused:
        inspect_upload(make(), max_bytes=60_000)
    assert message in refused.value.message_ja


def test_r_case_1_an_already_signed_pdf_is_refused(pki, timestamper, companies):
    """Is a PDF that already carries a signature refused, since party 1 must certify first?"""
    with pytest.raises(InvalidPdf, match="署名済み"):
        inspect_upload(_sign_one(pki, timestamper, companies[0]), max_bytes=10_000_000)
