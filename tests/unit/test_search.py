"""案件検索 (R-STORE-2) and tenancy (R-STORE-4): every filter, ranges, combinations, sorting and paging,
within the cases the company may see (電子帳簿保存法: 取引年月日, 取引金額, 取引先)."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from portal.extensions import db
from portal.services.search import CaseQuery, search
from tests import factories

SENT = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def firms(ctx):
    return {
        "kou": factories.company(name="甲建設株式会社"),
        "otsu": factories.company(name="乙工務店株式会社"),
        "hei": factories.company(name="丙設備株式会社"),
    }


def _case(parties, **overrides):
    overrides.setdefault("sent_at", SENT)
    return factories.case(parties, documents=0, **overrides)


@pytest.fixture
def book(firms):
    """A handful of 甲's cases with distinct numbers, names, amounts and dates; one case 甲 is not in."""
    kou, otsu, hei = firms["kou"], firms["otsu"], firms["hei"]
    made = {
        "school": _case([kou, otsu], number="2026-000001", title="小学校体育館改修", construction_name="体育館改修工事",
                        amount_excl_tax=5_000_000, tax_amount=500_000, amount_incl_tax=5_500_000, status="complete",
                        contract_date=date(2026, 4, 10), completed_on=date(2026, 4, 10)),
        "office": _case([otsu, kou], number="2026-000002", title="事務所ビル新築", construction_name="ビル新築工事",
                        amount_excl_tax=80_000_000, tax_amount=8_000_000, amount_incl_tax=88_000_000,
                        status="complete", contract_date=date(2026, 7, 1), completed_on=date(2026, 7, 2)),
        "bridge": _case([kou, otsu, hei], number="2026-000003", title="歩道橋補修 100%完了払",
                        construction_name="歩道橋補修工事", amount_excl_tax=2_000_000, tax_amount=200_000,
                        amount_incl_tax=2_200_000, status="waiting"),
        "draft": _case([kou, hei], number="2026-000004", title="倉庫解体", construction_name="解体工事",
                       status="draft", sent_at=None),
        "hidden": _case([otsu, hei], number="2026-000005", title="他社同士の工事", construction_name="他社工事"),
        "hei_draft": _case([hei, kou], number="2026-000006", title="丙の下書き", construction_name="未送信工事",
                           status="draft", sent_at=None),
    }
    db.session.commit()
    return made


def _numbers(company, **criteria) -> list[str]:
    return sorted(c.number for c in search(CaseQuery(**criteria), company.id).items)


def test_r_store_4_a_company_finds_only_cases_it_is_party_to(firms, book):
    """Does 甲 see its own cases (its drafts too) but neither others' cases nor a draft it has not been sent?"""
    assert _numbers(firms["kou"]) == ["2026-000001", "2026-000002", "2026-000003", "2026-000004"]
    assert "2026-000005" not in _numbers(firms["kou"], title="他社")
    assert _numbers(firms["hei"]) == ["2026-000003", "2026-000005", "2026-000006"]


def test_r_store_2_filters_by_number_title_and_construction_name(firms, book):
    """Do case number, title and construction name match parts of the value?"""
    kou = firms["kou"]
    assert _numbers(kou, number="000002") == ["2026-000002"]
    assert _numbers(kou, title="体育館") == ["2026-000001"]
    assert _numbers(kou, construction_name="補修") == ["2026-000003"]
    assert _numbers(kou, title="ｂｉｌｌ") == []  # NFKC, but no false hits


def test_r_store_2_counterparty_by_name_or_corporate_number(firms, book):
    """Does 取引先 match a counterparty's name or its 法人番号, and never the searching company itself?"""
    kou, hei = firms["kou"], firms["hei"]
    assert _numbers(kou, counterparty="丙設備") == ["2026-000003", "2026-000004"]
    assert _numbers(kou, counterparty=hei.corporate_number) == ["2026-000003", "2026-000004"]
    assert _numbers(kou, counterparty="甲建設") == []


def test_r_store_2_amount_range_is_inclusive(firms, book):
    """Does the 取引金額 range (税込) include both ends?"""
    kou = firms["kou"]
    assert _numbers(kou, amount_min=2_200_000, amount_max=5_500_000) == ["2026-000001", "2026-000003"]
    assert _numbers(kou, amount_min=5_500_001) == ["2026-000002"]


def test_r_store_2_contract_and_completion_date_ranges(firms, book):
    """Do the 取引年月日 (contract date) and completion date ranges filter inclusively?"""
    kou = firms["kou"]
    assert _numbers(kou, contract_from=date(2026, 4, 10), contract_to=date(2026, 6, 30)) == ["2026-000001"]
    assert _numbers(kou, completed_from=date(2026, 7, 2)) == ["2026-000002"]
    assert _numbers(kou, completed_to=date(2026, 7, 1)) == ["2026-000001"]


def test_r_store_2_status_and_combinations(firms, book):
    """Do status and the other filters combine (AND)?"""
    kou = firms["kou"]
    assert _numbers(kou, status="complete") == ["2026-000001", "2026-000002"]
    assert _numbers(kou, status="complete", counterparty="乙工務店", amount_max=10_000_000) == ["2026-000001"]
    assert _numbers(kou, status="nonsense") == _numbers(kou)


def test_r_store_2_like_wildcards_are_literal(firms, book):
    """Is a % typed in the search box a percent sign, not a wildcard?"""
    assert _numbers(firms["kou"], title="100%") == ["2026-000003"]
    assert _numbers(firms["kou"], title="%") == ["2026-000003"]


def test_r_store_2_sorted_and_paged(firms):
    """Are results sorted by the chosen column and split into pages with the right total?"""
    kou, otsu = firms["kou"], firms["otsu"]
    for n in range(25):
        _case([kou, otsu], number=f"2027-{n:06d}", amount_excl_tax=n * 1000, tax_amount=n * 100,
              amount_incl_tax=n * 1100)
    db.session.commit()
    first = search(CaseQuery(sort="amount", direction="asc", per_page=10), kou.id)
    assert (first.total, first.pages, first.has_next, first.has_prev) == (25, 3, True, False)
    assert [c.amount_incl_tax for c in first.items] == [n * 1100 for n in range(10)]
    last = search(CaseQuery(sort="amount", direction="desc", per_page=10, page=99), kou.id)
    assert last.page == 3 and [c.amount_incl_tax for c in last.items] == [n * 1100 for n in range(4, -1, -1)]


def test_r_store_4_staff_search_every_case_and_companies_must_name_theirs(firms, book):
    """Do staff see every case's metadata, while a company search without a company is a programming error?"""
    assert search(CaseQuery(), None, staff=True).total == 6
    with pytest.raises(ValueError):
        search(CaseQuery(), None)


def test_r_store_4_status_counts_cover_only_the_companys_cases(firms, book):
    """Do the home page's counters count only the cases the company may see, by status?"""
    from portal.services.cases import count_by_status

    assert count_by_status(firms["kou"].id) == {"complete": 2, "waiting": 1, "draft": 1}
    assert count_by_status(firms["hei"].id) == {"waiting": 1, "draft": 2}
