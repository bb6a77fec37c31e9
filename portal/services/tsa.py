"""RFC 3161 timestamps: the portal's internal TSA, and the client for external TSAs (TSA_URLS).

A signature is never made without a real timestamp: when every configured TSA fails,
`TimestampUnavailable` propagates out of the signing call and no output is produced.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from asn1crypto import algos, cms, core, keys, tsp, x509
from cryptography import x509 as pyca_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper, TimestampRequestError

from portal.clock import now_utc
from portal.services.pki import TSA_POLICY_OID, PortalPKI

# Message imprint algorithms the internal TSA accepts, with their digest sizes.
ACCEPTED_IMPRINT_DIGESTS = {"sha256": 32, "sha384": 48, "sha512": 64}
_PYCA_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
QUERY_CONTENT_TYPE = "application/timestamp-query"
REPLY_CONTENT_TYPE = "application/timestamp-reply"


class TimestampUnavailable(RuntimeError):
    """No timestamp authority answered; the signing job must fail (and retry later)."""


class TimeStampResponse(core.Sequence):
    """RFC 3161 TimeStampResp. asn1crypto's own class makes the token mandatory, so it can neither
    encode nor parse a rejection; this one has it optional, as the RFC says."""

    _fields = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


class _BadRequest(ValueError):
    def __init__(self, fail_info: str, message: str):
        super().__init__(message)
        self.fail_info = fail_info


class InternalTimeStamper(TimeStamper):
    """The portal's own TSA: signs TSTInfo with the TSA key from `PortalPKI` (RSA, SHA-256).

    Usable directly by pyHanko as a `TimeStamper`, and over HTTP through `respond`.
    """

    def __init__(
        self,
        tsa_cert: x509.Certificate,
        tsa_key: keys.PrivateKeyInfo,
        chain: Sequence[x509.Certificate] = (),
        clock: Callable[[], datetime] = now_utc,
    ):
        super().__init__(include_nonce=True)
        self.tsa_cert = tsa_cert
        self.chain = list(chain)
        self.clock = clock
        private_key = serialization.load_der_private_key(tsa_key.dump(), password=None)
        if not isinstance(private_key, RSAPrivateKey):
            raise TypeError("the internal TSA signs with an RSA key")
        self._key = private_key

    @classmethod
    def from_pki(cls, pki: PortalPKI, clock: Callable[[], datetime] = now_utc) -> InternalTimeStamper:
        cert, key = pki.tsa_key_pair()
        return cls(cert, key, chain=[pki.issuing_ca_cert()], clock=clock)

    # pyHanko TimeStamper interface -------------------------------------------------

    def request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        try:
            imprint = _checked_imprint(req)
        except _BadRequest as exc:
            return tsp.TimeStampResp({"status": _rejection_status(exc.fail_info, str(exc))})
        token = self._token(imprint, req["nonce"].native, self.clock())
        granted = tsp.PKIStatusInfo({"status": "granted"})
        return tsp.TimeStampResp({"status": granted, "time_stamp_token": token})

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return self.request_tsa_response(req)

    # HTTP ------------------------------------------------------------------------------

    def respond(self, query_der: bytes) -> bytes:
        """Answer a DER TimeStampReq (application/timestamp-query) with a DER TimeStampResp."""
        try:
            req = tsp.TimeStampReq.load(query_der)
            req.native  # force a full parse so malformed input is rejected here  # noqa: B018
        except (ValueError, TypeError, OverflowError):
            return TimeStampResponse({"status": _rejection_status("bad_data_format", "malformed request")}).dump()
        response = self.request_tsa_response(req)
        status = response["status"]
        if status["status"].native != "granted":
            return TimeStampResponse({"status": status}).dump()
        return TimeStampResponse({"status": status, "time_stamp_token": response["time_stamp_token"]}).dump()

    # token construction ------------------------------------------------------------

    def _token(self, imprint: tsp.MessageImprint, nonce: int | None, when: datetime) -> cms.ContentInfo:
        tst_info = tsp.TSTInfo(
            {
                "version": "v1",
                "policy": TSA_POLICY_OID,
                "message_imprint": imprint,
                "serial_number": pyca_x509.random_serial_number(),
                "gen_time": when,
                "accuracy": {"seconds": 1},
                "ordering": False,
                "nonce": nonce,
                "tsa": x509.GeneralName(name="directory_name", value=self.tsa_cert.subject),
            }
        ).dump()
        signed_attrs = cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(when)})),
                simple_cms_attribute("message_digest", _digest("sha256", tst_info)),
                simple_cms_attribute("signing_certificate_v2", as_signing_certificate_v2(self.tsa_cert)),
            ]
        )
        signature = self._key.sign(signed_attrs.dump(), PKCS1v15(), hashes.SHA256())
        signed_data = self._signed_data(tst_info, signed_attrs, signature)
        return cms.ContentInfo({"content_type": "signed_data", "content": signed_data})

    def _signed_data(self, tst_info: bytes, signed_attrs: cms.CMSAttributes, signature: bytes) -> cms.SignedData:
        digest_algorithm = algos.DigestAlgorithm({"algorithm": "sha256"})
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    {
                        "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                            {"issuer": self.tsa_cert.issuer, "serial_number": self.tsa_cert.serial_number}
                        )
                    }
                ),
                "digest_algorithm": digest_algorithm,
                "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}),
                "signed_attrs": signed_attrs,
                "signature": signature,
            }
        )
        return cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [digest_algorithm],
                "encap_content_info": {"content_type": "tst_info", "content": cms.ParsableOctetString(tst_info)},
                "certificates": [self.tsa_cert, *self.chain],
                "signer_infos": [signer_info],
            }
        )


class FallbackTimeStamper(TimeStamper):
    """Try each external TSA in order; raise `TimestampUnavailable` when none grants a timestamp."""

    def __init__(self, urls: Sequence[str], timeout: float = 10):
        if not urls:
            raise ValueError("at least one TSA URL is required")
        super().__init__(include_nonce=True)
        self.urls = list(urls)
        self._stampers = [HTTPTimeStamper(url, timeout=timeout) for url in self.urls]

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        failures: list[str] = []
        for url, stamper in zip(self.urls, self._stampers, strict=True):
            try:
                return await stamper.async_timestamp(message_digest, md_algorithm)
            except (TimestampRequestError, OSError, ValueError) as exc:
                failures.append(f"{url}: {exc}")
        raise TimestampUnavailable("no timestamp authority answered: " + "; ".join(failures))


def make_timestamper(pki: PortalPKI, tsa_urls: Sequence[str]) -> TimeStamper:
    """The timestamper for signing: external TSAs in order when configured, else the internal TSA."""
    if tsa_urls:
        return FallbackTimeStamper(tsa_urls)
    return InternalTimeStamper.from_pki(pki)


# ---------------------------------------------------------------------- helpers


def _checked_imprint(req: tsp.TimeStampReq) -> tsp.MessageImprint:
    if req["version"].native != "v1":
        raise _BadRequest("bad_request", "unsupported TimeStampReq version")
    imprint: tsp.MessageImprint = req["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    size = ACCEPTED_IMPRINT_DIGESTS.get(algorithm)
    if size is None:
        raise _BadRequest("bad_alg", f"unsupported hash algorithm {algorithm}")
    if len(imprint["hashed_message"].native) != size:
        raise _BadRequest("bad_data_format", "message imprint has the wrong length")
    if req["req_policy"].native not in (None, TSA_POLICY_OID):
        raise _BadRequest("unaccepted_policy", "unsupported TSA policy")
    return imprint


def _rejection_status(fail_info: str, message: str) -> tsp.PKIStatusInfo:
    return tsp.PKIStatusInfo(
        {"status": "rejection", "status_string": [message], "fail_info": tsp.PKIFailureInfo({fail_info})}
    )


def _digest(algorithm: str, data: bytes) -> bytes:
    md = hashes.Hash(_PYCA_HASHES[algorithm]())
    md.update(data)
    return md.finalize()
