"""PAdES signing of contract PDFs with pyHanko (R-CASE-3). Pure PDFs in, PDFs out; no Flask, no DB.

Signing and sealing take bytes and return bytes, or (the `…_into` forms the jobs use) read an open file
and write another, so a 300-page contract is never held in memory whole.

The life of a contract PDF:

1. `inspect_upload` accepts an upload (or raises `InvalidPdf` with a Japanese message).
2. `prepare_signature_fields` adds one empty, visible signature field per party ("Party1".."PartyN") on
   the last page. The fields must exist before the first signature: pyHanko judges a field added after
   a certification signature as ModificationLevel.OTHER, while filling a pre-created field stays
   FORM_FILLING.
3. `sign_as_party` once per party in order: party 1 certifies (DocMDP: form filling and signatures
   only), the others approve; each is PAdES B-T (signature timestamp) in its own incremental update.
4. `seal_lta` after the last party: one revision with a DSS (certificates, CRLs and OCSP responses of
   every signature and its timestamp, issued after the last of them) and a document timestamp, then a DSS
   update with the document timestamp's own validation data (VRI) → PAdES B-LTA.

Signing refuses to produce output without a timestamp: a `TimestampUnavailable` from the timestamper
propagates unchanged.
"""
from __future__ import annotations

import asyncio
import functools
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Protocol

from asn1crypto import x509 as asn1_x509
from fontTools import subset, ttLib
from fontTools.ttLib.scaleUpem import scale_upem
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.general import (
    MultivaluedAttributeError,
    NonexistentAttributeError,
    extract_certificate_info,
    find_unique_cms_attribute,
)
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore, collect_validation_info
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext

from portal.clock import to_jst
from portal.services.errors import ValidationFailed

STAMP_FONT = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"
MD_ALGORITHM = "sha256"
FIELD_PREFIX = "Party"
SIGN_REASON = "契約内容に合意し署名します"

# Signature boxes on the last page: up to 3 per row, rows stacked upwards from just above the
# usual footer/page-number zone. They may cover body text on a page filled to the bottom.
BOX_COLUMNS = 3
BOX_HEIGHT = 48
BOX_GAP = 8
BOX_MARGIN = 28  # left and right
BOX_BOTTOM = 56
STAMP_FONT_SIZE = 9


class InvalidPdf(ValidationFailed):
    """A file that cannot be a contract PDF; the Japanese `message` is shown to the user."""

    @property
    def message_ja(self) -> str:
        return self.message


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


# Limits on an upload's structure: far above any real contract (a 300-page, 10 MB scan has about 900
# objects and a page tree 1 level deep), far below what makes reading, signing or verifying fall over.
MAX_PAGES = 5_000
MAX_OBJECTS = 500_000
MAX_PAGE_TREE_DEPTH = 32
# What reading a hostile file can raise. RecursionError: pyHanko's parser recurses once per nested
# array or dictionary, so 100,000 `[` exhaust the stack; the stack unwinds cleanly and the file is
# refused (no real PDF nests more than a few dozen levels).
PARSE_ERRORS = (PdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError)
_BROKEN = "PDFファイルが壊れているため読み込めません。"


def inspect_upload(pdf: bytes, max_bytes: int) -> PdfInfo:
    """Check that `pdf` is a PDF we can sign: parseable, unencrypted, unsigned, 1+ pages, not too large, and
    of a sane structure (every object readable, the page tree a tree whose /Count is true; `check_structure`)."""
    if len(pdf) > max_bytes:
        raise InvalidPdf(f"ファイルが大きすぎます（上限 {_size_label(max_bytes)}）。")
    if not pdf.lstrip()[:5].startswith(b"%PDF-"):
        raise InvalidPdf("PDFファイルではありません。")
    try:
        reader = _reader(pdf)
        if reader.encrypted:
            raise InvalidPdf("パスワードで保護されたPDFは登録できません。保護を解除してから登録してください。")
        count = check_structure(reader)
        signed = bool(reader.embedded_signatures)
    except InvalidPdf:
        raise
    except RecursionError as exc:
        raise InvalidPdf("PDFファイルの構造が深すぎるため読み込めません。") from exc
    except PARSE_ERRORS as exc:
        raise InvalidPdf(_BROKEN) from exc
    if count < 1:
        raise InvalidPdf("ページのないPDFは登録できません。")
    if signed:
        raise InvalidPdf("電子署名済みのPDFは登録できません。署名前のPDFを登録してください。")
    return PdfInfo(page_count=count)


