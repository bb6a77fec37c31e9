"""Verification of signed PDFs with pyHanko's validator (R-CASE-4).

The same function feeds the evidence report of a completed case and the public verification page.
It returns plain data (dataclasses of str/bool/datetime); rendering is the caller's business.

Validation is point-in-time, as PAdES intends: each signature is judged at the time of its own signature
timestamp (so a certificate that expires or is revoked *later*, e.g. superseded on reissue, does not void
contracts signed before), each document timestamp at the time of the next one, the last one now. Trust
comes from the given roots; revocation data from the CRLs given plus those embedded in the DSS, and every
certificate below a root needs some (pyHanko's REQUIRE_REVINFO, `pki.revinfo_policy`).

Long-term validation (`VerificationReport.ltv`) is pyHanko's own AdES LTA validation of every signature
under the same strict policy, from what the file carries alone (DSS and document timestamps): a file
whose archive data is incomplete is not called B-LTA, whatever its shape.
Modification levels and coverage are pyHanko enum names, e.g. "FORM_FILLING".
"""
from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import cms, x509
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESPassed
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    EmbeddedPdfSignature,
    ades,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.errors import NoDSSFoundError, SignatureValidationError
from pyhanko.sign.validation.policy_decl import (
    CertificateFetchingRule,
    CertValidationPolicySpec,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.status import PdfSignatureStatus, TimestampSignatureStatus
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleTrustManager

from portal.services.pki import make_validation_context, revinfo_policy
from portal.services.signing import PARSE_ERRORS, InvalidPdf, signature_timestamp_time

# Long-term validation judges the file on what it carries: nothing is fetched, not even from the portal.
LOCAL_ONLY = RevocationInfoGatheringSpec(
    online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY,
    certificate_fetching_rule=CertificateFetchingRule.NEVER_FETCH,
)

# What a malformed or unsupported signature can raise while being read or validated.
_VALIDATION_ERRORS = (SignatureValidationError, PdfError, ValueError, KeyError, TypeError)
# Everything reading or validating a hostile file can raise (RecursionError: absurd nesting).
_UNREADABLE = (*PARSE_ERRORS, *_VALIDATION_ERRORS)

# pyHanko logs each problem it finds in a signature with the whole traceback (a change after signing:
# WARNING; a malformed certificate: ERROR). A tampered upload is what the verification page is for, not
# an incident: each such record becomes one INFO line naming the exception.
_PYHANKO_LOGGERS = (
    "pyhanko.sign.validation.ades",
    "pyhanko.sign.validation.generic_cms",
    "pyhanko.sign.validation.pdf_embedded",
    "pyhanko.sign.validation.status",
    "pyhanko.sign.diff_analysis.policies",
    "pyhanko.pdf_utils.reader",
    "pyhanko.pdf_utils.xref",
    "pyhanko_certvalidator.revinfo.validate_crl",
)


class _OneLineInfo(logging.Filter):
    """Turns a record that carries a traceback into one INFO line: message, exception type and text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(exc).__name__}: {exc})".replace("\n", " ")
            record.args = None
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


for _logger_name in _PYHANKO_LOGGERS:
    logging.getLogger(_logger_name).addFilter(_OneLineInfo())


@dataclass(frozen=True)
class SignatureReport:
    """One party's signature. The defaults describe a signature that could not be validated at all."""

    field_name: str
    signer_subject: str = ""
    company: str | None = None  # O of the signer certificate
    corporate_number: str | None = None  # serialNumber (法人番号) of the signer certificate
    certificate_serial: str = ""  # lowercase hex
    certificate_not_after: datetime | None = None
    certification: bool = False  # the first signature, carrying DocMDP
    docmdp_permission: str | None = None  # e.g. "FILL_FORMS" on the certification signature
    signing_time: datetime | None = None  # from the signature timestamp (trusted time)
    tsa_name: str | None = None
    timestamp_ok: bool = False
    intact: bool = False  # the signed bytes are unchanged
    valid: bool = False  # the cryptographic signature checks out
    trusted: bool = False  # chains to a trust root, within validity, not revoked
    revoked: bool = False
    revoked_at: datetime | None = None
    modification_level: str | None = None  # what changed after signing, e.g. "FORM_FILLING"
    coverage: str | None = None  # e.g. "ENTIRE_REVISION"
    docmdp_ok: bool | None = None
    bottom_line: bool = False  # pyHanko's overall judgement, and a signature timestamp is present
    problem: str | None = None  # AdES sub-indication or validation error, when something failed


@dataclass(frozen=True)
class TimestampReport:
    """A document timestamp (the B-LTA archive timestamp)."""

    field_name: str
    time: datetime | None = None
    tsa_name: str | None = None
    intact: bool = False
    trusted: bool = False
    modification_level: str | None = None
    coverage: str | None = None
    bottom_line: bool = False
    problem: str | None = None


@dataclass(frozen=True)
class VerificationReport:
    signatures: list[SignatureReport] = field(default_factory=list)
    document_timestamps: list[TimestampReport] = field(default_factory=list)
    has_dss: bool = False
    dss_certificates: int = 0
    dss_crls: int = 0
    dss_ocsps: int = 0
    lta_passed: bool = False  # pyHanko's AdES LTA validation passed (AdESPassed.OK) for every signature
    lta_problem: str | None = None  # its sub-indication for the first signature that did not pass

    @property
    def has_signatures(self) -> bool:
        return bool(self.signatures)

    @property
    def ltv(self) -> bool:
        """PAdES B-LTA that holds: sealed by valid document timestamps, and pyHanko's strict AdES LTA
        validation (revocation data for every certificate below the root) passes for every signature."""
        return (
            self.has_dss
            and self.lta_passed
            and bool(self.document_timestamps)
            and all(ts.bottom_line for ts in self.document_timestamps)
        )

    @property
    def valid(self) -> bool:
        """At least one signature, and every signature and document timestamp passes."""
        return (
            self.has_signatures
            and all(sig.bottom_line for sig in self.signatures)
            and all(ts.bottom_line for ts in self.document_timestamps)
        )


def verify_pdf(
    pdf: bytes,
    trust_roots: Iterable[x509.Certificate],
    crls: Iterable[bytes | None] = (),
    other_certs: Iterable[x509.Certificate] = (),
) -> VerificationReport:
    """Validate every signature and document timestamp of `pdf`. Raises `InvalidPdf` for non-PDF input and for
    a file too broken (or too deeply nested) to validate."""
    reader = _open(pdf)
    try:
        return asyncio.run(_verify(reader, list(trust_roots), [crl for crl in crls if crl], list(other_certs)))
    except _UNREADABLE as exc:
        raise InvalidPdf("PDFファイルが壊れているため検証できません。") from exc


def _open(pdf: bytes) -> PdfFileReader:
    if not pdf.lstrip()[:5].startswith(b"%PDF-"):
        raise InvalidPdf("PDFファイルではありません。")
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        if reader.encrypted:
            raise InvalidPdf("パスワードで保護されたPDFは検証できません。")
        reader.root["/Pages"]  # noqa: B018 - fail here on a broken file, not halfway through
    except InvalidPdf:
        raise
    except _UNREADABLE as exc:
        raise InvalidPdf("PDFファイルが壊れているため読み込めません。") from exc
    try:
        reader.embedded_signatures  # noqa: B018 - pyHanko parses every signature's CMS here
    except _UNREADABLE as exc:
        raise InvalidPdf("署名データが壊れているため検証できません。") from exc
    return reader


async def _verify(
    reader: PdfFileReader,
    trust_roots: list[x509.Certificate],
    crls: list[bytes],
    other_certs: list[x509.Certificate],
) -> VerificationReport:
    dss = _read_dss(reader)
    dss_crls = [ref.get_object().read_data(DecodePurpose.CRL) for ref in dss.crls] if dss else []
    dss_ocsps = [ref.get_object().read_data(DecodePurpose.OCSP_RESPONSE) for ref in dss.ocsps] if dss else []
    dss_certs = list(dss.load_certs()) if dss else []

    def context_at(moment: datetime | None) -> ValidationContext:  # fresh per signature: contexts cache results
        return make_validation_context(
            trust_roots, crls=[*crls, *dss_crls], ocsps=dss_ocsps, other_certs=[*other_certs, *dss_certs],
            moment=moment,
        )

    signatures = [
        await _signature_report(sig, context_at(signature_timestamp_time(sig)))
        for sig in reader.embedded_regular_signatures
    ]
    doc_timestamps = reader.embedded_timestamp_signatures
    # Each archive timestamp is vouched for by the next one; the last one must hold now.
    moments = [_token_time(ts.signed_data) for ts in doc_timestamps[1:]] + [None] if doc_timestamps else []
    timestamps = [
        await _timestamp_report(sig, context_at(moment))
        for sig, moment in zip(doc_timestamps, moments, strict=True)
    ]
    lta_problem = await _lta_problem(reader, trust_roots) if dss is not None and timestamps else "NO_ARCHIVE_DATA"
    return VerificationReport(
        signatures=signatures,
        document_timestamps=timestamps,
        has_dss=dss is not None,
        dss_certificates=len(dss_certs),
        dss_crls=len(dss_crls),
        dss_ocsps=len(dss_ocsps),
        lta_passed=lta_problem is None and bool(signatures),
        lta_problem=lta_problem,
    )


async def _lta_problem(reader: PdfFileReader, trust_roots: list[x509.Certificate]) -> str | None:
    """pyHanko's AdES LTA validation of each signature, trusting only `trust_roots`, under the strict
    revocation policy: None when all pass, else the sub-indication of the first that does not."""
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(trust_roots), revinfo_policy=revinfo_policy()
            ),
            revinfo_gathering_policy=LOCAL_ONLY,
        )
    )
    for sig in reader.embedded_regular_signatures:
        try:
            result = await ades.ades_lta_validation(sig, pdf_validation_spec=spec)
        except _VALIDATION_ERRORS as exc:
            return type(exc).__name__
        if result.ades_subindic != AdESPassed.OK:
            return str(getattr(result.ades_subindic, "name", result.ades_subindic))
    return None


