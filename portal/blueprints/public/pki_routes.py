"""The portal's PKI in public (R-ACC-4, R-CASE-3): the CRL at the URL every certificate names as its
distribution point, the CA certificates, and the internal RFC 3161 TSA over HTTP (TSA_URLS of another
portal may point here)."""
from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from flask import Response, abort, current_app, render_template, request

from portal.blueprints.public import bp
from portal.extensions import csrf, limiter
from portal.services import certificates, pki_publish
from portal.services.tsa import QUERY_CONTENT_TYPE, REPLY_CONTENT_TYPE


def _tsa_limit() -> str:
    return current_app.config.get("TSA_RATE_LIMIT", "600 per minute")


@bp.get("/pki/crl")
def crl():
    """The issuing CA's CRL (DER, application/pkix-crl), the distribution point in every certificate."""
    return _crl_response(pki_publish.crl_der(), "ukeoi-issuing-ca.crl")


@bp.get("/pki/crl/root")
def root_crl():
    """The root's CRL (DER), the distribution point named in the issuing CA's certificate."""
    return _crl_response(pki_publish.root_crl_der(), "ukeoi-root-ca.crl")


def _crl_response(der: bytes, filename: str) -> Response:
    """A CRL as a download that caches may keep five minutes (it is refreshed daily, valid a week)."""
    response = Response(der, mimetype="application/pkix-crl")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.post("/pki/ocsp")
@csrf.exempt  # OCSP clients post a bare DER request: there is no session and nothing to forge
@limiter.limit(_tsa_limit)
def ocsp_post():
    """RFC 6960 over HTTP POST: application/ocsp-request in, application/ocsp-response out.
    415 for another content type, 413 for an oversized body, 400 for a malformed request."""
    return _ocsp_response(_bounded_body(pki_publish.OCSP_REQUEST_TYPE))


@bp.get("/pki/ocsp/<path:encoded>")
@limiter.limit(_tsa_limit)
def ocsp_get(encoded: str):
    """RFC 6960 appendix A.1 GET: the URL-encoded base64 of the DER request. 400 when it is malformed."""
    if len(encoded) > pki_publish.MAX_QUERY_BYTES:
        abort(413)
    try:
        der = base64.b64decode(unquote(encoded), validate=True)
    except (binascii.Error, ValueError):
        abort(400)
    return _ocsp_response(der)


def _ocsp_response(der: bytes) -> Response:
    try:
        body, status = pki_publish.ocsp_reply(der), 200
    except pki_publish.MalformedOcspRequest as exc:
        body, status = exc.body, 400
    response = Response(body, status=status, mimetype=pki_publish.OCSP_RESPONSE_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/pki/ca", defaults={"name": None, "fmt": None})
@bp.get("/pki/ca/<name>.<any(pem, crt):fmt>")
def ca_certificates(name: str | None, fmt: str | None):
    """Without a name: the CA and TSA certificates with their fingerprints (trust anchors to compare).
    With one: that certificate as PEM (application/x-pem-file) or DER (application/pkix-cert); 404 for
    other names."""
    published = pki_publish.ca_certificates()
    if name is None:
        pki = certificates.pki()
        return render_template("public/pki_ca.html", certificates=published, crl_url=pki.crl_url,
                               root_crl_url=pki.root_crl_url, ocsp_url=pki.ocsp_url)
    found = next((c for c in published if c.name == name), None)
    if found is None:
        abort(404)
    body, mimetype = (found.pem, "application/x-pem-file") if fmt == "pem" else (found.der, "application/pkix-cert")
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="ukeoi-{name}.{fmt}"'
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.post("/pki/tsa")
@csrf.exempt  # RFC 3161 clients post a bare DER query: there is no session and nothing to forge
@limiter.limit(_tsa_limit)
def tsa():
    """RFC 3161 over HTTP: application/timestamp-query in, application/timestamp-reply out.
    415 for another content type, 413 for a body larger than a query can be."""
    response = Response(pki_publish.timestamp_reply(_bounded_body(QUERY_CONTENT_TYPE)), mimetype=REPLY_CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


def _bounded_body(content_type: str) -> bytes:
    """The bare DER body of an OCSP or timestamp request: 415 for another content type, 413 past the
    size a query can have (by its declared length, and by what actually arrives)."""
    if request.mimetype != content_type:
        abort(415)
    if (request.content_length or 0) > pki_publish.MAX_QUERY_BYTES:
        abort(413)
    body = request.get_data(cache=False)
    if len(body) > pki_publish.MAX_QUERY_BYTES:
        abort(413)
    return body
