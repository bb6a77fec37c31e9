"""The contract document the portal writes for a company that has no PDF of its own (工事請負契約書).

Pure: plain data in, PDF bytes out (reportlab, IPAex Mincho embedded as a subset). The layout lists
the items of 建設業法第19条1項 from the case's structured fields, the parties in signing order, and
leaves the bottom of the last page free for the signature fields that `signing.prepare_signature_fields`
adds there. Dates are written in the Japanese era (令和), as on a paper contract.
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

# Escapes text for reportlab's paragraph markup; no XML is parsed.
from xml.sax.saxutils import escape  # nosec B406

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from portal.services import signing

FONT_PATH = "/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf"
FONT_NAME = "IPAexMincho"

# The items of 建設業法第19条1項 beyond 工事内容, 請負代金の額, 工期 and 支払方法 (which have their own
# fields): key → label. A case marks each as covered by its documents (e.g. the attached 約款).
ARTICLE19_ITEMS: dict[str, str] = {
    "no_work_days": "工事を施工しない日又は時間帯",
    "advance_payment": "前払金・出来形部分に対する支払の時期及び方法",
    "design_change": "設計変更等による工期・請負代金の変更と損害の負担",
    "force_majeure": "天災その他不可抗力による工期の変更と損害の負担",
    "price_fluctuation": "価格等の変動に基づく請負代金の額又は工事内容の変更",
    "third_party_damage": "第三者が損害を受けた場合の賠償金の負担",
    "materials": "注文者が提供する資材・貸与する機械の内容及び方法",
    "inspection_delivery": "完成を確認する検査の時期及び方法並びに引渡しの時期",
    "payment_after_completion": "工事完成後における請負代金の支払の時期及び方法",
    "nonconformity": "契約不適合責任とその履行のための保証保険契約等の措置",
    "delay_penalty": "履行の遅滞その他債務不履行の場合の遅延利息・違約金その他の損害金",
    "dispute_resolution": "契約に関する紛争の解決方法",
}

_ERAS = (  # (first day, name)
    (date(2019, 5, 1), "令和"),
    (date(1989, 1, 8), "平成"),
)


def wareki(day: date) -> str:
    """A date in the Japanese era: wareki(date(2026, 11, 25)) == "令和8年11月25日"; year 1 is 元年."""
    for start, era in _ERAS:
        if day >= start:
            year = day.year - start.year + 1
            year_text = "元" if year == 1 else str(year)
            return f"{era}{year_text}年{day.month}月{day.day}日"
    raise ValueError(f"{day.isoformat()} is before the eras this portal writes")


def yen(amount: int) -> str:
    return f"¥{amount:,}"


@dataclass(frozen=True)
class PartyLine:
    name: str
    address: str = ""
    representative: str = ""  # "代表取締役 山田 太郎"


@dataclass(frozen=True)
class ContractContent:
    """What the generated contract says; built from a case by `services.cases`."""

    case_number: str
    title: str
    construction_name: str
    construction_site: str
    period_start: date
    period_end: date
    amount_excl_tax: int
    tax_amount: int
    amount_incl_tax: int
    payment_terms: str
    notes: str
    parties: Sequence[PartyLine]
    created_on: date
    checklist: dict[str, bool] = field(default_factory=dict)


def _register_font() -> None:
    if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT_NAME, FONT_PATH))


def signature_area_height(party_count: int) -> float:
    """Height (pt) at the bottom of the last page that the signature boxes take, plus a gap above them."""
    return signing.signature_area_height(party_count) + 36


def render(content: ContractContent) -> bytes:
    """The 工事請負契約書 as PDF bytes (deterministic for the same content)."""
    if len(content.parties) < 2:
        raise ValueError("a contract needs at least two parties")
    _register_font()
    styles = _styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=56,
        rightMargin=56,
        topMargin=56,
        bottomMargin=max(56, signature_area_height(len(content.parties))),
        title=content.title or "工事請負契約書",
        author="Ukeoi",
        subject=f"案件番号 {content.case_number}",
        invariant=1,
        initialFontName=FONT_NAME,
    )
    story: list = [
        Paragraph("工事請負契約書", styles["title"]),
        Paragraph(f"案件番号 {escape(content.case_number)}", styles["right"]),
        Spacer(1, 8),
        Paragraph(
            "下記の当事者は、下記の工事について、この契約書及び添付書類の定めるところにより"
            "請負契約を締結する。",
            styles["body"],
        ),
        Spacer(1, 8),
        _items_table(content, styles),
        Spacer(1, 10),
        Paragraph("建設業法第19条第1項に掲げる事項のうち添付書類に定めるもの", styles["heading"]),
        _checklist_table(content, styles),
        Spacer(1, 10),
        Paragraph("電子契約について", styles["heading"]),
        Paragraph(
            "この契約は、各当事者の同意を得て電磁的方法により締結し、各当事者の電子署名をもって"
            "記名押印に代える。各当事者の電子署名にはタイムスタンプを付し、全当事者の署名後に"
            "長期検証用の情報を付加する。契約締結日は、最後の当事者が電子署名を行った日とする。"
            "各当事者は、本書の電磁的記録を保存し、いつでも表示し、印刷することができる。",
            styles["body"],
        ),
        Spacer(1, 10),
        Paragraph(f"作成日　{wareki(content.created_on)}", styles["body"]),
        Spacer(1, 6),
        Paragraph("当事者（署名順）", styles["heading"]),
        _parties_table(content, styles),
        Spacer(1, 6),
        Paragraph("各当事者の電子署名は、最終頁下部の署名欄に表示する。", styles["body"]),
    ]
    doc.build(story)
    return buffer.getvalue()


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=FONT_NAME, fontSize=10, leading=15, wordWrap="CJK")
    return {
        "body": base,
        "cell": ParagraphStyle("cell", parent=base, fontSize=9.5, leading=13.5),
        "label": ParagraphStyle("label", parent=base, fontSize=9.5, leading=13.5),
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=26, alignment=TA_CENTER, spaceAfter=6),
        "heading": ParagraphStyle("heading", parent=base, fontSize=10.5, leading=16, spaceBefore=2, spaceAfter=4),
        "right": ParagraphStyle("right", parent=base, fontSize=9, alignment=2),
    }


def _para(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _grid(rows: list[list], widths: list[float]) -> Table:
    table = Table(rows, colWidths=widths)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (0, -1), colors.Color(0.94, 0.94, 0.94)),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return table


def _items_table(content: ContractContent, styles: dict[str, ParagraphStyle]) -> Table:
    cell, label = styles["cell"], styles["label"]
    amount = (
        f"{yen(content.amount_incl_tax)}（税込）\n"
        f"うち工事価格 {yen(content.amount_excl_tax)}　取引に係る消費税及び地方消費税の額 {yen(content.tax_amount)}"
    )
    rows = [
        ["1. 工事名", content.construction_name],
        ["2. 工事場所", content.construction_site],
        ["3. 工期", f"着手　{wareki(content.period_start)}\n完成　{wareki(content.period_end)}"],
        ["4. 請負代金の額", amount],
        ["5. 支払方法及び時期", content.payment_terms],
        ["6. 件名", content.title],
        ["7. その他", content.notes or "なし"],
    ]
    return _grid([[_para(a, label), _para(b, cell)] for a, b in rows], [120, 363])


def _checklist_table(content: ContractContent, styles: dict[str, ParagraphStyle]) -> Table:
    rows = []
    for key, text in ARTICLE19_ITEMS.items():
        covered = bool(content.checklist.get(key))
        rows.append([_para("■ 定めあり" if covered else "□ 定めなし", styles["label"]), _para(text, styles["cell"])])
    return _grid(rows, [80, 403])


def _parties_table(content: ContractContent, styles: dict[str, ParagraphStyle]) -> Table:
    rows = []
    for position, party in enumerate(content.parties, start=1):
        lines = [party.name]
        if party.address:
            lines.append(party.address)
        if party.representative:
            lines.append(party.representative)
        rows.append([_para(f"当事者{position}", styles["label"]), _para("\n".join(lines), styles["cell"])])
    return _grid(rows, [80, 403])