def _read_dss(reader: PdfFileReader) -> DocumentSecurityStore | None:
    try:
        return DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return None


def _token_time(signed_data: cms.SignedData) -> datetime | None:
    try:
        return signed_data["encap_content_info"]["content"].parsed["gen_time"].native
    except _VALIDATION_ERRORS + (AttributeError,):
        return None


async def _signature_report(sig: EmbeddedPdfSignature, vc: ValidationContext) -> SignatureReport:
    identity = _identity(sig)
    try:
        status: PdfSignatureStatus = await async_validate_pdf_signature(
            sig, signer_validation_context=vc, ts_validation_context=vc
        )
    except _VALIDATION_ERRORS as exc:
        return SignatureReport(**identity, problem=str(exc) or type(exc).__name__)
    ts = status.timestamp_validity
    revocation = status.revocation_details
    return SignatureReport(
        **identity,
        signing_time=ts.timestamp if ts else None,
        tsa_name=_tsa_name(ts),
        timestamp_ok=bool(ts and ts.intact and ts.valid and ts.trusted),
        intact=status.intact,
        valid=status.valid,
        trusted=status.trusted,
        revoked=status.revoked,
        revoked_at=revocation.revocation_date if revocation else None,
        modification_level=_name(status.modification_level),
        coverage=_name(status.coverage),
        docmdp_ok=status.docmdp_ok,
        bottom_line=status.bottom_line and ts is not None,
        problem=_problem(status) or (None if ts else "NO_SIGNATURE_TIMESTAMP"),
    )


