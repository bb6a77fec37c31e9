"""Sample PDFs for tests: real files made with reportlab, Japanese text in the IPAex Gothic font."""
from __future__ import annotations

import asyncio
import io
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PdfFileWriter
from pyhanko.sign.validation import ades
from pyhanko.sign.validation.policy_decl import (
    CertValidationPolicySpec,
    PdfSignatureValidationSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy, FreshnessReqType
from pyhanko_certvalidator.registry import SimpleTrustManager
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from portal.services.pki import PortalPKI
from portal.services.verification import LOCAL_ONLY
from tests import ocsp_stand_in

IPAEX_GOTHIC = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"
_FONT = "IPAexGothic"


def _register_font() -> None:
    if _FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(_FONT, IPAEX_GOTHIC))


def small_pki(directory: Path, passphrase: bytes = b"test-pki-passphrase", now: datetime | None = None) -> PortalPKI:
    """An initialised portal PKI with RSA 2048 keys throughout: the production code paths, faster key generation.

    `now` backdates the CA and TSA certificates (for tests about time)."""
    pki = PortalPKI(directory, passphrase, ocsp_stand_in.base_url())
    pki.root_key_bits = pki.ca_key_bits = pki.company_key_bits = 2048
    pki.init(now=now)
    ocsp_stand_in.register(ocsp_stand_in.pki_answer(pki))
    return pki


def make_pdf(pages: int = 1, title: str = "工事請負契約書", *, encrypt: str | None = None) -> bytes:
    """An A4 contract-like PDF with `pages` pages of Japanese text (optionally password-encrypted)."""
    _register_font()
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, encrypt=encrypt, invariant=True)
    pdf.setTitle(title)
    width, height = A4
    for number in range(1, pages + 1):
        pdf.setFont(_FONT, 18)
        pdf.drawString(72, height - 90, title)
        pdf.setFont(_FONT, 11)
        lines = [
            f"第{number}条 発注者と受注者は、この契約書に基づき工事を完成させる。",
            "工事名：〇〇ビル新築工事　工事場所：東京都千代田区",
            "請負代金の額：¥12,345,000（税込）",
        ]
        for row, line in enumerate(lines):
            pdf.drawString(72, height - 130 - row * 20, line)
        pdf.drawString(width / 2 - 20, 40, f"- {number} / {pages} -")
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def make_zero_page_pdf() -> bytes:
    """A syntactically valid PDF whose page tree is empty."""
    out = io.BytesIO()
    PdfFileWriter().write(out)
    return out.getvalue()


def tamper(pdf: bytes, marker: bytes = b"ReportLab Generated PDF document") -> bytes:
    """Change one byte inside the original document (a header comment, so the file still parses)."""
    at = pdf.index(marker)
    return pdf[:at] + b"X" + pdf[at + 1 :]


def pdfsig(pdf: bytes, root_pem: bytes, workdir: Path) -> dict[str, str]:
    """Check `pdf` with poppler's pdfsig, trusting only `root_pem`; returns each field's report block."""
    nss = workdir / "nss"
    if not nss.exists():
        nss.mkdir(parents=True)
        (workdir / "root.pem").write_bytes(root_pem)
        _run(["certutil", "-N", "--empty-password", "-d", f"sql:{nss}"])
        _run(["certutil", "-A", "-n", "root", "-t", "CT,C,C", "-i", str(workdir / "root.pem"), "-d", f"sql:{nss}"])
    document = workdir / "document.pdf"
    document.write_bytes(pdf)
    # pdfsig exits non-zero when any signature (e.g. a document timestamp) is of a type it cannot
    # check, so the exit code says nothing; the per-signature text does. NSS asks the OCSP responder
    # named in each certificate (tests.ocsp_stand_in, or the app's /pki/ocsp through it); -no-ocsp
    # would make it report "Unknown issue" for certificates whose CRL it has not got.
    output = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{nss}", str(document)], capture_output=True, text=True, timeout=60
    ).stdout
    blocks = re.split(r"^Signature #\d+:\n", output, flags=re.MULTILINE)[1:]
    return {_field(block): block for block in blocks}


def _field(block: str) -> str:
    match = re.search(r"Signature Field Name: (\S+)", block)
    return match.group(1) if match else ""


def _run(command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=60)


def raw_pdf(objects: dict[int, bytes], root: int = 1) -> bytes:
    """A PDF written byte by byte from `objects` (number → body) with a correct xref table: the way to
    build files no PDF library would write (loops, lies, absurd nesting)."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    size = max(objects) + 1
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += b"%010d 00000 n \n" % offsets[number] if number in offsets else b"0000000000 65535 f \n"
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, root, xref)
    return bytes(out)


PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"


def deeply_nested_pdf(depth: int = 100_000) -> bytes:
    """One page, and a catalog entry that opens `depth` arrays inside each other."""
    return raw_pdf({1: b"<< /Type /Catalog /Pages 2 0 R /Deep " + b"[" * depth + b"]" * depth + b" >>",
                    2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", 3: PAGE})


def lying_count_pdf(count: int = 99_999_999) -> bytes:
    """One real page under a page tree that claims `count` pages."""
    return raw_pdf({1: b"<< /Type /Catalog /Pages 2 0 R >>",
                    2: b"<< /Type /Pages /Kids [3 0 R] /Count %d >>" % count, 3: PAGE})


def looping_pages_pdf() -> bytes:
    """A page tree whose inner node lists the root as its own child (and a real page beside it)."""
    return raw_pdf({1: b"<< /Type /Catalog /Pages 2 0 R >>",
                    2: b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
                    3: PAGE,
                    4: b"<< /Type /Pages /Parent 2 0 R /Kids [3 0 R 2 0 R] /Count 1 >>"})


def strict_lta_results(pdf: bytes, roots) -> list:
    """pyHanko's AdES LTA validation with its own LTA test policy (REQUIRE_REVINFO: revocation data for every
    certificate below the root, judged fresh; trusting only `roots`; nothing fetched) of every party
    signature: (when, subindication) now, and simulated 4 and 9 years on."""
    spec = PdfSignatureValidationSpec(SignatureValidationSpec(cert_validation_policy=CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(roots),
        revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO,
                                          freshness_req_type=FreshnessReqType.MAX_DIFF_REVOCATION_VALIDATION),
    ), revinfo_gathering_policy=LOCAL_ONLY))

    async def judge():
        results = []
        for sig in PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures:
            results.append(("now", (await ades.ades_lta_validation(sig, pdf_validation_spec=spec)).ades_subindic))
            for years in (4, 9):
                future = datetime.now(UTC) + timedelta(days=365 * years + 2)
                result = await ades.simulate_future_ades_lta_validation(
                    sig, pdf_validation_spec=spec, future_validation_time=future)
                results.append((years, result.ades_subindic))
        return results

    return asyncio.run(judge())
