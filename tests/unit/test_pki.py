"""The portal CA (R-ACC-4): a real PKI in a temporary folder, no mocks."""
from __future__ import annotations

import asyncio
import stat
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko_certvalidator import CertificateValidator
from pyhanko_certvalidator.errors import PathValidationError, RevokedError

from portal.services.pki import SIGNING_POLICY_OID, PKIError, PortalPKI

PASSPHRASE = b"test-pki-passphrase"


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> PortalPKI:
    pki = PortalPKI(tmp_path_factory.mktemp("pki"), PASSPHRASE, "http://portal.example")
    pki.init()
    return pki


@pytest.fixture(scope="module")
def issued(pki):
    return pki.issue_company_certificate("株式会社テスト建設", "1234567890123")


def _asn1(cert_pem: str) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(x509.load_pem_x509_certificate(cert_pem.encode()).public_bytes(Encoding.DER))


def _validate(pki: PortalPKI, cert_pem: str, crls: list[bytes] | None = None) -> None:
    validator = CertificateValidator(_asn1(cert_pem), validation_context=pki.validation_context(crls))
    asyncio.run(validator.async_validate_usage({"digital_signature", "non_repudiation"}))


def test_r_acc_4_init_is_idempotent(pki):
    """Does a second `init` keep the existing CA instead of replacing it?"""
    root_before = pki.root_cert_pem()
    assert pki.init() is False
    assert PortalPKI(pki.directory, PASSPHRASE).root_cert_pem() == root_before


def test_r_acc_4_ca_keys_are_encrypted_and_private(pki):
    """Are the CA and TSA keys stored encrypted, readable only by the owner?"""
    for label in ("root-ca", "issuing-ca", "tsa"):
        path = pki.directory / f"{label}.key.pem"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(pki.directory.stat().st_mode) == 0o700


def test_r_acc_4_wrong_passphrase_cannot_use_the_ca(pki):
    """Does a PKI opened with the wrong passphrase refuse to issue certificates?"""
    with pytest.raises(PKIError):
        PortalPKI(pki.directory, b"wrong").issue_company_certificate("株式会社テスト", "1234567890123")


def test_r_acc_4_company_certificate_names_the_company(issued):
    """Does the certificate carry the company name (UTF8String), 法人番号 and JP, and a 3-year validity?"""
    cert = x509.load_pem_x509_certificate(issued.cert_pem.encode())
    subject = cert.subject
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "株式会社テスト建設"
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "株式会社テスト建設"
    assert subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "1234567890123"
    assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "JP"
    encodings = {rdn[0]["type"].native: rdn[0]["value"].name for rdn in _asn1(issued.cert_pem).subject.chosen}
    assert encodings["organization_name"] == encodings["common_name"] == "utf8_string"
    assert issued.serial == format(cert.serial_number, "x")
    assert "serialNumber=1234567890123" in issued.subject and "O=株式会社テスト建設" in issued.subject
    assert timedelta(days=3 * 365) <= issued.not_after - issued.not_before <= timedelta(days=3 * 366)
    assert issued.key_pem_encrypted.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")


def test_r_acc_4_company_certificate_is_for_signing(issued):
    """Is the key usage digitalSignature + nonRepudiation, with the portal policy and the CRL URL?"""
    cert = x509.load_pem_x509_certificate(issued.cert_pem.encode())
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment
    assert not usage.key_cert_sign
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in policies] == [SIGNING_POLICY_OID]
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert points[0].full_name[0].value == "http://portal.example/pki/crl"
    assert cert.public_key().key_size == 2048


def test_r_acc_4_tsa_certificate_is_for_timestamping_only(pki):
    """Is the TSA certificate an RSA key limited to timeStamping by a critical EKU?"""
    cert = x509.load_der_x509_certificate(pki.tsa_cert().dump())
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert cert.public_key().key_size == 3072
    assert cert.issuer == x509.load_der_x509_certificate(pki.issuing_ca_cert().dump()).subject


def test_r_acc_4_company_certificate_chains_to_the_root(pki, issued):
    """Does a fresh certificate validate against the portal root with the current CRL?"""
    _validate(pki, issued.cert_pem, [pki.build_crl([]), pki.build_root_crl()])


def test_r_acc_4_certificate_without_crl_is_not_accepted(pki, issued):
    """Is revocation information required, so a missing CRL cannot hide a revocation?"""
    with pytest.raises(PathValidationError):
        _validate(pki, issued.cert_pem, crls=[])


def test_r_acc_4_revoked_certificate_is_rejected(pki):
    """Does a certificate listed in the CRL fail validation as revoked?"""
    cert = pki.issue_company_certificate("株式会社失効", "9999999999999")
    crl = pki.build_crl([(cert.serial, datetime.now(UTC) - timedelta(minutes=1), "key_compromise")])
    with pytest.raises(RevokedError):
        _validate(pki, cert.cert_pem, [crl, pki.build_root_crl()])


