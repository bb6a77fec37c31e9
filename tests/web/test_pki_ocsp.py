"""The portal's OCSP responder and the root's CRL in public (R-ACC-4, R-CASE-3): RFC 6960 over HTTP POST and
GET, answers signed by the dedicated responder certificate, malformed requests refused with 400."""
from __future__ import annotations

import asyncio
import base64
from urllib.parse import quote

import pytest
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier
from pyhanko_certvalidator import CertificateValidator
from pyhanko_certvalidator.errors import RevokedError

from portal.extensions import db
from portal.services import certificates
from portal.services.pki import make_validation_context
from tests.web.cases_support import certified_company

OCSP_NOCHECK = ObjectIdentifier("1.3.6.1.5.5.7.48.1.5")


@pytest.fixture
def company_cert(ctx, portal_pki):
    company = certified_company("甲建設株式会社", "kou")
    row = certificates.active_for(company.id)
    return row, x509.load_pem_x509_certificate(row.cert_pem.encode())


def _issuing() -> x509.Certificate:
    return x509.load_der_x509_certificate(certificates.pki().issuing_ca_cert().dump())


def _request(cert: x509.Certificate, algorithm=None, nonce: bytes | None = b"0123456789abcdef") -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, _issuing(), algorithm or hashes.SHA1())
    if nonce:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _post(client, der: bytes):
    return client.post("/pki/ocsp", data=der, content_type="application/ocsp-request")


def test_r_acc_4_ocsp_post_answers_good_signed_by_the_responder_certificate(client, company_cert):
    """Does a real RFC 6960 POST get a successful response, parsed by asn1crypto, for this very certificate,
    signed by a responder certificate that the issuing CA issued for OCSP signing with ocsp-nocheck?"""
    _row, cert = company_cert
    response = _post(client, _request(cert))
    assert response.status_code == 200 and response.mimetype == "application/ocsp-response"
    parsed = asn1_ocsp.OCSPResponse.load(response.data)
    assert parsed["response_status"].native == "successful"
    [single] = parsed.response_data["responses"]
    assert single["cert_id"]["serial_number"].native == cert.serial_number
    assert single["cert_status"].name == "good"
    decoded = ocsp.load_der_ocsp_response(response.data)
    responder = decoded.certificates[0]
    assert responder.issuer == _issuing().subject
    assert ExtendedKeyUsageOID.OCSP_SIGNING in responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert responder.extensions.get_extension_for_oid(OCSP_NOCHECK) is not None
    assert decoded.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"0123456789abcdef"
    responder.public_key().verify(decoded.signature, decoded.tbs_response_bytes, PKCS1v15(), hashes.SHA256())


def test_r_acc_4_pyhanko_accepts_the_ocsp_answer_as_the_certificates_revocation_data(client, company_cert):
    """With the OCSP answer as its only data for the company certificate (and the root's CRL for the issuing
    CA), does pyHanko's strict validation accept the certificate?"""
    _row, cert = company_cert
    answer = _post(client, _request(cert, hashes.SHA256())).data
    root_crl = client.get("/pki/crl/root").data
    pki = certificates.pki()
    vc = make_validation_context(pki.trust_roots(), crls=[root_crl], ocsps=[answer],
                                 other_certs=[pki.issuing_ca_cert(), pki.ocsp_responder_cert()])
    validator = CertificateValidator(asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
                                     validation_context=vc)
    asyncio.run(validator.async_validate_usage({"digital_signature"}))


