"""A real local OCSP responder for tests that run poppler's `pdfsig`: NSS asks the OCSP URL in each
certificate's AIA, so the certificates the tests issue name this server, which answers for every PKI
registered with it (the first whose issuing CA the request names)."""
from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from cryptography.x509 import ocsp

Answer = Callable[[bytes], tuple[int, bytes]]  # DER request → (HTTP status, DER response)
_answers: list[Answer] = []
_server: ThreadingHTTPServer | None = None
_UNAUTHORIZED = ocsp.OCSPResponseStatus.UNAUTHORIZED


def base_url() -> str:
    """The stand-in's base URL (its OCSP endpoint is at /pki/ocsp, as the portal's); started once per process."""
    global _server
    if _server is None:
        _server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        threading.Thread(target=_server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{_server.server_address[1]}"


def register(answer: Answer) -> None:
    _answers.append(answer)


def pki_answer(pki, revoked: dict[str, tuple] | None = None) -> Answer:
    """Answers from a bare `PortalPKI`: certificates are good unless listed in `revoked` (serial → (at, reason))."""
    revoked = revoked if revoked is not None else {}

    def answer(der: bytes) -> tuple[int, bytes]:
        try:
            request = ocsp.load_der_ocsp_request(der)
        except ValueError:
            return 400, b""
        return 200, pki.ocsp_answer(request, lambda serial: revoked.get(serial))

    return answer


def _respond(der: bytes) -> tuple[int, bytes]:
    """The first good answer among the registered PKIs; one that cannot answer (not this issuer, or a PKI
    not initialised yet in this process) passes the request on to the next."""
    result = (400, b"")
    for answer in list(_answers):
        try:
            result = answer(der)
        except Exception:  # e.g. the app's PKI is not initialised in this process: ask the next one
            continue
        if result[0] == 200 and ocsp.load_der_ocsp_response(result[1]).response_status != _UNAUTHORIZED:
            return result
    return result


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        self._send(*_respond(self.rfile.read(int(self.headers.get("Content-Length") or 0))))

    def do_GET(self):  # noqa: N802
        self._send(*_respond(base64.b64decode(unquote(self.path.rsplit("/", 1)[-1]))))

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/ocsp-response")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output quiet
        pass
