"""Time the signing core: per-party signature, B-LTA seal and verification, on 1-page and 300-page PDFs.

Run: .venv/bin/python -m bench.signing_core [parties]
Uses production key sizes and the internal TSA; prints one row per document size.
"""
from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from portal.services.pki import PortalPKI
from portal.services.signing import StampText, prepare_signature_fields, seal_lta, sign_as_party
from portal.services.tsa import InternalTimeStamper
from portal.services.verification import verify_pdf
from tests.pdf_tools import make_pdf


def _timed(action):
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def run(pages: int, parties: int, pki: PortalPKI, timestamper: InternalTimeStamper) -> dict[str, float]:
    certs = [pki.issue_company_certificate(f"株式会社計測{pages}-{n}", f"300000000000{n}") for n in range(parties)]
    pdf = prepare_signature_fields(make_pdf(pages=pages), [f"当事者{n}" for n in range(1, parties + 1)])
    size_in = len(pdf)
    sign_times = []
    for position, cert in enumerate(certs, start=1):
        signer = pki.signer_for(cert.cert_pem, cert.key_pem_encrypted)
        stamp = StampText(f"株式会社計測{pages}-{position}", "計測 太郎", datetime.now(UTC))  # no font cache hits
        pdf, seconds = _timed(lambda: sign_as_party(pdf, position, parties, signer, timestamper, stamp))  # noqa: B023
        sign_times.append(seconds)
    pdf, seal_seconds = _timed(lambda: seal_lta(pdf, pki.validation_context, timestamper, pki.fresh_revocation_data))
    crls = [pki.current_crl(), pki.current_root_crl()]
    report, verify_seconds = _timed(lambda: verify_pdf(pdf, pki.trust_roots(), crls=crls))
    assert report.valid and report.ltv
    return {
        "pages": pages,
        "in_kb": size_in / 1024,
        "out_kb": len(pdf) / 1024,
        "sign_first": sign_times[0],
        "sign_mean": sum(sign_times) / len(sign_times),
        "sign_max": max(sign_times),
        "seal": seal_seconds,
        "verify": verify_seconds,
    }


def main() -> None:
    parties = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory() as directory:
        pki = PortalPKI(Path(directory) / "pki", b"bench-passphrase", "http://localhost")
        pki.init()
        timestamper = InternalTimeStamper.from_pki(pki)
        print(f"{parties} parties; seconds per step (first signature includes font and key warm-up)")
        print("pages  in KB  out KB  sign#1  sign avg  sign max  seal  verify")
        for pages in (1, 300):
            row = run(pages, parties, pki, timestamper)
            print(
                f"{row['pages']:>5}  {row['in_kb']:>5.0f}  {row['out_kb']:>6.0f}  {row['sign_first']:>6.2f}"
                f"  {row['sign_mean']:>8.2f}  {row['sign_max']:>8.2f}  {row['seal']:>4.2f}  {row['verify']:>6.2f}"
            )


if __name__ == "__main__":
    main()