def test_r_acc_4_ocsp_get_answers_the_same_and_a_revoked_certificate_is_revoked(client, company_cert):
    """Does the GET form (URL-encoded base64) work, and does it say revoked, with the time, once revoked?"""
    row, cert = company_cert
    certificates.revoke(row, "key_compromise", None)
    db.session.commit()
    encoded = quote(base64.b64encode(_request(cert, nonce=None)).decode("ascii"), safe="")
    response = client.get(f"/pki/ocsp/{encoded}")
    assert response.status_code == 200
    [single] = asn1_ocsp.OCSPResponse.load(response.data).response_data["responses"]
    assert single["cert_status"].name == "revoked"
    assert single["cert_status"].chosen["revocation_reason"].native == "key_compromise"
    pki = certificates.pki()
    vc = make_validation_context(pki.trust_roots(), crls=[client.get("/pki/crl/root").data],
                                 ocsps=[response.data], other_certs=[pki.issuing_ca_cert()])
    validator = CertificateValidator(asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
                                     validation_context=vc)
    with pytest.raises(RevokedError):
        asyncio.run(validator.async_validate_usage({"digital_signature"}))


def test_r_acc_4_ocsp_says_unknown_for_a_serial_it_never_issued(client, company_cert):
    """Is a certificate the issuing CA never issued (same issuer, foreign serial) answered "unknown"?"""
    _row, cert = company_cert
    ours = ocsp.load_der_ocsp_request(_request(cert))
    der = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        ours.issuer_name_hash, ours.issuer_key_hash, 0x1234567, hashes.SHA1()
    ).build().public_bytes(serialization.Encoding.DER)
    response = _post(client, der)
    assert response.status_code == 200
    [single] = asn1_ocsp.OCSPResponse.load(response.data).response_data["responses"]
    assert single["cert_status"].name == "unknown"


@pytest.mark.parametrize("body", [b"", b"garbage", b"\x30\x03\x02\x01\x01", b"\x30" * 200],
                         ids=["empty", "text", "wrong-asn1", "truncated"])
def test_r_acc_4_a_malformed_ocsp_request_is_refused_with_400(client, portal_pki, body):
    """Is anything that is not an OCSP request for one certificate refused with 400 (never 500),
    carrying the RFC 6960 malformedRequest status?"""
    response = _post(client, body)
    assert response.status_code == 400
    assert asn1_ocsp.OCSPResponse.load(response.data)["response_status"].native == "malformed_request"


@pytest.mark.parametrize("path", ["/pki/ocsp/%%%", "/pki/ocsp/bm90IGFuIG9jc3AgcmVxdWVzdA%3D%3D", "/pki/ocsp/a"])
def test_r_acc_4_a_malformed_ocsp_get_is_refused_with_400(client, portal_pki, path):
    """Are bad base64 and base64 of something else refused with 400 on the GET form too?"""
    assert client.get(path).status_code == 400


def test_r_acc_4_ocsp_refuses_another_content_type_and_an_oversized_body(client, portal_pki):
    """Is a POST that is not application/ocsp-request refused (415), and a huge one (413)?"""
    assert client.post("/pki/ocsp", data=b"x", content_type="text/plain").status_code == 415
    big = client.post("/pki/ocsp", data=b"\x30" * 20000, content_type="application/ocsp-request")
    assert big.status_code == 413


def test_r_acc_4_root_crl_is_served_where_the_issuing_ca_points(app, ctx, client, portal_pki):
    """Does the issuing CA name the root's CRL, and is that URL a CRL signed by the root?"""
    issuing = _issuing()
    point = issuing.extensions.get_extension_for_class(x509.CRLDistributionPoints).value[0]
    url = point.full_name[0].value
    assert url == app.config["PKI_BASE_URL"] + "/pki/crl/root"
    response = client.get("/pki/crl/root")
    assert response.status_code == 200 and response.mimetype == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.data)
    root = x509.load_der_x509_certificate(portal_pki.root_cert().dump())
    assert crl.issuer == root.subject and crl.is_signature_valid(root.public_key())


def test_r_acc_4_company_and_tsa_certificates_name_the_ocsp_responder(app, company_cert, portal_pki):
    """Do company and TSA certificates name /pki/ocsp in their AIA?"""
    _row, cert = company_cert
    tsa = x509.load_der_x509_certificate(portal_pki.tsa_cert().dump())
    for each in (cert, tsa):
        [access] = each.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        assert access.access_location.value == app.config["PKI_BASE_URL"] + "/pki/ocsp"
