"""PAdES signing of contract PDFs with pyHanko (R-CASE-3). Pure bytes in, bytes out; no Flask, no DB.

The life of a contract PDF:

1. `inspect_upload` accepts an upload (or raises `InvalidPdf` with a Japanese message).
2. `prepare_signature_fields` adds one empty, visible signature field per party ("Party1".."PartyN") on
   the last page. The fields must exist before the first signature: pyHanko judges a field added after
   a certification signature as ModificationLevel.OTHER, while filling a pre-created field stays
   FORM_FILLING.
3. `sign_as_party` once per party in order: party 1 certifies (DocMDP: form filling and signatures
   only), the others approve; each is PAdES B-T (signature timestamp) in its own incremental update.
4. `seal_lta` after the last party: one revision with a DSS (certificates and CRLs of every signature
   and timestamp), then a document timestamp → PAdES B-LTA.

Signing refuses to produce output without a timestamp: a `TimestampUnavailable` from the timestamper
propagates unchanged.
"""
from __future__ import annotations

import asyncio
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_signer import DSSContentSettings, SigDSSPlacementPreference
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore, collect_validation_info
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext

from portal.clock import to_jst

STAMP_FONT = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"
MD_ALGORITHM = "sha256"
FIELD_PREFIX = "Party"
SIGN_REASON = "契約内容に合意し署名します"

# Signature boxes on the last page: up to 3 per row, rows stacked upwards from the bottom margin.
BOX_COLUMNS = 3
BOX_HEIGHT = 54
BOX_GAP = 8
BOX_MARGIN = 28


class InvalidPdf(ValueError):
    """An upload that cannot be a contract PDF; `message_ja` is shown to the user."""

    def __init__(self, message_ja: str):
        super().__init__(message_ja)
        self.message_ja = message_ja


@dataclass(frozen=True)
class PdfInfo:
    page_count: int


@dataclass(frozen=True)
class StampText:
    """What the visible signature shows."""

    company: str
    signer_name: str
    signed_at: datetime  # any timezone; shown in JST


def field_name(position: int) -> str:
    """Name of the signature field of the party at 1-based `position`."""
    return f"{FIELD_PREFIX}{position}"


# ---------------------------------------------------------------------- uploads


def _reader(pdf: bytes) -> PdfFileReader:
    return PdfFileReader(io.BytesIO(pdf))


def page_count(pdf: bytes) -> int:
    """Number of pages of a readable, unencrypted PDF."""
    return int(_reader(pdf).root["/Pages"]["/Count"])


