"""The generated 工事請負契約書 (R-CASE-1): a real PDF with the 19条1項 items, 令和 dates, the font embedded,
and the bottom of the last page left free for the signature fields."""
from __future__ import annotations

import re
import subprocess
from datetime import date

import pytest

from portal.services import contract_pdf, signing
from portal.services.contract_pdf import ContractContent, PartyLine, render, wareki


def _content(parties: int = 2, **overrides) -> ContractContent:
    fields = dict(
        case_number="2026-000042",
        title="〇〇ビル新築工事 請負契約",
        construction_name="〇〇ビル新築工事",
        construction_site="東京都千代田区千代田1-1",
        period_start=date(2026, 12, 1),
        period_end=date(2027, 3, 31),
        amount_excl_tax=10_000_000,
        tax_amount=1_000_000,
        amount_incl_tax=11_000_000,
        payment_terms="月末締め翌月末払い",
        notes="",
        parties=[PartyLine(f"テスト{n}建設株式会社", f"東京都港区{n}-1", "代表取締役 山田 太郎")
                 for n in range(1, parties + 1)],
        created_on=date(2026, 11, 25),
        checklist={"force_majeure": True},
    )
    fields.update(overrides)
    return ContractContent(**fields)


def _text(pdf: bytes, tmp_path, *args: str) -> str:
    path = tmp_path / "contract.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", *args, str(path), "-"], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 25), "令和8年11月25日"),
        (date(2019, 5, 1), "令和元年5月1日"),
        (date(2019, 4, 30), "平成31年4月30日"),
        (date(1989, 1, 8), "平成元年1月8日"),
    ],
)
def test_r_case_1_dates_are_written_in_the_japanese_era(day, expected):
    """Is a date written as on a paper contract (令和, with 元年 for the first year)?"""
    assert wareki(day) == expected


def test_r_case_1_dates_before_heisei_are_refused():
    """Is a date before the eras the portal writes refused rather than misprinted?"""
    with pytest.raises(ValueError):
        wareki(date(1989, 1, 7))


def test_r_case_1_generated_contract_states_the_article_19_items(tmp_path):
    """Does the generated PDF state the work, site, period (令和), amounts, payment, parties and the checklist?"""
    pdf = render(_content())
    assert signing.inspect_upload(pdf, 10 * 1024 * 1024).page_count >= 1
    text = re.sub(r"\s+", "", _text(pdf, tmp_path))
    expected_texts = (
        "工事請負契約書", "〇〇ビル新築工事", "東京都千代田区千代田1-1", "令和8年12月1日", "令和9年3月31日",
        "¥11,000,000", "¥10,000,000", "¥1,000,000", "月末締め翌月末払い", "テスト1建設株式会社",
        "テスト2建設株式会社", "作成日令和8年11月25日", "2026-000042",
    )
    for expected in expected_texts:
        assert expected in text, expected
    assert "■定めあり天災その他不可抗力" in text and "□定めなし契約に関する紛争の解決方法" in text


def test_r_case_1_generated_contract_embeds_its_japanese_font(tmp_path):
    """Is every font the text uses embedded, so any viewer shows the same contract?"""
    path = tmp_path / "contract.pdf"
    path.write_bytes(render(_content()))
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    rows = [line for line in fonts.splitlines()[2:] if "IPAexMincho" in line]
    assert rows and all(" yes " in row for row in rows)


@pytest.mark.parametrize("parties", [2, 3, 7])
def test_r_case_3_generated_contract_leaves_room_for_every_signature_box(tmp_path, parties):
    """Does no text on the last page reach into the area where the parties' signature boxes go?"""
    pdf = render(_content(parties=parties, notes="特記事項\n" * 20))
    html = _text(pdf, tmp_path, "-bbox")
    pages = re.findall(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', html, re.S)
    _width, height, words = pages[-1]
    lowest = max(float(m) for m in re.findall(r'yMax="([\d.]+)"', words))
    assert float(height) - lowest >= signing.signature_area_height(parties)
    prepared = signing.prepare_signature_fields(pdf, [f"P{n}" for n in range(parties)])
    assert signing.inspect_upload(prepared, 10 * 1024 * 1024).page_count == len(pages)


def test_r_case_1_a_contract_needs_two_parties():
    """Is a one-party contract refused?"""
    with pytest.raises(ValueError):
        render(_content(parties=1))


def test_r_case_1_generated_contract_is_deterministic():
    """Does the same content give the same bytes (so re-generating does not create a new original)?"""
    assert render(_content()) == render(_content())
    assert contract_pdf.render(_content(title="別件")) != render(_content())
