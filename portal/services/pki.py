"""The portal's own PKI (第16条, R-ACC-4): root CA, issuing CA, TSA certificate, company certificates, CRL.

Layout of `directory` (created by `init()`, keys are PEM encrypted under the passphrase, mode 0600):

    root-ca.pem / root-ca.key.pem          self-signed root, the trust anchor (20 years)
    issuing-ca.pem / issuing-ca.key.pem    issues company and TSA certificates, signs the CRL (10 years)
    tsa.pem / tsa.key.pem                  the internal RFC 3161 timestamping authority (5 years)
    ocsp.pem / ocsp.key.pem                the OCSP responder (issued by the issuing CA, id-pkix-ocsp-nocheck)
    issuing.crl                            latest CRL of the issuing CA (DER), see `write_crl`
    root.crl                               latest CRL of the root (covers the issuing CA), see `write_root_crl`

Key types: RSA everywhere, because pyHanko's timestamp responder signs with RSA only and poppler's
`pdfsig` (NSS) validates RSA PKCS#1 v1.5 signatures without surprises. Root RSA 4096, issuing CA and
TSA RSA 3072, company keys RSA 2048.

Revocation data exists for every certificate below the root, as PAdES B-LTA validation with
REQUIRE_REVINFO demands: the issuing CA names the root's CRL (`{public_base_url}/pki/crl/root`); company
and TSA certificates name the issuing CA's CRL (`/pki/crl`) and its OCSP responder (`/pki/ocsp`, AIA).
pyHanko's long-term (past) validation counts only OCSP responses as an end entity's revocation data, so
the seal embeds one per end-entity certificate (`ocsp_response`), besides both CRLs.

Installs made before the root CRL existed have an issuing CA without a distribution point: `init` issues
that certificate again with the same key and name (`_migrate_issuing`), so everything it signed before
still chains to it; the old certificate is not revoked and keeps validating too.
"""
from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from pyhanko.sign.signers import SimpleSigner
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy, FreshnessReqType
from pyhanko_certvalidator.registry import SimpleCertificateStore

from portal.clock import now_utc
from portal.services.signing import RevocationData

# OIDs under a UUID-derived arc (ITU-T X.667, "2.25.<uuid as integer>"): globally unique without
# registering a private enterprise number. UUID 33a06650-f651-468d-9fb0-8637160f4035.
PORTAL_OID_ARC = "2.25.68623470502660424135780521346862104629"
SIGNING_POLICY_OID = f"{PORTAL_OID_ARC}.1.1"  # certificatePolicies of company signing certificates
TSA_POLICY_OID = f"{PORTAL_OID_ARC}.2.1"  # TSTInfo.policy of the internal TSA

ROOT_YEARS = 20
ISSUING_YEARS = 10
TSA_YEARS = 5
COMPANY_YEARS = 3
OCSP_RESPONDER_YEARS = 2  # no revocation check on it (ocsp-nocheck): kept short, renewed by `init` (daily job)
CRL_VALID_DAYS = 7
EXPIRY_WARNING_DAYS = 90
ROOT_KEY_BITS = 4096
CA_KEY_BITS = 3072
COMPANY_KEY_BITS = 2048

# Names stored in Certificate.revocation_reason, mapped to the CRL reason code.
REVOCATION_REASONS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
}

_ROOT, _ISSUING, _TSA, _OCSP = "root-ca", "issuing-ca", "tsa", "ocsp"
CRL_FILE = "issuing.crl"
ROOT_CRL_FILE = "root.crl"
OCSP_NEXT_UPDATE = timedelta(days=CRL_VALID_DAYS)


