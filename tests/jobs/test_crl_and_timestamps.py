"""The portal's PKI at work (R-ACC-4, R-CASE-3): `flask portal init` creates it once, the CRL is published at the
URL the certificates name and refreshed by cron, the internal TSA answers RFC 3161 over HTTP (so TSA_URLS can name
another portal), /healthz checks keys, TSA and expiry, and archives are re-timestamped before their TSA expires."""
from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.ades.report import AdESPassed
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from portal import jobs
from portal.extensions import db
from portal.models import AuditEvent, Case, Document, SentNotice
from portal.services import archive, bootstrap, cases, certificates, evidence, pki_health, pki_publish, signing
from portal.services.pki import PortalPKI
from portal.services.storage import get_store
from portal.services.tsa import QUERY_CONTENT_TYPE, REPLY_CONTENT_TYPE, InternalTimeStamper, TimeStampResponse
from tests.evidence_support import completed_case, parties
from tests.pdf_tools import pdfsig, strict_lta_results
from tests.web.cases_support import fresh, work

PASSPHRASE = b"test-pki-passphrase"


@pytest.fixture
def pair(ctx, portal_pki) -> list[int]:
    return parties(("甲建設株式会社", "kou"), ("乙工務店株式会社", "otsu"))


@pytest.fixture
def live_url(app, portal_pki):
    """The portal served by a real werkzeug server in a thread on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def _query(digest: bytes) -> bytes:
    return tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
        "nonce": 4242,
        "cert_req": True,
    }).dump()


# ---------------------------------------------------------------------- init


def test_r_acc_4_init_creates_the_portal_ca_issuing_ca_and_tsa_once(app, tmp_path, monkeypatch):
    """Does `flask portal init`'s bootstrap create the root CA, issuing CA, TSA (keys 0600, encrypted) and a CRL,
    and leave every one of them untouched when run again?"""
    fresh_pki = PortalPKI(tmp_path / "pki", PASSPHRASE, "http://localhost")
    fresh_pki.root_key_bits = fresh_pki.ca_key_bits = 2048
    monkeypatch.setitem(app.extensions, "ukeoi_pki", fresh_pki)
    with app.app_context():
        first = list(bootstrap.initialize())
        db.session.commit()
    assert any("portal PKI created" in line for line in first)
    directory = tmp_path / "pki"
    names = {"root-ca.pem", "root-ca.key.pem", "issuing-ca.pem", "issuing-ca.key.pem", "tsa.pem", "tsa.key.pem",
             "issuing.crl"}
    assert names <= {p.name for p in directory.iterdir()}
    for key in directory.glob("*.key.pem"):
        assert key.stat().st_mode & 0o777 == 0o600
        assert b"ENCRYPTED PRIVATE KEY" in key.read_bytes()
    before = {name: (directory / name).read_bytes() for name in names - {"issuing.crl"}}

    with app.app_context():
        second = list(bootstrap.initialize())
        db.session.commit()
    assert any("portal PKI present" in line for line in second)
    assert {name: (directory / name).read_bytes() for name in before} == before


# ---------------------------------------------------------------------- CRL


def test_r_acc_4_crl_route_serves_a_signed_crl_listing_a_revoked_serial(app, client, pair):
    """After a revocation commits, does GET at the certificates' CRL distribution point return a DER CRL, signed
    by the issuing CA, that lists the revoked serial?"""
    cert_row = certificates.active_for(pair[0])
    serial, pem = cert_row.serial, cert_row.cert_pem
    certificates.revoke(cert_row, "key_compromise", None)
    db.session.commit()

    company_cert = x509.load_pem_x509_certificate(pem.encode())
    point = company_cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value[0]
    url = point.full_name[0].value
    assert url == app.config["PKI_BASE_URL"] + "/pki/crl"
    response = client.get(url.removeprefix(app.config["PKI_BASE_URL"]))
    assert response.status_code == 200
    assert response.mimetype == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.data)
    issuing = x509.load_der_x509_certificate(certificates.pki().issuing_ca_cert().dump())
    assert crl.issuer == issuing.subject and crl.is_signature_valid(issuing.public_key())
    revoked = crl.get_revoked_certificate_by_serial_number(int(serial, 16))
    assert revoked is not None
    assert revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise


def test_r_acc_4_the_cron_job_publishes_a_fresh_crl(app, client, pair):
    """Does the daily job write a newer CRL (higher number, later nextUpdate) that still lists every revocation?"""
    cert_row = certificates.active_for(pair[1])
    serial = cert_row.serial
    certificates.revoke(cert_row, "superseded", None)
    db.session.commit()
    old = x509.load_der_x509_crl(certificates.pki().current_crl())
    old_number = old.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number

    import time

    time.sleep(1.1)  # the CRL number is the issue time in seconds
    assert jobs.refresh_crl() > 0
    new = x509.load_der_x509_crl(client.get("/pki/crl").data)
    assert new.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > old_number
    assert new.next_update_utc > old.next_update_utc
    assert new.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None


def test_r_acc_4_ca_certificates_are_downloadable_with_their_fingerprints(client, portal_pki):
    """Can anyone download the root as PEM and DER and compare its fingerprint on the CA page?"""
    page = client.get("/pki/ca").get_data(as_text=True)
    assert pki_publish.fingerprint(portal_pki.root_cert()) in page
    pem = client.get("/pki/ca/root.pem")
    assert pem.status_code == 200 and pem.mimetype == "application/x-pem-file"
    assert pem.data == portal_pki.root_cert_pem()
    der = client.get("/pki/ca/root.crt")
    assert der.mimetype == "application/pkix-cert" and der.data == portal_pki.root_cert().dump()
    assert client.get("/pki/ca/issuing.pem").data.startswith(b"-----BEGIN CERTIFICATE-----")
    assert client.get("/pki/ca/other.pem").status_code == 404


# ---------------------------------------------------------------------- TSA over HTTP


def test_r_case_3_tsa_route_answers_pyhanko_over_http(app, live_url, portal_pki):
    """Does pyHanko's HTTPTimeStamper, talking to a live server, get a token that validates against our root?"""
    digest = hashlib.sha256(b"contract bytes").digest()
    token = asyncio.run(HTTPTimeStamper(f"{live_url}/pki/tsa", timeout=10).async_timestamp(digest, "sha256"))
    signed_data = token["content"]
    with app.app_context():
        vc = portal_pki.validation_context()
    status = asyncio.run(validate_tst_signed_data(signed_data, vc, expected_tst_imprint=lambda _algo: digest))
    assert status["intact"] and status["valid"] and status["trust_problem_indic"] is None
    gen_time = signed_data["encap_content_info"]["content"].parsed["gen_time"].native
    assert abs((gen_time - datetime.now(UTC)).total_seconds()) < 60