def _identity(sig: EmbeddedPdfSignature) -> dict[str, Any]:
    """Who signed and how, as far as the signature object can be read at all."""
    identity: dict[str, Any] = {"field_name": sig.field_name}
    try:
        certification = _is_certification(sig)
        docmdp = sig.docmdp_level
        identity.update(certification=certification, docmdp_permission=_name(docmdp) if certification else None)
        cert = sig.signer_cert
    except _VALIDATION_ERRORS:
        return identity
    subject = cert.subject.native
    identity.update(
        signer_subject=subject_text(cert.subject),
        company=subject.get("organization_name"),
        corporate_number=subject.get("serial_number"),
        certificate_serial=format(cert.serial_number, "x"),
        certificate_not_after=cert.not_valid_after,
    )
    return identity


async def _timestamp_report(sig: EmbeddedPdfSignature, vc: ValidationContext) -> TimestampReport:
    try:
        status = await async_validate_pdf_timestamp(sig, validation_context=vc)
    except _VALIDATION_ERRORS as exc:
        return TimestampReport(field_name=sig.field_name, problem=str(exc) or type(exc).__name__)
    return TimestampReport(
        field_name=sig.field_name,
        time=status.timestamp,
        tsa_name=_tsa_name(status),
        intact=status.intact and status.valid,
        trusted=status.trusted,
        modification_level=_name(status.modification_level),
        coverage=_name(status.coverage),
        bottom_line=status.intact and status.valid and status.trusted,
        problem=_problem(status),
    )


def _is_certification(sig: EmbeddedPdfSignature) -> bool:
    """A certification signature carries a /Reference with TransformMethod /DocMDP."""
    references = sig.sig_object.get("/Reference", ())
    return any(ref.get_object().get("/TransformMethod") == "/DocMDP" for ref in references)


def _tsa_name(status: TimestampSignatureStatus | None) -> str | None:
    if status is None:
        return None
    return subject_text(status.signing_cert.subject)


# Labels of the name attributes a report shows, in the order of the certificate.
SUBJECT_LABELS = {
    "serial_number": "シリアル番号",
    "common_name": "名前(CN)",
    "organization_name": "組織(O)",
    "organizational_unit_name": "部署(OU)",
    "country_name": "国(C)",
    "state_or_province_name": "都道府県(ST)",
    "locality_name": "市区町村(L)",
}


def subject_text(name: x509.Name) -> str:
    """A certificate name with Japanese labels: "シリアル番号: 1234, 名前(CN): 株式会社…, 国(C): JP"."""
    parts = []
    for rdn in name.chosen:
        for attribute in rdn:
            key = attribute["type"].native
            label = SUBJECT_LABELS.get(key, key)
            parts.append(f"{label}: {attribute['value'].native}")
    return ", ".join(parts)


def _name(value) -> str | None:
    return value.name if value is not None else None


def _problem(status) -> str | None:
    if status.trust_problem_indic is not None:
        return status.trust_problem_indic.name
    if not (status.intact and status.valid):
        return "INTEGRITY"
    return None