class PKIError(RuntimeError):
    """The PKI directory is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class IssuedCertificate:
    """What the caller stores in a `Certificate` row."""

    serial: str  # lowercase hex, no separators
    subject: str  # RFC 4514
    not_before: datetime
    not_after: datetime
    cert_pem: str
    key_pem_encrypted: bytes


@dataclass(frozen=True)
class _KeyPair:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey


class PortalPKI:
    """The portal CA on disk. Construct once per process; keys are decrypted lazily and cached."""

    # Key sizes of newly generated keys; tests lower them to save key generation time.
    root_key_bits = ROOT_KEY_BITS
    ca_key_bits = CA_KEY_BITS
    company_key_bits = COMPANY_KEY_BITS

    def __init__(self, directory: Path, passphrase: bytes, public_base_url: str = "http://127.0.0.1:5000"):
        self.directory = Path(directory)
        self.passphrase = passphrase
        self.public_base_url = public_base_url
        self._cache: dict[str, _KeyPair] = {}

    def __repr__(self) -> str:
        return f"PortalPKI({str(self.directory)!r})"

    @property
    def crl_url(self) -> str:
        return f"{self.public_base_url.rstrip('/')}/pki/crl"

    @property
    def root_crl_url(self) -> str:
        return f"{self.public_base_url.rstrip('/')}/pki/crl/root"

    @property
    def ocsp_url(self) -> str:
        return f"{self.public_base_url.rstrip('/')}/pki/ocsp"

    # ------------------------------------------------------------------ setup

    def init(self, now: datetime | None = None) -> bool:
        """Create whatever is missing (root, issuing CA, TSA). Returns True if anything was created."""
        now = now or now_utc()
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        created = False
        if not self._exists(_ROOT):
            self._save(_ROOT, self._make_root(now))
            created = True
        if not self._exists(_ISSUING):
            self._save(_ISSUING, self._make_issuing(now))
            created = True
        elif self._migrate_issuing(now):
            created = True
        if not self._exists(_TSA):
            self._save(_TSA, self._make_tsa(now))
            created = True
        if not self._exists(_OCSP) or self._ocsp_due(now):
            self._save(_OCSP, self._make_ocsp_responder(now))
            created = True
        if not (self.directory / CRL_FILE).exists():
            self.write_crl([], now)
            created = True
        if not (self.directory / ROOT_CRL_FILE).exists():
            self.write_root_crl(now)
            created = True
        return created

    def _make_root(self, now: datetime) -> _KeyPair:
        key = rsa.generate_private_key(public_exponent=65537, key_size=self.root_key_bits)
        name = _name(common_name="Ukeoi Root CA")
        builder = _base_builder(name, name, key.public_key(), now, years=ROOT_YEARS)
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        builder = builder.add_extension(_ca_key_usage(), critical=True)
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        return _KeyPair(builder.sign(key, hashes.SHA256()), key)

    def _make_issuing(self, now: datetime, key: rsa.RSAPrivateKey | None = None,
                      not_after: datetime | None = None) -> _KeyPair:
        root = self._load(_ROOT)
        key = key or rsa.generate_private_key(public_exponent=65537, key_size=self.ca_key_bits)
        name = _name(common_name="Ukeoi Issuing CA")
        builder = _issued_builder(name, key, root, now, years=ISSUING_YEARS, not_after=not_after)
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        builder = builder.add_extension(_ca_key_usage(), critical=True)
        builder = builder.add_extension(_crl_distribution(self.root_crl_url), critical=False)
        return _KeyPair(builder.sign(root.key, hashes.SHA256()), key)

    def _migrate_issuing(self, now: datetime) -> bool:
        """Give an issuing CA made before the root CRL existed its distribution point: the same key, name
        and expiry in a new certificate (company certificates name their issuer by name and key id, so
        they chain to either). Returns True if it did."""
        current = self._load(_ISSUING)
        try:
            current.cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
            return False
        except x509.ExtensionNotFound:
            pass
        self._save(_ISSUING, self._make_issuing(now, current.key, current.cert.not_valid_after_utc))
        return True

    def _make_tsa(self, now: datetime) -> _KeyPair:
        issuing = self._load(_ISSUING)
        key = rsa.generate_private_key(public_exponent=65537, key_size=self.ca_key_bits)
        name = _name(common_name="Ukeoi Timestamping Authority")
        builder = _issued_builder(name, key, issuing, now, years=TSA_YEARS)
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        builder = builder.add_extension(_signing_key_usage(), critical=True)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
        builder = builder.add_extension(_crl_distribution(self.crl_url), critical=False)
        builder = builder.add_extension(_ocsp_access(self.ocsp_url), critical=False)
        return _KeyPair(builder.sign(issuing.key, hashes.SHA256()), key)

    def _make_ocsp_responder(self, now: datetime) -> _KeyPair:
        """The OCSP signing certificate: issued by the issuing CA (a delegated responder, RFC 6960 4.2.2.2),
        with id-pkix-ocsp-nocheck so that validators need no revocation data for the responder itself."""
        issuing = self._load(_ISSUING)
        key = rsa.generate_private_key(public_exponent=65537, key_size=self.company_key_bits)
        name = _name(common_name="Ukeoi OCSP Responder")
        not_after = min(now + _years(OCSP_RESPONDER_YEARS), issuing.cert.not_valid_after_utc)
        builder = _issued_builder(name, key, issuing, now, years=OCSP_RESPONDER_YEARS, not_after=not_after)
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        builder = builder.add_extension(_signing_key_usage(), critical=True)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=True)
        builder = builder.add_extension(x509.OCSPNoCheck(), critical=False)
        return _KeyPair(builder.sign(issuing.key, hashes.SHA256()), key)

    def _ocsp_due(self, now: datetime) -> bool:
        """The responder certificate expires within EXPIRY_WARNING_DAYS (or was issued by another key)."""
        cert = self._load_cert(_OCSP)
        if cert.issuer != self._load_cert(_ISSUING).subject:
            return True
        return cert.not_valid_after_utc - now < timedelta(days=EXPIRY_WARNING_DAYS)

    # ------------------------------------------------------------------ company certificates

    def issue_company_certificate(
        self, company_name: str, corporate_number: str, now: datetime | None = None
    ) -> IssuedCertificate:
        """Issue a signing certificate (R-ACC-4): O/CN = company name, serialNumber = 法人番号, C=JP."""
        now = now or now_utc()
        issuing = self._load(_ISSUING)
        key = rsa.generate_private_key(public_exponent=65537, key_size=self.company_key_bits)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, company_name),
                x509.NameAttribute(NameOID.COMMON_NAME, company_name),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, corporate_number),
            ]
        )
        not_after = min(now + _years(COMPANY_YEARS), issuing.cert.not_valid_after_utc)
        builder = _issued_builder(name, key, issuing, now, years=COMPANY_YEARS, not_after=not_after)
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        builder = builder.add_extension(_signing_key_usage(), critical=True)
        builder = builder.add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier(SIGNING_POLICY_OID), None)]
            ),
            critical=False,
        )
        builder = builder.add_extension(_crl_distribution(self.crl_url), critical=False)
        builder = builder.add_extension(_ocsp_access(self.ocsp_url), critical=False)
        cert = builder.sign(issuing.key, hashes.SHA256())
        return IssuedCertificate(
            serial=format(cert.serial_number, "x"),
            subject=cert.subject.rfc4514_string({NameOID.SERIAL_NUMBER: "serialNumber"}),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            key_pem_encrypted=self._encrypt_key(key),
        )

    def signer_for(self, cert_pem: str | bytes, key_pem_encrypted: bytes) -> SimpleSigner:
        """A pyHanko signer for a company certificate, with the issuing CA as its chain."""
        cert = x509.load_pem_x509_certificate(_as_bytes(cert_pem))
        key = self._decrypt_key(key_pem_encrypted)
        issuing = self.issuing_ca_cert()
        return SimpleSigner(
            signing_cert=_to_asn1_cert(cert),
            signing_key=_to_asn1_key(key),
            cert_registry=SimpleCertificateStore.from_certs([issuing]),
            embed_roots=False,
        )

    # ------------------------------------------------------------------ revocation

    def build_crl(
        self,
        revoked: Iterable[tuple[str, datetime, str | None]],
        now: datetime | None = None,
    ) -> bytes:
        """A DER CRL of the issuing CA listing (serial hex, revoked at, reason name); valid 7 days."""
        now = now or now_utc()
        issuing = self._load(_ISSUING)
        builder = _crl_builder(issuing.cert, now)
        for serial_hex, revoked_at, reason in revoked:
            builder = builder.add_revoked_certificate(_revoked_entry(serial_hex, revoked_at, reason))
        return builder.sign(issuing.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def write_crl(
        self,
        revoked: Iterable[tuple[str, datetime, str | None]],
        now: datetime | None = None,
    ) -> bytes:
        """Build the CRL and store it as the latest one (served at /pki/crl)."""
        der = self.build_crl(revoked, now)
        _atomic_write(self.directory / CRL_FILE, der, mode=0o644)
        return der

    def current_crl(self) -> bytes | None:
        """The latest stored CRL (DER), or None before the first `write_crl`."""
        path = self.directory / CRL_FILE
        return path.read_bytes() if path.exists() else None

    def build_root_crl(self, now: datetime | None = None) -> bytes:
        """The root's CRL (DER) over the CA it issued; valid 7 days. It lists nothing: the portal has no
        way to revoke its issuing CA short of replacing the whole PKI (docs/operations.md)."""
        now = now or now_utc()
        root = self._load(_ROOT)
        builder = _crl_builder(root.cert, now)
        return builder.sign(root.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def write_root_crl(self, now: datetime | None = None) -> bytes:
        """Build the root's CRL and store it as the latest one (served at /pki/crl/root)."""
        der = self.build_root_crl(now)
        _atomic_write(self.directory / ROOT_CRL_FILE, der, mode=0o644)
        return der

    def current_root_crl(self) -> bytes | None:
        path = self.directory / ROOT_CRL_FILE
        return path.read_bytes() if path.exists() else None

    # ------------------------------------------------------------------ OCSP

    def ocsp_response(
        self,
        cert: asn1_x509.Certificate,
        revoked: tuple[datetime, str | None] | None,
        now: datetime | None = None,
    ) -> bytes:
        """A signed OCSP response (DER) saying `cert` (issued by the issuing CA) is good, or revoked at
        the given time for the given reason. For the seal, which knows the certificates."""
        now = now or now_utc()
        issuing = self._load(_ISSUING)
        pyca_cert = x509.load_der_x509_certificate(cert.dump())
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=pyca_cert, issuer=issuing.cert, algorithm=hashes.SHA256(), **_cert_status(revoked, now)
        )
        return self._sign_ocsp(builder, None)

    def ocsp_answer(
        self,
        request: ocsp.OCSPRequest,
        status_of: Callable[[str], tuple[datetime, str | None] | None | Literal[False]],
        now: datetime | None = None,
    ) -> bytes:
        """Answer an RFC 6960 request for one certificate. `status_of(serial hex)` gives the revocation
        (time, reason), None for a good certificate, or False for a serial the issuing CA never issued.
        A request about another issuer gets `unauthorized`."""
        now = now or now_utc()
        issuing = self._load(_ISSUING)
        algorithm = request.hash_algorithm
        if not isinstance(algorithm, (hashes.SHA1, hashes.SHA256, hashes.SHA384, hashes.SHA512)):
            return _ocsp_unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        name_hash, key_hash = _issuer_hashes(issuing.cert, algorithm)
        if (request.issuer_name_hash, request.issuer_key_hash) != (name_hash, key_hash):
            return _ocsp_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        status = status_of(format(request.serial_number, "x"))
        if status is False:
            fields: dict = {"cert_status": ocsp.OCSPCertStatus.UNKNOWN, "this_update": now,
                            "next_update": now + OCSP_NEXT_UPDATE, "revocation_time": None,
                            "revocation_reason": None}
        else:
            fields = _cert_status(status, now)
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=name_hash, issuer_key_hash=key_hash, serial_number=request.serial_number,
            algorithm=algorithm, **fields,
        )
        nonce = _request_nonce(request)
        return self._sign_ocsp(builder, nonce)

    def fresh_revocation_data(
        self,
        certs: Sequence[asn1_x509.Certificate],
        after: datetime | None,
        *,
        revoked: Iterable[tuple[str, datetime, str | None]] = (),
        clock: Callable[[], datetime] = now_utc,
    ) -> RevocationData:
        """Revocation data for a seal, issued after `after` (the file's newest signing or timestamp time):
        new CRLs of the issuing CA (with `revoked`) and of the root, both published as the current ones,
        and an OCSP response for each certificate of `certs` that the issuing CA issued.

        CRLs and OCSP responses carry whole seconds: issued in the same second as the last timestamp, they
        could not prove they came after it, so this waits for the next second (at most one).
        """
        now = clock()
        if after is not None:
            first_whole_second_after = after.replace(microsecond=0) + timedelta(seconds=1)
            wait = (first_whole_second_after - now).total_seconds()
            if 0 < wait <= 2:
                time.sleep(wait)
                now = clock()
        now = now.replace(microsecond=0)
        revoked = list(revoked)
        revoked_by_serial = {serial: (at, reason) for serial, at, reason in revoked}
        issuer = self.issuing_ca_cert()
        ocsps = [
            self.ocsp_response(cert, revoked_by_serial.get(format(cert.serial_number, "x")), now)
            for cert in certs
            if cert.issuer == issuer.subject and not cert.ca
        ]
        return RevocationData(crls=[self.write_crl(revoked, now), self.write_root_crl(now)], ocsps=ocsps)

    def known_serials(self) -> dict[str, str]:
        """Serial (hex) → label of the certificates the issuing CA issued to the portal itself."""
        return {format(self._load_cert(label).serial_number, "x"): label for label in (_TSA, _OCSP)}

    def _sign_ocsp(self, builder: ocsp.OCSPResponseBuilder, nonce: bytes | None) -> bytes:
        responder = self._load(_OCSP)
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, responder.cert)
        builder = builder.certificates([responder.cert])
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        return builder.sign(responder.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    # ------------------------------------------------------------------ trust

    def root_cert(self) -> asn1_x509.Certificate:
        return _to_asn1_cert(self._load_cert(_ROOT))

    def issuing_ca_cert(self) -> asn1_x509.Certificate:
        return _to_asn1_cert(self._load_cert(_ISSUING))

    def tsa_cert(self) -> asn1_x509.Certificate:
        return _to_asn1_cert(self._load_cert(_TSA))

    def ocsp_responder_cert(self) -> asn1_x509.Certificate:
        return _to_asn1_cert(self._load_cert(_OCSP))

    def trust_roots(self) -> list[asn1_x509.Certificate]:
        return [self.root_cert()]

    def root_cert_pem(self) -> bytes:
        return (self.directory / f"{_ROOT}.pem").read_bytes()

    def tsa_key_pair(self) -> tuple[asn1_x509.Certificate, asn1_keys.PrivateKeyInfo]:
        """The internal TSA's certificate and (decrypted) key, for `services.tsa`."""
        pair = self._load(_TSA)
        return _to_asn1_cert(pair.cert), _to_asn1_key(pair.key)

    def validation_context(
        self,
        crls: Sequence[bytes] | None = None,
        *,
        ocsps: Sequence[bytes] = (),
        moment: datetime | None = None,
        extra_roots: Iterable[asn1_x509.Certificate] = (),
        allow_fetching: bool = False,
    ) -> ValidationContext:
        """A pyHanko validation context trusting the portal root (plus `extra_roots`, e.g. external TSAs).

        `crls` defaults to the stored latest CRLs of the issuing CA and the root. Every certificate below
        the root needs revocation information (see `make_validation_context`).
        """
        if crls is None:
            crls = [der for der in (self.current_crl(), self.current_root_crl()) if der]
        return make_validation_context(
            [self.root_cert(), *extra_roots],
            crls=crls,
            ocsps=ocsps,
            other_certs=[self.issuing_ca_cert(), self.tsa_cert(), self.ocsp_responder_cert()],
            moment=moment,
            allow_fetching=allow_fetching,
        )

    # ------------------------------------------------------------------ health

    def health(self, now: datetime | None = None) -> dict[str, object]:
        """Readable keys, CA/TSA not within 90 days of expiry, a current CRL. `ok` is False on any problem."""
        now = now or now_utc()
        problems: list[str] = []
        expiries: dict[str, str] = {}
        for label in (_ROOT, _ISSUING, _TSA, _OCSP):
            try:
                pair = self._load(label)
            except (PKIError, OSError, ValueError, TypeError) as exc:
                problems.append(f"{label}: {exc}")
                continue
            if pair.cert.public_key() != pair.key.public_key():
                problems.append(f"{label}: key does not match certificate")
            not_after = pair.cert.not_valid_after_utc
            expiries[label] = not_after.isoformat()
            if not_after - now < timedelta(days=EXPIRY_WARNING_DAYS):
                problems.append(f"{label}: expires {not_after.date().isoformat()}")
        problems.extend(self._crl_problems(now))
        return {"ok": not problems, "problems": problems, "not_after": expiries}

    def _crl_problems(self, now: datetime) -> list[str]:
        problems = []
        for label, der in (("crl", self.current_crl()), ("root crl", self.current_root_crl())):
            if der is None:
                problems.append(f"{label}: missing")
                continue
            next_update = x509.load_der_x509_crl(der).next_update_utc
            if next_update is None or next_update <= now:
                problems.append(f"{label}: expired")
        return problems

    # ------------------------------------------------------------------ storage

    def _exists(self, label: str) -> bool:
        return (self.directory / f"{label}.pem").exists() and (self.directory / f"{label}.key.pem").exists()

    def _save(self, label: str, pair: _KeyPair) -> None:
        _atomic_write(self.directory / f"{label}.key.pem", self._encrypt_key(pair.key), mode=0o600)
        _atomic_write(
            self.directory / f"{label}.pem", pair.cert.public_bytes(serialization.Encoding.PEM), mode=0o644
        )
        self._cache[label] = pair

    def _load_cert(self, label: str) -> x509.Certificate:
        cached = self._cache.get(label)
        if cached is not None:
            return cached.cert
        path = self.directory / f"{label}.pem"
        if not path.exists():
            raise PKIError(f"{path} is missing; run `flask portal init`")
        return x509.load_pem_x509_certificate(path.read_bytes())

    def _load(self, label: str) -> _KeyPair:
        cached = self._cache.get(label)
        if cached is None:
            cert = self._load_cert(label)
            key = self._decrypt_key((self.directory / f"{label}.key.pem").read_bytes())
            cached = self._cache[label] = _KeyPair(cert, key)
        return cached

    def _encrypt_key(self, key: rsa.RSAPrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self.passphrase),
        )

    def _decrypt_key(self, pem: bytes) -> rsa.RSAPrivateKey:
        try:
            key = serialization.load_pem_private_key(pem, password=self.passphrase)
        except (ValueError, TypeError) as exc:
            raise PKIError("private key cannot be decrypted with the configured passphrase") from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise PKIError("unexpected key type")
        return key