def test_r_case_3_a_portal_signs_through_another_portals_tsa(app, live_url, pair, monkeypatch):
    """With TSA_URLS naming a portal's /pki/tsa, does a case complete with every signature timestamped by it?"""
    monkeypatch.setitem(app.config, "TSA_URLS", [f"{live_url}/pki/tsa"])
    case_id = completed_case(app, pair)
    case = db.session.get(Case, case_id)
    report = evidence.verify(get_store().get(cases.final_document(case).sha256))
    assert report.valid and report.ltv
    assert all(s.tsa_name and "Ukeoi Timestamping Authority" in s.tsa_name for s in report.signatures)


@pytest.fixture
def other_tsa(tmp_path):
    """A TSA of another PKI (a second installation's, standing in for an accredited external TSA): RFC 3161
    over HTTP at /pki/tsa, and its CRLs and OCSP responder at the addresses its certificates name, counting
    the fetches of revocation data."""
    state: dict = {"crl_fetches": 0}

    @Request.application
    def serve(request: Request) -> Response:
        if request.method == "POST" and request.path == "/pki/tsa":
            return Response(state["tsa"].respond(request.get_data()), mimetype=REPLY_CONTENT_TYPE)
        if request.path == "/pki/crl":
            state["crl_fetches"] += 1
            return Response(state["pki"].current_crl(), mimetype="application/pkix-crl")
        if request.path == "/pki/crl/root":
            return Response(state["pki"].current_root_crl(), mimetype="application/pkix-crl")
        if request.method == "POST" and request.path == "/pki/ocsp":
            state["crl_fetches"] += 1  # revocation data fetched, by OCSP here
            answer = state["pki"].ocsp_answer(ocsp.load_der_ocsp_request(request.get_data()), lambda serial: None)
            return Response(answer, mimetype="application/ocsp-response")
        return Response(status=404)

    server = make_server("127.0.0.1", 0, serve, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    other = PortalPKI(tmp_path / "other-pki", b"other-passphrase", url)
    other.root_key_bits = other.ca_key_bits = 2048
    other.init()
    other.write_crl([])
    state.update(pki=other, tsa=InternalTimeStamper.from_pki(other))
    roots = tmp_path / "tsa-roots.pem"
    roots.write_bytes(other.root_cert_pem())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(url=url, roots=roots, state=state)
    server.shutdown()
    thread.join(timeout=5)


def test_r_case_3_an_external_tsa_of_another_pki_seals_once_its_roots_are_trusted(app, pair, other_tsa,
                                                                                    monkeypatch):
    """With TSA_URLS naming a TSA of another PKI, does the pki check say that TSA_TRUST_ROOTS is missing (the
    seal could not validate its timestamps), and with it set, does a case complete as B-LTA, with the TSA's
    revocation data fetched from the address its certificate names, and verify against the portal's trust?"""
    monkeypatch.setitem(app.config, "TSA_URLS", [f"{other_tsa.url}/pki/tsa"])
    with pytest.raises(pki_health.PKIUnhealthy, match="TSA_TRUST_ROOTS"):
        pki_health.check()
    monkeypatch.setitem(app.config, "TSA_TRUST_ROOTS", str(other_tsa.roots.with_name("missing.pem")))
    with pytest.raises(pki_health.PKIUnhealthy, match="TSA_TRUST_ROOTS cannot be read"):
        pki_health.check()
    monkeypatch.setitem(app.config, "TSA_TRUST_ROOTS", str(other_tsa.roots))
    assert pki_health.check()["tsa"]["source"] == f"{other_tsa.url}/pki/tsa"
    case_id = completed_case(app, pair)
    report = evidence.verify(get_store().get(cases.final_document(db.session.get(Case, case_id)).sha256))
    assert report.valid and report.ltv
    assert other_tsa.state["crl_fetches"] >= 1


def test_r_case_3_tsa_route_refuses_other_content_and_rejects_bad_queries(client, portal_pki):
    """Is a non-RFC 3161 body refused (415), an oversized one 413, and a malformed query answered with a
    rejection — without a CSRF token being needed?"""
    assert client.post("/pki/tsa", data=b"x", content_type="text/plain").status_code == 415
    assert client.post("/pki/tsa", data=b"x" * 20_000, content_type=QUERY_CONTENT_TYPE).status_code == 413
    reply = client.post("/pki/tsa", data=b"not der", content_type=QUERY_CONTENT_TYPE)
    assert reply.status_code == 200 and reply.mimetype == REPLY_CONTENT_TYPE
    assert TimeStampResponse.load(reply.data)["status"]["status"].native == "rejection"
    good = client.post("/pki/tsa", data=_query(hashlib.sha256(b"x").digest()), content_type=QUERY_CONTENT_TYPE)
    assert tsp.TimeStampResp.load(good.data)["status"]["status"].native == "granted"


def test_r_case_3_tsa_route_is_rate_limited(app, client, portal_pki, monkeypatch):
    """Past TSA_RATE_LIMIT queries from one IP (counted in the real Redis), is the next one refused with 429?"""
    monkeypatch.setitem(app.config, "TSA_RATE_LIMIT", "2 per minute")
    query = _query(hashlib.sha256(b"x").digest())
    for _ in range(2):
        assert client.post("/pki/tsa", data=query, content_type=QUERY_CONTENT_TYPE).status_code == 200
    assert client.post("/pki/tsa", data=query, content_type=QUERY_CONTENT_TYPE).status_code == 429


# ---------------------------------------------------------------------- startup check


def test_r_acc_4_healthz_reports_pki_ok_after_a_real_timestamp(client, portal_pki, live_worker, healthz_token):
    """With readable keys, a current CRL and the internal TSA answering, is /healthz 200 with a pki check that
    names the TSA and the certificates' expiry?"""
    response = client.get("/healthz", headers=healthz_token)
    body = response.get_json()
    assert response.status_code == 200, body
    pki = body["checks"]["pki"]
    assert pki["ok"] is True and pki["tsa"]["source"] == "internal"
    assert set(pki["not_after"]) == {"root-ca", "issuing-ca", "tsa", "ocsp"}


def test_r_acc_4_healthz_fails_when_the_keys_cannot_be_read(app, client, portal_pki, live_worker, monkeypatch,
                                                            healthz_token):
    """With the wrong passphrase configured, is /healthz 503 with the pki check naming the unreadable keys?"""
    wrong = PortalPKI(portal_pki.directory, b"not the passphrase", "http://localhost")
    monkeypatch.setitem(app.extensions, "ukeoi_pki", wrong)
    monkeypatch.delitem(app.extensions, "ukeoi_internal_tsa", raising=False)
    response = client.get("/healthz", headers=healthz_token)
    assert response.status_code == 503
    check = response.get_json()["checks"]["pki"]
    assert check["ok"] is False and "cannot be decrypted" in check["error"]


def test_r_acc_4_healthz_fails_when_the_configured_tsa_is_silent(app, client, portal_pki, live_worker, monkeypatch,
                                                                 healthz_token):
    """With TSA_URLS naming a TSA that does not answer, is the pki check failed with the TSA named?"""
    monkeypatch.setitem(app.config, "TSA_URLS", ["http://127.0.0.1:9/"])
    response = client.get("/healthz", headers=healthz_token)
    assert response.status_code == 503
    check = response.get_json()["checks"]["pki"]
    assert check["ok"] is False and "tsa:" in check["error"]


def test_r_acc_4_check_reports_a_ca_near_expiry(ctx, portal_pki):
    """Would the check fail ahead of the TSA certificate's expiry (judged 30 days before it)?"""
    tsa_expiry = x509.load_der_x509_certificate(portal_pki.tsa_cert().dump()).not_valid_after_utc
    with pytest.raises(pki_health.PKIUnhealthy, match="tsa: expires"):
        pki_health.check(now=tsa_expiry - timedelta(days=30))
    assert pki_health.check()["tsa"]["source"] == "internal"


def test_r_acc_4_flask_portal_check_includes_the_pki(runner, portal_pki, live_worker):
    """Does `flask portal check` print the pki check with the TSA round trip?"""
    result = runner.invoke(args=["portal", "check"])
    report = json.loads(result.output)
    assert report["checks"]["pki"]["ok"] is True
    assert report["checks"]["pki"]["tsa"]["source"] == "internal"


# ---------------------------------------------------------------------- re-timestamping


def _short_lived_tsa(pki: PortalPKI, days: int) -> InternalTimeStamper:
    """A TSA certificate from the portal's issuing CA that expires in `days` (as an aging TSA would)."""
    directory = Path(pki.directory)
    issuer_cert = x509.load_pem_x509_certificate((directory / "issuing-ca.pem").read_bytes())
    issuer_key = serialization.load_pem_private_key((directory / "issuing-ca.key.pem").read_bytes(), PASSPHRASE)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ukeoi Aging TSA")]))
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier(pki.crl_url)], None, None, None)]), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )
    der_key = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return InternalTimeStamper(asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
                               asn1_keys.PrivateKeyInfo.load(der_key), chain=[pki.issuing_ca_cert()])


