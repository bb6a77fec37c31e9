"""The "pki" startup check for /healthz and `flask portal check` (R-ACC-4, R-CASE-3): the CA and TSA keys
decrypt and match their certificates, none is near expiry, the CRL is current, and a timestamp authority
answers a real RFC 3161 request (the first of TSA_URLS, else the internal TSA) with a token for our digest.
"""
from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import datetime

from asn1crypto import cms
from flask import current_app
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data

from portal.clock import now_utc
from portal.services import certificates
from portal.services.pki_publish import internal_tsa

EXTERNAL_TSA_TIMEOUT = 5  # seconds
EXTERNAL_TSA_CACHE_SECONDS = 300  # monitors poll often; a public TSA should not be asked every time


class PKIUnhealthy(RuntimeError):
    pass


def check(now: datetime | None = None) -> dict:
    """Detail for the health report; raises PKIUnhealthy naming every problem found."""
    now = now or now_utc()
    pki = certificates.pki()
    state = pki.health(now)
    problems: list[str] = [str(p) for p in state["problems"]]  # type: ignore[attr-defined]
    detail: dict = {"not_after": state["not_after"]}
    problems += _tsa_trust_problems()
    try:
        detail["tsa"] = _tsa_round_trip(now)
    except Exception as exc:  # report any TSA failure as a problem, with its cause
        problems.append(f"tsa: {type(exc).__name__}: {exc}")
    if problems:
        raise PKIUnhealthy("; ".join(problems))
    return detail


def _tsa_trust_problems() -> list[str]:
    """The seal validates external TSAs' timestamps: it needs their roots (TSA_TRUST_ROOTS), readable."""
    try:
        roots = certificates.external_tsa_roots()
    except (OSError, ValueError) as exc:
        return [f"tsa: TSA_TRUST_ROOTS cannot be read: {exc}"]
    if current_app.config.get("TSA_URLS") and not roots:
        return ["tsa: TSA_URLS is set without TSA_TRUST_ROOTS: cases timestamped there cannot be sealed"]
    return []


def _tsa_round_trip(now: datetime) -> dict:
    urls = current_app.config.get("TSA_URLS") or []
    digest = hashlib.sha256(f"ukeoi health {now.isoformat()}".encode()).digest()
    if not urls:
        token = asyncio.run(internal_tsa().async_timestamp(digest, "sha256"))
        _validate_internal(token, digest)
        return {"source": "internal", "time": _gen_time(token).isoformat()}
    url = urls[0]
    cache = current_app.extensions.setdefault("ukeoi_tsa_health", {})
    cached = cache.get(url)
    if cached and time.monotonic() - cached[0] < EXTERNAL_TSA_CACHE_SECONDS:
        return cached[1]
    token = asyncio.run(HTTPTimeStamper(url, timeout=EXTERNAL_TSA_TIMEOUT).async_timestamp(digest, "sha256"))
    imprint = token["content"]["encap_content_info"]["content"].parsed["message_imprint"]["hashed_message"].native
    if imprint != digest:
        raise PKIUnhealthy(f"{url} timestamped another digest")
    result = {"source": url, "time": _gen_time(token).isoformat()}
    cache[url] = (time.monotonic(), result)
    return result


def _validate_internal(token: cms.ContentInfo, digest: bytes) -> None:
    """The internal TSA's token must validate against the portal root (key, chain, CRL all in order)."""

    async def run() -> dict:
        vc = certificates.pki().validation_context()
        try:
            return await validate_tst_signed_data(token["content"], vc, expected_tst_imprint=lambda _algo: digest)
        finally:
            await vc.aclose()

    status = asyncio.run(run())
    if not (status["intact"] and status["valid"] and status.get("trust_problem_indic") is None):
        raise PKIUnhealthy(f"internal TSA token does not validate: {status.get('trust_problem_indic')}")


def _gen_time(token: cms.ContentInfo) -> datetime:
    return token["content"]["encap_content_info"]["content"].parsed["gen_time"].native