def revinfo_policy(*, retroactive: bool = False) -> CertRevTrustPolicy:
    """The one revocation policy of the portal, pyHanko's strictest: revocation data (CRL or OCSP) for every
    certificate below the root (REQUIRE_REVINFO), judged fresh against the validation time."""
    return CertRevTrustPolicy(
        REQUIRE_REVINFO,
        freshness_req_type=FreshnessReqType.MAX_DIFF_REVOCATION_VALIDATION,
        retroactive_revinfo=retroactive,
    )


def make_validation_context(
    trust_roots: Iterable[asn1_x509.Certificate],
    *,
    crls: Iterable[bytes] = (),
    ocsps: Iterable[bytes] = (),
    other_certs: Iterable[asn1_x509.Certificate] = (),
    moment: datetime | None = None,
    allow_fetching: bool = False,
) -> ValidationContext:
    """A validation context under `revinfo_policy`, trusting only `trust_roots`.

    With `moment`, validation is point-in-time: certificates must have been valid and unrevoked at that
    moment, and revocation data issued later counts as evidence about it (entries carry revocation dates).
    """
    return ValidationContext(
        trust_roots=list(trust_roots),
        other_certs=list(other_certs),
        crls=[asn1_crl.CertificateList.load(der) for der in crls],
        ocsps=[asn1_ocsp.OCSPResponse.load(der) for der in ocsps],
        moment=moment,
        allow_fetching=allow_fetching,
        revinfo_policy=revinfo_policy(retroactive=moment is not None),
    )