def _sealed_docs(case_id: int) -> list[Document]:
    fresh()
    return list(db.session.scalars(
        select(Document).where(Document.case_id == case_id, Document.role == "sealed").order_by(Document.id)
    ))


def test_r_case_3_retimestamp_renews_an_archive_whose_tsa_expires_soon_and_keeps_every_signature_valid(
    app, pair, portal_pki, tmp_path
):
    """When the last document timestamp's TSA certificate expires within the window, does the daily job add a new
    document timestamp as a new sealed revision, with every signature and timestamp still valid (pyHanko and
    pdfsig), audited — and does a second run change nothing?"""
    case_id = completed_case(app, pair)
    case = db.session.get(Case, case_id)
    aging = archive.add_document_timestamp(case, _short_lived_tsa(portal_pki, days=30))
    db.session.commit()
    assert aging.timestamp_expires_at < datetime.now(UTC) + timedelta(days=31)
    aging_pdf = get_store().get(aging.sha256)

    result = jobs.retimestamp_archives()
    assert result["renewed"] == [case.number] and result["due"] == 1

    docs = _sealed_docs(case_id)
    assert len(docs) == 3
    renewed = docs[-1]
    assert cases.final_document(db.session.get(Case, case_id)).id == renewed.id
    assert renewed.timestamp_expires_at > datetime.now(UTC) + timedelta(days=365 * 4)
    pdf = get_store().get(renewed.sha256)
    assert pdf.startswith(aging_pdf)  # an incremental update of the earlier file
    report = evidence.verify(pdf)
    assert report.valid and report.ltv
    assert [t.bottom_line for t in report.document_timestamps] == [True, True, True]
    assert all(s.modification_level in evidence.ACCEPTED_LEVELS for s in report.signatures)
    blocks = pdfsig(pdf, portal_pki.root_cert_pem(), tmp_path)
    for position in (1, 2):
        assert "Signature is Valid" in blocks[f"Party{position}"]
        assert "Certificate is Trusted" in blocks[f"Party{position}"]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "retimestamped")
                              .order_by(AuditEvent.id.desc()))
    assert event.case_id == case_id and event.detail["document_id"] == renewed.id

    again = jobs.retimestamp_archives()
    assert again["renewed"] == [] and again["due"] == 0
    assert len(_sealed_docs(case_id)) == 3


