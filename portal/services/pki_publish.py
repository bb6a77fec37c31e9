"""What the portal publishes of its PKI (R-ACC-4, R-CASE-3): the CRL at its fixed URL, the CA
certificates for download, and the internal RFC 3161 TSA answering over HTTP.

`pki.py` does the cryptography; this module keeps the published CRL fresh and hands the app's single
internal TSA to the web view, so that another portal can name this one in its TSA_URLS.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from flask import current_app

from portal.clock import now_utc
from portal.services import certificates
from portal.services.tsa import InternalTimeStamper

# Serve a new CRL rather than one this close to its nextUpdate (the cron job normally refreshes daily).
CRL_REFRESH_MARGIN = timedelta(days=1)
MAX_QUERY_BYTES = 16 * 1024  # a TimeStampReq or OCSPRequest is a few hundred bytes
OCSP_REQUEST_TYPE = "application/ocsp-request"
OCSP_RESPONSE_TYPE = "application/ocsp-response"


class MalformedOcspRequest(ValueError):
    """Not a DER OCSPRequest for exactly one certificate; `body` is the malformedRequest response."""

    def __init__(self, body: bytes):
        super().__init__("malformed OCSP request")
        self.body = body


@dataclass(frozen=True)
class PublishedCertificate:
    name: str  # root | issuing | tsa (URL part)
    label: str
    subject: str
    serial: str
    not_before: datetime
    not_after: datetime
    sha256_fingerprint: str
    der: bytes

    @property
    def pem(self) -> bytes:
        return x509.load_der_x509_certificate(self.der).public_bytes(serialization.Encoding.PEM)


def crl_der(now: datetime | None = None) -> bytes:
    """The issuing CA's current CRL (DER). Rebuilt from the database when missing or about to expire,
    so the published URL keeps answering even if the cron job has not run."""
    now = now or now_utc()
    der = certificates.pki().current_crl()
    if der is not None:
        next_update = x509.load_der_x509_crl(der).next_update_utc
        if next_update is not None and next_update - now > CRL_REFRESH_MARGIN:
            return der
    return certificates.crl(now)


def root_crl_der(now: datetime | None = None) -> bytes:
    """The root's current CRL (DER), rebuilt when missing or about to expire, like `crl_der`."""
    now = now or now_utc()
    pki = certificates.pki()
    der = pki.current_root_crl()
    if der is not None:
        next_update = x509.load_der_x509_crl(der).next_update_utc
        if next_update is not None and next_update - now > CRL_REFRESH_MARGIN:
            return der
    return pki.write_root_crl(now)


def ocsp_reply(request_der: bytes, now: datetime | None = None) -> bytes:
    """Answer a DER OCSPRequest (RFC 6960) about a certificate of the issuing CA with a signed response.
    Raises `MalformedOcspRequest` for anything that is not a request for exactly one certificate."""
    try:
        request = ocsp.load_der_ocsp_request(request_der)
        request.hash_algorithm  # noqa: B018 - an unknown algorithm raises here, not halfway through
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        body = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        raise MalformedOcspRequest(body.public_bytes(serialization.Encoding.DER)) from exc
    return certificates.pki().ocsp_answer(request, certificates.ocsp_status, now)


def ca_certificates() -> list[PublishedCertificate]:
    """The root, the issuing CA and the TSA certificate, as the /pki/ca page lists them."""
    pki = certificates.pki()
    entries = [
        ("root", "ルート認証局（信頼の起点）", pki.root_cert()),
        ("issuing", "発行認証局（各社の署名用証明書を発行）", pki.issuing_ca_cert()),
        ("tsa", "タイムスタンプ局", pki.tsa_cert()),
        ("ocsp", "OCSPレスポンダ（証明書の失効状態に応答）", pki.ocsp_responder_cert()),
    ]
    return [_published(name, label, cert) for name, label, cert in entries]


def fingerprint(cert: asn1_x509.Certificate) -> str:
    """SHA-256 fingerprint as colon-separated upper-case hex, as browsers and certutil show it."""
    digest = x509.load_der_x509_certificate(cert.dump()).fingerprint(hashes.SHA256())
    return ":".join(f"{b:02X}" for b in digest)


def _published(name: str, label: str, cert: asn1_x509.Certificate) -> PublishedCertificate:
    parsed = x509.load_der_x509_certificate(cert.dump())
    return PublishedCertificate(
        name=name,
        label=label,
        subject=parsed.subject.rfc4514_string(),
        serial=format(parsed.serial_number, "x"),
        not_before=parsed.not_valid_before_utc,
        not_after=parsed.not_valid_after_utc,
        sha256_fingerprint=fingerprint(cert),
        der=cert.dump(),
    )


def internal_tsa() -> InternalTimeStamper:
    """The app's internal TSA, built once per app (the same one `certificates.timestamper` signs with when
    TSA_URLS is empty)."""
    ext = current_app.extensions
    if "ukeoi_internal_tsa" not in ext:
        ext["ukeoi_internal_tsa"] = InternalTimeStamper.from_pki(certificates.pki())
    return ext["ukeoi_internal_tsa"]


def timestamp_reply(query_der: bytes) -> bytes:
    """Answer an RFC 3161 TimeStampReq (DER) with a TimeStampResp (DER); a bad query gets a rejection."""
    return internal_tsa().respond(query_der)