# ---------------------------------------------------------------------- helpers


def _years(n: int) -> timedelta:
    return timedelta(days=365 * n + n // 4)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ukeoi"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _base_builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: rsa.RSAPublicKey,
    now: datetime,
    *,
    years: int,
    not_after: datetime | None = None,
) -> x509.CertificateBuilder:
    # Back-date a little so a certificate issued now validates on machines whose clock lags.
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(not_after or now + _years(years))
    )


def _issued_builder(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: _KeyPair,
    now: datetime,
    *,
    years: int,
    not_after: datetime | None = None,
) -> x509.CertificateBuilder:
    builder = _base_builder(
        subject, issuer.cert.subject, key.public_key(), now, years=years, not_after=not_after
    )
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    return builder.add_extension(_authority_key_id(issuer.cert), critical=False)


def _crl_builder(issuer: x509.Certificate, now: datetime) -> x509.CertificateRevocationListBuilder:
    """An empty CRL of `issuer`, valid CRL_VALID_DAYS from `now`; its number is the issue time in seconds,
    so it grows as long as the clock does."""
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(now)
        .next_update(now + timedelta(days=CRL_VALID_DAYS))
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        .add_extension(_authority_key_id(issuer), critical=False)
    )


def _authority_key_id(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _signing_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,  # nonRepudiation
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _crl_distribution(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(url)],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
        ]
    )