def test_r_case_3_retimestamp_refuses_when_the_tsa_itself_expires_within_the_window(
    app, pair, staff_admin, monkeypatch
):
    """If even the TSA in use expires within the window (here: a 100-year window), does the job change nothing,
    alert the staff administrators, and fail visibly for RQ?"""
    admin_email = staff_admin.email
    case_id = completed_case(app, pair)
    monkeypatch.setitem(app.config, "RETIMESTAMP_WINDOW_DAYS", 365 * 100)
    with pytest.raises(RuntimeError, match="re-timestamping incomplete"):
        jobs.retimestamp_archives()
    docs = _sealed_docs(case_id)
    assert len(docs) == 1
    assert docs[0].timestamp_expires_at is not None  # read once from the file and kept
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "retimestamp_alert")) is not None
    notice = db.session.scalar(select(SentNotice).where(SentNotice.kind == "retimestamp_alert"))
    assert notice is not None and notice.recipient == admin_email


def test_r_case_3_retimestamp_leaves_fresh_archives_alone(app, pair):
    """Is a freshly sealed case (TSA valid for years) left as it is by the daily job?"""
    case_id = completed_case(app, pair)
    result = jobs.retimestamp_archives()
    assert result == {"backfilled": 1, "due": 0, "renewed": [], "failed": [], "blocked": None}
    assert len(_sealed_docs(case_id)) == 1