def check_structure(reader: PdfFileReader) -> int:
    """Read every object of the file once (at most MAX_OBJECTS) and count the pages by walking the page tree.

    Returns the page count. Raises InvalidPdf for too many objects or pages, a page tree that loops, shares
    a node or nests too deep, or a /Count that differs from the pages found: signing trusts /Count, so a
    lie there would only fail later, at sending.
    """
    refs = set()
    for revision in range(reader.xrefs.total_revisions):
        refs |= reader.xrefs.explicit_refs_in_revision(revision)
        if len(refs) > MAX_OBJECTS:
            raise InvalidPdf(f"PDFファイルのオブジェクト数が多すぎます（上限 {MAX_OBJECTS:,}）。")
    for ref in refs:
        ref.get_object()  # a parse error or absurd nesting surfaces here, not halfway through signing
    pages = _walk_page_tree(reader.root.raw_get("/Pages"))
    declared = reader.root["/Pages"].get("/Count")
    if not isinstance(declared, int) or declared != pages:
        raise InvalidPdf("PDFファイルのページ数の情報（/Count）が実際のページ数と一致しないため登録できません。")
    return pages


def _walk_page_tree(root: generic.PdfObject) -> int:
    """Pages under `root`, found by walking /Kids with a visited set (iteratively: depth is bounded here)."""
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[generic.PdfObject, int]] = [(root, 0)]
    pages = 0
    while stack:
        ref, depth = stack.pop()
        if not isinstance(ref, generic.IndirectObject):
            raise InvalidPdf(_BROKEN)  # page tree nodes are indirect objects (ISO 32000 7.7.3)
        key = (ref.idnum, ref.generation)
        if key in seen:
            raise InvalidPdf("PDFファイルのページ構造が循環しているため登録できません。")
        seen.add(key)
        node = ref.get_object()
        if not isinstance(node, generic.DictionaryObject):
            raise InvalidPdf(_BROKEN)
        kind = node.get("/Type")
        if kind == "/Page":
            pages += 1
            if pages > MAX_PAGES:
                raise InvalidPdf(f"ページ数が多すぎます（上限 {MAX_PAGES:,}ページ）。")
        elif kind == "/Pages" and depth < MAX_PAGE_TREE_DEPTH:
            kids = node.get("/Kids")
            if not isinstance(kids, generic.ArrayObject):
                raise InvalidPdf(_BROKEN)
            stack.extend((kid, depth + 1) for kid in kids.iterate())
        elif kind == "/Pages":
            raise InvalidPdf("PDFファイルのページ構造が深すぎるため登録できません。")
        else:
            raise InvalidPdf(_BROKEN)
    return pages


def _size_label(size: int) -> str:
    return f"{size // (1024 * 1024)}MB" if size >= 1024 * 1024 else f"{size // 1024}KB"


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
        bottom = lly + BOX_BOTTOM + (rows - 1 - row) * (BOX_HEIGHT + BOX_GAP)
        boxes.append((round(left), round(bottom), round(left + width), round(bottom + BOX_HEIGHT)))
    return boxes


def signature_area_height(party_count: int) -> int:
    """How far up from the bottom of the last page the signature boxes reach, for generated contract PDFs."""
    rows = math.ceil(max(party_count, 1) / BOX_COLUMNS)
    return BOX_BOTTOM + rows * (BOX_HEIGHT + BOX_GAP) - BOX_GAP


def _page_box(writer: IncrementalPdfFileWriter, page_index: int) -> tuple[float, float, float, float]:
    page = writer.find_page_for_modification(page_index)[0].get_object()
    box = _inherited(page, "/CropBox") or _inherited(page, "/MediaBox")
    if box is None or len(box) != 4:
        raise InvalidPdf("PDFのページサイズを読み取れません。")
    llx, lly, urx, ury = (float(value) for value in box)
    return min(llx, urx), min(lly, ury), max(llx, urx), max(lly, ury)


def _inherited(node: generic.DictionaryObject, key: str) -> generic.ArrayObject | None:
    """A page attribute, looked up through the page tree as PDF inheritance works."""
    while key not in node:
        if "/Parent" not in node:
            return None
        node = node["/Parent"]
    value = node[key]
    return value if isinstance(value, generic.ArrayObject) else None


# ---------------------------------------------------------------------- signing


