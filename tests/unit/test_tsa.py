"""RFC 3161 timestamps: the internal TSA and the fallback client for TSA_URLS (R-CASE-3)."""
from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asn1crypto import tsp
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data

from portal.services.pki import TSA_POLICY_OID, PortalPKI
from portal.services.tsa import (
    QUERY_CONTENT_TYPE,
    REPLY_CONTENT_TYPE,
    FallbackTimeStamper,
    InternalTimeStamper,
    TimeStampResponse,
    TimestampUnavailable,
    make_timestamper,
)
from tests.pdf_tools import small_pki

UNREACHABLE = "http://127.0.0.1:9/"  # the discard port: nothing listens there


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> PortalPKI:
    return small_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def internal(pki) -> InternalTimeStamper:
    return InternalTimeStamper.from_pki(pki)


@pytest.fixture(scope="module")
def tsa_url(internal) -> Iterator[str]:
    """The internal TSA served over HTTP on a free loopback port, as the /pki/tsa view will."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            reply = internal.respond(body)
            self.send_response(200)
            self.send_header("Content-Type", REPLY_CONTENT_TYPE)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/pki/tsa"
    server.shutdown()
    server.server_close()
    thread.join()


def _query(digest: bytes, algorithm: str = "sha256", nonce: int = 12345) -> tsp.TimeStampReq:
    return tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {"hash_algorithm": {"algorithm": algorithm}, "hashed_message": digest},
            "nonce": nonce,
            "cert_req": True,
        }
    )


def test_r_case_3_internal_tsa_grants_a_verifiable_token(pki, internal):
    """Does the internal TSA answer a query with a token that pyHanko validates against the portal root?"""
    digest = hashlib.sha256(b"contract").digest()
    response = tsp.TimeStampResp.load(internal.respond(_query(digest).dump()))
    assert response["status"]["status"].native == "granted"
    signed_data = response["time_stamp_token"]["content"]
    tst_info = signed_data["encap_content_info"]["content"].parsed
    assert tst_info["policy"].dotted == TSA_POLICY_OID
    assert tst_info["nonce"].native == 12345
    assert abs((tst_info["gen_time"].native - datetime.now(UTC)).total_seconds()) < 60
    status = asyncio.run(
        validate_tst_signed_data(signed_data, pki.validation_context(), expected_tst_imprint=lambda _algo: digest)
    )
    assert status["intact"] and status["valid"]
    assert status["validation_path"] is not None and status["trust_problem_indic"] is None


@pytest.mark.parametrize(
    ("query", "fail_info"),
    [
        (b"not a timestamp query", "bad_data_format"),
        (_query(hashlib.md5(b"x").digest(), "md5").dump(), "bad_alg"),  # noqa: S324 - the point of the test
        (_query(b"short").dump(), "bad_data_format"),
    ],
)
def test_r_case_3_internal_tsa_rejects_bad_queries(internal, query, fail_info):
    """Are malformed queries and weak hash algorithms refused with the RFC 3161 failure code?"""
    response = TimeStampResponse.load(internal.respond(query))
    assert response["status"]["status"].native == "rejection"
    assert fail_info in response["status"]["fail_info"].native
    assert response["time_stamp_token"].native is None


def test_r_case_3_without_tsa_urls_the_internal_tsa_is_used(pki):
    """With TSA_URLS empty, is the internal TSA the timestamper?"""
    assert isinstance(make_timestamper(pki, []), InternalTimeStamper)


def test_r_case_3_tsa_urls_are_tried_in_order(pki, tsa_url):
    """When the first TSA is down, does the next one in TSA_URLS give the timestamp?"""
    stamper = make_timestamper(pki, [UNREACHABLE, tsa_url])
    assert isinstance(stamper, FallbackTimeStamper)
    digest = hashlib.sha256(b"contract").digest()
    token = asyncio.run(stamper.async_timestamp(digest, "sha256"))
    tst_info = token["content"]["encap_content_info"]["content"].parsed
    assert tst_info["message_imprint"]["hashed_message"].native == digest


def test_r_case_3_no_tsa_answering_is_an_error(pki):
    """If no TSA answers, is that a clear TimestampUnavailable naming each URL?"""
    stamper = make_timestamper(pki, [UNREACHABLE, "http://127.0.0.1:9/other"])
    with pytest.raises(TimestampUnavailable, match="127.0.0.1:9/other"):
        asyncio.run(stamper.async_timestamp(hashlib.sha256(b"x").digest(), "sha256"))


def test_r_case_3_the_query_content_type_is_rfc_3161():
    """Are the HTTP content types the RFC 3161 ones the view must use?"""
    assert (QUERY_CONTENT_TYPE, REPLY_CONTENT_TYPE) == ("application/timestamp-query", "application/timestamp-reply")