def inspect_upload(pdf: bytes, max_bytes: int) -> PdfInfo:
    """Check that `pdf` is a PDF we can sign: parseable, unencrypted, unsigned, 1+ pages, not too large."""
    if len(pdf) > max_bytes:
        raise InvalidPdf(f"ファイルが大きすぎます（上限 {max_bytes // (1024 * 1024)}MB）。")
    if not pdf.lstrip()[:5].startswith(b"%PDF-"):
        raise InvalidPdf("PDFファイルではありません。")
    try:
        reader = _reader(pdf)
        if reader.encrypted:
            raise InvalidPdf("パスワードで保護されたPDFは登録できません。保護を解除してから登録してください。")
        count = int(reader.root["/Pages"]["/Count"])
        signed = bool(reader.embedded_signatures)
    except InvalidPdf:
        raise
    except (PdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise InvalidPdf("PDFファイルが壊れているため読み込めません。") from exc
    if count < 1:
        raise InvalidPdf("ページのないPDFは登録できません。")
    if signed:
        raise InvalidPdf("電子署名済みのPDFは登録できません。署名前のPDFを登録してください。")
    return PdfInfo(page_count=count)


# ---------------------------------------------------------------------- fields


def prepare_signature_fields(pdf: bytes, parties: Sequence[str]) -> bytes:
    """Add empty visible signature fields Party1..PartyN (tooltip: the party's name) on the last page."""
    if not parties:
        raise ValueError("at least one party is required")
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    last_page = int(writer.root["/Pages"]["/Count"]) - 1
    boxes = signature_boxes(_page_box(writer, last_page), len(parties))
    for position, (party, box) in enumerate(zip(parties, boxes, strict=True), start=1):
        spec = fields.SigFieldSpec(
            sig_field_name=field_name(position),
            on_page=last_page,
            box=box,
            readable_field_name=party,
            empty_field_appearance=True,
        )
        fields.append_signature_field(writer, spec)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def signature_boxes(page_box: tuple[float, float, float, float], count: int) -> list[tuple[int, int, int, int]]:
    """Non-overlapping boxes (llx, lly, urx, ury) in a grid at the bottom of the page, first party top-left."""
    llx, lly, urx, _ury = page_box
    columns = min(count, BOX_COLUMNS)
    rows = math.ceil(count / BOX_COLUMNS)
    width = (urx - llx - 2 * BOX_MARGIN - (BOX_COLUMNS - 1) * BOX_GAP) / BOX_COLUMNS
    boxes = []
    for index in range(count):
        row, column = divmod(index, columns)
        left = llx + BOX_MARGIN + column * (width + BOX_GAP)
        bottom = lly + BOX_MARGIN + (rows - 1 - row) * (BOX_HEIGHT + BOX_GAP)
        boxes.append((round(left), round(bottom), round(left + width), round(bottom + BOX_HEIGHT)))
    return boxes


def _page_box(writer: IncrementalPdfFileWriter, page_index: int) -> tuple[float, float, float, float]:
    page = writer.find_page_for_modification(page_index)[0].get_object()
    box = page.get("/CropBox") or _inherited(page, "/MediaBox")
    llx, lly, urx, ury = (float(value) for value in box)
    return min(llx, urx), min(lly, ury), max(llx, urx), max(lly, ury)


def _inherited(node: generic.DictionaryObject, key: str) -> generic.PdfObject:
    while key not in node:
        node = node["/Parent"]
    return node[key]


# ---------------------------------------------------------------------- signing


def sign_as_party(
    pdf: bytes,
    position: int,
    total: int,
    signer: signers.Signer,
    timestamper: TimeStamper,
    stamp: StampText,
) -> bytes:
    """Sign field Party{position} as an incremental update, PAdES B-T with a visible Japanese stamp.

    Party 1 makes the certification signature (DocMDP FILL_FORMS: later changes other than filling the
    prepared signature fields break it); parties 2..total make approval signatures.
    """
    if not 1 <= position <= total:
        raise ValueError(f"position {position} is outside 1..{total}")
    meta = signers.PdfSignatureMetadata(
        field_name=field_name(position),
        md_algorithm=MD_ALGORITHM,
        subfilter=fields.SigSeedSubFilter.PADES,
        certify=position == 1,
        docmdp_permissions=fields.MDPPerm.FILL_FORMS,
        reason=SIGN_REASON,
        name=stamp.signer_name,
        location="日本",
    )
    pdf_signer = signers.PdfSigner(meta, signer=signer, timestamper=timestamper, stamp_style=_stamp_style())
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = pdf_signer.sign_pdf(
        writer,
        existing_fields_only=True,
        appearance_text_params={
            "company": stamp.company,
            "signer": stamp.signer_name,
            "signed_at": to_jst(stamp.signed_at).strftime("%Y年%m月%d日 %H:%M JST"),
            "role": "作成・承認" if position == 1 else "承認",
        },
    )
    return out.getvalue()


def _stamp_style() -> TextStampStyle:
    font = GlyphAccumulatorFactory(STAMP_FONT, font_size=9)
    return TextStampStyle(
        stamp_text="%(company)s\n署名者：%(signer)s\n%(signed_at)s（%(role)s）",
        text_box_style=TextBoxStyle(font=font, font_size=9, leading=12),
        border_width=1,
        background=None,
    )


# ---------------------------------------------------------------------- B-LTA


def seal_lta(pdf: bytes, validation_context: ValidationContext, timestamper: TimeStamper) -> bytes:
    """Add a DSS with the validation data of every signature, then a document timestamp (PAdES B-LTA)."""
    return asyncio.run(_seal_lta(pdf, validation_context, timestamper))


async def _seal_lta(pdf: bytes, validation_context: ValidationContext, timestamper: TimeStamper) -> bytes:
    reader = _reader(pdf)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    for embedded in reader.embedded_regular_signatures:
        paths = await collect_validation_info(embedded, validation_context)
        DocumentSecurityStore.supply_dss_in_writer(
            writer,
            embedded.pkcs7_content.hex().encode("ascii"),
            paths=paths,
            validation_context=validation_context,
        )
    out = await signers.PdfTimeStamper(timestamper).async_timestamp_pdf(
        writer,
        MD_ALGORITHM,
        validation_context=validation_context,
    )
    return out.getvalue()


__all__ = [
    "DSSContentSettings",
    "InvalidPdf",
    "PdfInfo",
    "SigDSSPlacementPreference",
    "StampText",
    "field_name",
    "inspect_upload",
    "page_count",
    "prepare_signature_fields",
    "seal_lta",
    "sign_as_party",
    "signature_boxes",
]