def _ocsp_access(url: str) -> x509.AuthorityInformationAccess:
    return x509.AuthorityInformationAccess(
        [x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(url))]
    )


def _cert_status(revoked: tuple[datetime, str | None] | None, now: datetime) -> dict:
    """The per-certificate fields of an OCSP SingleResponse: good, or revoked at a time for a reason."""
    if revoked is None:
        return {"cert_status": ocsp.OCSPCertStatus.GOOD, "this_update": now, "next_update": now + OCSP_NEXT_UPDATE,
                "revocation_time": None, "revocation_reason": None}
    revoked_at, reason = revoked
    if revoked_at.tzinfo is None:
        revoked_at = revoked_at.replace(tzinfo=UTC)
    return {"cert_status": ocsp.OCSPCertStatus.REVOKED, "this_update": now, "next_update": now + OCSP_NEXT_UPDATE,
            "revocation_time": revoked_at, "revocation_reason": REVOCATION_REASONS.get(reason or "")}


def _issuer_hashes(issuer: x509.Certificate, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) of RFC 6960 CertID: hashes of the DER name and of the key bits."""
    name = hashes.Hash(algorithm)
    name.update(issuer.subject.public_bytes())
    key_bits = asn1_keys.PublicKeyInfo.load(
        issuer.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )["public_key"].contents[1:]  # BIT STRING contents minus the unused-bits octet
    key = hashes.Hash(algorithm)
    key.update(key_bits)
    return name.finalize(), key.finalize()


def _request_nonce(request: ocsp.OCSPRequest) -> bytes | None:
    try:
        return request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        return None


def _ocsp_unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


def _revoked_entry(serial_hex: str, revoked_at: datetime, reason: str | None) -> x509.RevokedCertificate:
    if revoked_at.tzinfo is None:
        revoked_at = revoked_at.replace(tzinfo=UTC)
    builder = x509.RevokedCertificateBuilder().serial_number(int(serial_hex, 16)).revocation_date(revoked_at)
    if reason:
        flag = REVOCATION_REASONS.get(reason)
        if flag is None:
            raise ValueError(f"unknown revocation reason {reason!r}")
        builder = builder.add_extension(x509.CRLReason(flag), critical=False)
    return builder.build()


def _to_asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _to_asn1_key(key: rsa.RSAPrivateKey) -> asn1_keys.PrivateKeyInfo:
    return asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("ascii") if isinstance(value, str) else value


def _atomic_write(path: Path, data: bytes, *, mode: int) -> None:
    """Write via a temporary file created with `mode`, so a key is never world-readable, even briefly."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")  # writers may race
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