def test_r_acc_4_crl_lists_serial_and_reason_for_seven_days(pki, issued):
    """Does the CRL carry the revoked serial, its reason, and a next update about a week out?"""
    now = datetime(2030, 1, 1, tzinfo=UTC)
    crl = x509.load_der_x509_crl(pki.build_crl([(issued.serial, now, "superseded")], now=now))
    entry = crl.get_revoked_certificate_by_serial_number(int(issued.serial, 16))
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.superseded
    assert crl.next_update_utc - crl.last_update_utc == timedelta(days=7)
    assert crl.is_signature_valid(x509.load_der_x509_certificate(pki.issuing_ca_cert().dump()).public_key())


def test_r_acc_4_unknown_revocation_reason_is_refused(pki, issued):
    """Is a typo in the reason an error rather than a silent 'unspecified'?"""
    with pytest.raises(ValueError, match="reason"):
        pki.build_crl([(issued.serial, datetime.now(UTC), "stolen")])


def test_r_acc_4_write_crl_publishes_the_latest(pki, issued):
    """Does `write_crl` replace the stored CRL that /pki/crl serves?"""
    der = pki.write_crl([(issued.serial, datetime.now(UTC), None)])
    assert pki.current_crl() == der
    pki.write_crl([])
    assert x509.load_der_x509_crl(pki.current_crl()).get_revoked_certificate_by_serial_number(
        int(issued.serial, 16)
    ) is None


def test_signer_for_loads_the_encrypted_company_key(pki, issued):
    """Does the signer carry the company certificate and the issuing CA as its chain?"""
    signer = pki.signer_for(issued.cert_pem, issued.key_pem_encrypted)
    assert format(signer.signing_cert.serial_number, "x") == issued.serial
    assert [c.subject for c in signer.cert_registry] == [pki.issuing_ca_cert().subject]


def test_health_is_ok_for_a_fresh_pki(pki):
    """Does a fresh PKI report no problems?"""
    pki.write_crl([])
    report = pki.health()
    assert report["ok"] is True, report["problems"]


def test_health_warns_before_the_tsa_expires_and_when_the_crl_is_stale(pki):
    """Are an expiring TSA certificate and an outdated CRL reported?"""
    report = pki.health(now=datetime.now(UTC) + timedelta(days=5 * 365 - 30))
    assert report["ok"] is False
    assert any(p.startswith("tsa: expires") for p in report["problems"])
    assert "crl: expired" in report["problems"]


def test_health_reports_unreadable_keys(pki):
    """Does a wrong passphrase show up as a problem instead of an exception?"""
    report = PortalPKI(pki.directory, b"wrong").health()
    assert report["ok"] is False
    assert any("root-ca" in p for p in report["problems"])


def test_r_acc_4_init_reissues_an_old_issuing_ca_with_the_same_key_and_old_certificates_still_validate(tmp_path):
    """On an install made before the root CRL existed, does `init` give the issuing CA a distribution point
    (same key, name and expiry), while a company certificate issued earlier validates strictly?"""
    old = PortalPKI(tmp_path / "pki", PASSPHRASE, "http://portal.example")
    old.root_key_bits = old.ca_key_bits = old.company_key_bits = 2048
    old.init()
    issuing = old._load("issuing-ca")
    legacy = x509.CertificateBuilder(  # what earlier versions issued: no CRL distribution point
        issuer_name=issuing.cert.issuer, subject_name=issuing.cert.subject, public_key=issuing.key.public_key(),
        serial_number=x509.random_serial_number(), not_valid_before=issuing.cert.not_valid_before_utc,
        not_valid_after=issuing.cert.not_valid_after_utc,
        extensions=[e for e in issuing.cert.extensions if not isinstance(e.value, x509.CRLDistributionPoints)],
    ).sign(old._load("root-ca").key, hashes.SHA256())
    (old.directory / "issuing-ca.pem").write_bytes(legacy.public_bytes(Encoding.PEM))
    earlier = PortalPKI(old.directory, PASSPHRASE, "http://portal.example")
    issued_before = earlier.issue_company_certificate("株式会社以前", "5555555555555")

    migrated = PortalPKI(old.directory, PASSPHRASE, "http://portal.example")
    assert migrated.init() is True
    new = x509.load_der_x509_certificate(migrated.issuing_ca_cert().dump())
    assert new.public_key() == legacy.public_key() and new.subject == legacy.subject
    assert new.not_valid_after_utc == legacy.not_valid_after_utc and new.serial_number != legacy.serial_number
    point = new.extensions.get_extension_for_class(x509.CRLDistributionPoints).value[0]
    assert point.full_name[0].value == "http://portal.example/pki/crl/root"
    _validate(migrated, issued_before.cert_pem, [migrated.build_crl([]), migrated.build_root_crl()])
    assert migrated.init() is False