@pytest.fixture
def trio(ctx, portal_pki) -> list[int]:
    return parties(("甲建設株式会社", "kou"), ("乙工務店株式会社", "otsu"), ("丙設備株式会社", "hei"))


def test_r_case_3_a_completed_three_party_case_passes_strict_lta_validation(app, trio, portal_pki):
    """Does the sealed original of a three-party case, completed through the jobs, pass pyHanko's strict AdES
    LTA validation for every party signature at seal time, in 4 and in 9 years — and does the report say
    長期検証 あり?"""
    case = db.session.get(Case, completed_case(app, trio))
    pdf = get_store().get(cases.final_document(case).sha256)
    results = strict_lta_results(pdf, portal_pki.trust_roots())
    assert len(results) == 9
    assert all(subindic == AdESPassed.OK for _when, subindic in results), results
    view = evidence.describe(evidence.verify(pdf))
    assert view.ltv and view.notes[1].value == "あり（PAdES B-LTA）"


def test_r_case_3_lta_update_gives_archives_sealed_without_revocation_data_what_they_lack(app, runner, pair,
                                                                                          portal_pki):
    """For a case archived before the seal embedded OCSP responses, does `flask portal lta-update` enqueue a
    job whose LTA update makes strict validation pass, and does running it again enqueue nothing?"""
    case_id = completed_case(app, pair)
    case = db.session.get(Case, case_id)
    final = cases.final_document(case)
    store = get_store()
    old_style = signing.seal_lta(store.get(cases.signing_base(case).sha256), certificates.sealing_contexts(),
                                 certificates.timestamper())  # as sealed before: no OCSP responses
    final.sha256 = store.put(old_style)
    final.size = len(old_style)
    db.session.commit()
    before = strict_lta_results(old_style, portal_pki.trust_roots())
    assert any(subindic != AdESPassed.OK for _when, subindic in before)

    first = runner.invoke(args=["portal", "lta-update"])
    assert first.exit_code == 0 and "enqueued 1 case(s)" in first.output
    work(app)
    fresh()
    case = db.session.get(Case, case_id)
    updated = cases.final_document(case)
    assert updated.id != final.id
    pdf = store.get(updated.sha256)
    assert all(subindic == AdESPassed.OK for _when, subindic in strict_lta_results(pdf, portal_pki.trust_roots()))
    assert evidence.verify(pdf).ltv
    again = runner.invoke(args=["portal", "lta-update"])
    assert again.exit_code == 0 and "enqueued 0 case(s)" in again.output
    assert archive.add_revocation_data(case_id) == "up to date"
