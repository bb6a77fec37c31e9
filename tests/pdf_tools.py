"""Sample PDFs for tests: real files made with reportlab, Japanese text in the IPAex Gothic font."""
from __future__ import annotations

import io

from pyhanko.pdf_utils.writer import PdfFileWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

IPAEX_GOTHIC = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"
_FONT = "IPAexGothic"


def _register_font() -> None:
    if _FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(_FONT, IPAEX_GOTHIC))


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