def sign_as_party(
    pdf: bytes,
    position: int,
    total: int,
    signer: signers.Signer,
    timestamper: TimeStamper,
    stamp: StampText,
) -> bytes:
    """`sign_into` from bytes to bytes."""
    out = io.BytesIO()
    sign_into(io.BytesIO(pdf), out, position, total, signer, timestamper, stamp)
    return out.getvalue()


def sign_into(
    source: BinaryIO,
    output: BinaryIO,
    position: int,
    total: int,
    signer: signers.Signer,
    timestamper: TimeStamper,
    stamp: StampText,
) -> None:
    """Sign field Party{position} of `source` as an incremental update, PAdES B-T with a visible Japanese
    stamp, written to `output` (readable and seekable: pyHanko hashes it and fills in the signature).

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
    text = stamp_text(stamp)
    pdf_signer = signers.PdfSigner(meta, signer=signer, timestamper=timestamper, stamp_style=_stamp_style(text))
    pdf_signer.sign_pdf(IncrementalPdfFileWriter(source), existing_fields_only=True, output=output)


def stamp_text(stamp: StampText) -> str:
    """The three lines of the visible signature."""
    signed_at = to_jst(stamp.signed_at).strftime("%Y年%m月%d日 %H:%M")
    return f"{stamp.company}\n署名者：{stamp.signer_name}\n{signed_at}（日本時間）"


def _stamp_style(text: str) -> TextStampStyle:
    font = _StampFont(STAMP_FONT, font_size=STAMP_FONT_SIZE, text=text)
    return TextStampStyle(
        stamp_text=text.replace("%", "%%"),  # pyHanko %-formats the template
        text_box_style=TextBoxStyle(font=font, font_size=STAMP_FONT_SIZE, leading=STAMP_FONT_SIZE + 3),
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins.uniform(5),
            inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT,
        ),
        border_width=1,
    )


@dataclass(frozen=True)
class _StampFont(GlyphAccumulatorFactory):
    """The stamp font: IPAex Gothic cut down to the stamp's characters and rescaled to 1000 units/em.

    pyHanko's glyph accumulator writes glyph widths in font units while PDF expects 1/1000 em, so a
    2048-unit TrueType font such as IPAex renders with double spacing. Subsetting first keeps the
    rescaling cheap (~0.2 s), and working from memory avoids pyHanko's unclosed font file handle.
    """

    text: str = ""

    def create_font_engine(self, writer: BasePdfFileWriter, obj_stream=None) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        return GlyphAccumulator(
            writer=writer,
            font_handle=io.BytesIO(_font_for(self.font_file, self.text)),
            font_size=self.font_size,
            obj_stream=obj_stream,
        )


@functools.lru_cache(maxsize=64)
def _font_for(path: str, text: str) -> bytes:
    font = ttLib.TTFont(io.BytesIO(_font_bytes(path)))
    options = subset.Options()
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    scale_upem(font, 1000)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


@functools.cache
def _font_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


# ---------------------------------------------------------------------- B-LTA


@dataclass(frozen=True)
class RevocationData:
    """CRLs and OCSP responses (DER) to embed, issued after every signature and timestamp they cover."""

    crls: list[bytes] = field(default_factory=list)
    ocsps: list[bytes] = field(default_factory=list)


class RevocationSource(Protocol):
    """Issues fresh revocation data for `certs`, dated after `after` (the newest signing or timestamp time)."""

    def __call__(self, certs: Sequence[asn1_x509.Certificate], after: datetime | None) -> RevocationData: ...


class ValidationContextFactory(Protocol):
    """Makes a validation context judging at `moment` (None: now) with the given revocation data (None: the
    factory's own), e.g. `PortalPKI.validation_context`."""

    def __call__(
        self, crls: Sequence[bytes] | None = None, *, ocsps: Sequence[bytes] = (), moment: datetime | None = None
    ) -> ValidationContext: ...


def seal_lta(
    pdf: bytes,
    validation_context_at: ValidationContextFactory | ValidationContext,
    timestamper: TimeStamper,
    revocation: RevocationSource | None = None,
) -> bytes:
    """`seal_lta_into` from bytes to bytes."""
    out = io.BytesIO()
    seal_lta_into(io.BytesIO(pdf), out, validation_context_at, timestamper, revocation)
    return out.getvalue()


def seal_lta_into(
    source: BinaryIO,
    output: BinaryIO,
    validation_context_at: ValidationContextFactory | ValidationContext,
    timestamper: TimeStamper,
    revocation: RevocationSource | None = None,
) -> None:
    """Add a DSS with the validation data of every signature, then a document timestamp (PAdES B-LTA);
    the result goes to `output` (readable and seekable).

    Pass a factory such as `pki.validation_context`: each party's certificate is then validated at the
    time of its signature timestamp, so a certificate revoked or reissued after that party signed does not
    block the seal. With `revocation`, the data it issues for every signer and TSA certificate of the file
    (after the newest signing time: `PortalPKI.fresh_revocation_data`) is what the contexts use and what
    the DSS gets; without it, the factory's own. A single ValidationContext validates everything now instead.
    A certificate revoked before its signature raises (pyhanko_certvalidator's RevokedError). Running it
    again on a sealed file renews the archive chain and adds fresh revocation data.
    """
    if isinstance(validation_context_at, ValidationContext):
        fixed = validation_context_at
        asyncio.run(_seal_lta(source, output, lambda *_a, **_k: fixed, timestamper, None))
    else:
        asyncio.run(_seal_lta(source, output, validation_context_at, timestamper, revocation))


async def _seal_lta(
    source: BinaryIO,
    output: BinaryIO,
    factory: ValidationContextFactory,
    timestamper: TimeStamper,
    revocation: RevocationSource | None,
) -> None:
    writer = IncrementalPdfFileWriter(source)
    embedded_sigs = writer.prev.embedded_signatures  # party signatures and earlier document timestamps
    data = revocation(*_signers_and_latest_time(embedded_sigs)) if revocation else None

    def validation_context_at(moment: datetime | None) -> ValidationContext:
        if data is None:
            return factory(moment=moment)
        return factory(data.crls, ocsps=data.ocsps, moment=moment)

    contexts: list[ValidationContext] = []
    try:
        for embedded in embedded_sigs:
            is_party = embedded.sig_object_type == "/Sig"
            vc = validation_context_at(moment=signature_timestamp_time(embedded) if is_party else None)
            contexts.append(vc)
            paths = await collect_validation_info(embedded, vc)
            DocumentSecurityStore.supply_dss_in_writer(
                writer, embedded.pkcs7_content.hex().encode("ascii"), paths=paths, validation_context=vc
            )
        now_context = validation_context_at(moment=None)
        contexts.append(now_context)
        await signers.PdfTimeStamper(timestamper).async_timestamp_pdf(
            writer, MD_ALGORITHM, validation_context=now_context, output=output
        )
    finally:
        for vc in {id(vc): vc for vc in contexts}.values():
            await vc.aclose()


def _signers_and_latest_time(
    embedded_sigs: Sequence[EmbeddedPdfSignature],
) -> tuple[list[asn1_x509.Certificate], datetime | None]:
    """Every signer certificate of the file (parties, signature timestamps, document timestamps) and the
    newest time any of them vouches for."""
    certs: dict[bytes, asn1_x509.Certificate] = {}
    times: list[datetime] = []
    for embedded in embedded_sigs:
        for signed_data in [embedded.signed_data, *extract_tst_data_iter(embedded.signer_info, signed=False)]:
            signer = extract_certificate_info(signed_data).signer_cert
            certs.setdefault(signer.dump(), signer)
            if signed_data["encap_content_info"]["content_type"].native == "tst_info":
                times.append(signed_data["encap_content_info"]["content"].parsed["gen_time"].native)
    return list(certs.values()), max(times, default=None)


def signature_timestamp_time(sig: EmbeddedPdfSignature) -> datetime | None:
    """The time in a signature's timestamp token (B-T), or None without one. Not validated here."""
    try:
        token = find_unique_cms_attribute(sig.signer_info["unsigned_attrs"], "signature_time_stamp_token")
        return token["content"]["encap_content_info"]["content"].parsed["gen_time"].native
    except (NonexistentAttributeError, MultivaluedAttributeError, ValueError, KeyError, TypeError, AttributeError):
        return None


__all__ = [
    "InvalidPdf",
    "PdfInfo",
    "RevocationData",
    "RevocationSource",
    "StampText",
    "field_name",
    "inspect_upload",
    "page_count",
    "prepare_signature_fields",
    "seal_lta",
    "sign_as_party",
    "ValidationContextFactory",
    "signature_area_height",
    "signature_boxes",
    "signature_timestamp_time",
    "stamp_text",
]
