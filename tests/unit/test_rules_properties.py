"""Properties of the rules that must hold for every date and amount (Hypothesis), and the purity
of portal/rules itself (standard library only, no clock, no float near money)."""

from __future__ import annotations

import ast
import contextlib
import doctest
import importlib
import re
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from portal.rules import billing, retention, terms
from portal.rules.billing import (
    delinquent_since,
    discontinuation_refund,
    late_interest,
    liability_cap,
    with_tax,
)
from portal.rules.dates import anniversary, days_in_month, month_end
from portal.rules.retention import (
    completed_case_delete_on,
    incomplete_case_delete_on,
    post_termination_delete_on,
    retention_warning_dates,
)
from portal.rules.terms import cancellation_end_date, next_term_start, renewal_opt_out_deadline, term_end
from portal.rules.validators import corporate_number, corporate_number_check_digit

RULES_DIR = Path(__file__).resolve().parents[2] / "portal" / "rules"
RULE_MODULES = sorted(p.stem for p in RULES_DIR.glob("*.py"))

dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2980, 12, 31))
yen = st.integers(min_value=0, max_value=10**12)
ONE_DAY = timedelta(days=1)


# --- anniversary ---------------------------------------------------------------------------


@given(dates, st.integers(0, 20), st.integers(0, 36))
def test_anniversary_is_same_day_or_month_end(day, years, months):
    """Is the anniversary the same day N months on, or that month's last day when the day is missing?"""
    result = anniversary(day, years=years, months=months)
    total = (result.year - day.year) * 12 + result.month - day.month
    assert total == years * 12 + months
    assert result.day == min(day.day, days_in_month(result.year, result.month))


# --- R-TERM-1 ------------------------------------------------------------------------------


@given(dates)
def test_r_term_1_next_term_starts_the_day_after_and_on_the_same_day_a_year_later(start):
    """Is term_end + 1 the next start, and is that the same month/day a year later unless 29 Feb?"""
    renewal = next_term_start(start)
    assert term_end(start) + ONE_DAY == renewal
    if (start.month, start.day) == (2, 29) and days_in_month(start.year + 1, 2) == 28:
        assert renewal == date(start.year + 1, 3, 1)
    else:
        assert renewal == start.replace(year=start.year + 1)


@given(dates)
def test_r_term_1_a_term_lasts_a_year(start):
    """Does every term last 365 or 366 days, counting its first day?"""
    assert (term_end(start) - start).days + 1 in (365, 366)


@given(dates)
def test_r_term_1_opt_out_deadline_is_thirty_days_before_the_end(start):
    """Is the opt-out deadline always exactly 30 days before the term's last day, within the term?"""
    deadline = renewal_opt_out_deadline(start)
    assert term_end(start) - deadline == timedelta(days=30)
    assert start < deadline


@given(dates, st.one_of(st.none(), st.integers(0, 400)))
def test_r_term_2_cancellation_ends_on_a_month_end_never_before_arrival_plus_seven(arrived, offset):
    """Does a cancellation always end on a month's last day, never before arrival + 7 days?"""
    wished = None if offset is None else arrived + timedelta(days=offset)
    ends = cancellation_end_date(arrived, wished)
    assert ends == month_end(ends)
    assert ends >= arrived + timedelta(days=7)
    if offset is not None and offset >= 30:
        assert (ends.year, ends.month) == (wished.year, wished.month)
    else:
        deemed = arrived + timedelta(days=7)
        assert (ends.year, ends.month) == (deemed.year, deemed.month)


@given(dates, st.integers(0, 400), st.integers(0, 400))
def test_r_term_2_a_later_wish_never_ends_earlier(arrived, a, b):
    """Does wishing a later date never make the contract end earlier?"""
    early, late = sorted((a, b))
    assert cancellation_end_date(arrived, arrived + timedelta(days=early)) <= cancellation_end_date(
        arrived, arrived + timedelta(days=late)
    )


# --- R-RET ---------------------------------------------------------------------------------


@given(dates)
def test_r_ret_1_2_3_deletion_is_exactly_one_day_after_the_anniversary(event):
    """Is every deletion date exactly the day after the relevant anniversary (初日不算入)?"""
    assert completed_case_delete_on(event) - ONE_DAY == anniversary(event, years=10)
    assert incomplete_case_delete_on(event) - ONE_DAY == anniversary(event, years=1)
    assert post_termination_delete_on(event) - ONE_DAY == anniversary(event, months=3)


@given(dates, st.integers(0, 8000))
def test_r_ret_1_continued_storage_never_shortens_retention(completed, extra):
    """Does buying continued storage only ever move deletion later, and past the bought period?"""
    extended_until = completed + timedelta(days=extra)
    delete_on = completed_case_delete_on(completed, extended_until)
    assert delete_on >= completed_case_delete_on(completed)
    assert delete_on > extended_until


@given(dates)
def test_r_ret_4_warnings_come_before_deletion_in_order(completed):
    """Are the two warnings 90 and 30 days ahead, in order, and after the case was completed?"""
    delete_on = completed_case_delete_on(completed)
    first, second = retention_warning_dates(delete_on)
    assert completed < first < second < delete_on
    assert (delete_on - first, delete_on - second) == (timedelta(days=90), timedelta(days=30))


# --- R-BILL --------------------------------------------------------------------------------


@given(yen, yen)
def test_r_bill_1_with_tax_is_monotonic_and_adds_a_tenth(a, b):
    """Is with_tax monotonic, never less than the amount, and adding exactly floor(10 %)?"""
    low, high = sorted((a, b))
    assert with_tax(low) <= with_tax(high)
    assert with_tax(a) - a == a // 10


@given(yen, dates, dates)
def test_r_bill_2_interest_is_zero_iff_on_time_or_too_small(fee, due, paid):
    """Is interest 0 exactly when paid on/before the due date or when fee × 8.25 % × days is under 1 yen?"""
    days = (paid - due).days
    interest = late_interest(fee, due, paid)
    assert interest >= 0
    assert (interest == 0) == (days <= 0 or fee * 825 * days < 10_000 * 365)


@given(yen, dates, st.integers(1, 3000), st.integers(1, 3000))
def test_r_bill_2_interest_grows_with_lateness(fee, due, a, b):
    """Does paying later never cost less interest?"""
    early, late = sorted((a, b))
    assume(due + timedelta(days=late) <= date(2999, 12, 31))
    assert late_interest(fee, due, due + timedelta(days=early)) <= late_interest(fee, due, due + timedelta(days=late))


@given(dates)
def test_r_adm_1_delinquency_is_after_six_months(due):
    """Is the delinquency day the day after the six-month anniversary of the due date?"""
    assert delinquent_since(due) - ONE_DAY == anniversary(due, months=6)


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2900, 12, 1)).map(lambda d: d.replace(day=1)),
    st.integers(6, 60),
    st.integers(0, 30),
    st.integers(0, 10**9),
)
def test_r_bill_3_a_steady_monthly_fee_caps_at_that_fee(start, months_later, day_offset, fee):
    """With the same fee every month since the start, is the cap of an old contract that monthly fee?"""
    claim = anniversary(start, months=months_later) + timedelta(days=day_offset)
    fees = [(anniversary(start, months=m), fee) for m in range(months_later + 2)]
    assert liability_cap(fees, start, claim) == fee


@given(
    st.lists(st.tuples(dates, st.integers(0, 10**9)), max_size=30),
    dates,
    st.integers(0, 2000),
)
def test_r_bill_3_cap_is_bounded_by_the_fees(fees, start, age):
    """Is the cap never negative and never more than 30 × everything ever charged?"""
    claim = start + timedelta(days=age)
    assume(claim <= date(2999, 12, 31))
    cap = liability_cap(fees, start, claim)
    assert 0 <= cap <= 30 * sum(amount for _, amount in fees)


@given(yen, dates, st.integers(0, 800), st.integers(-900, 900), st.integers(0, 900))
def test_r_bill_4_refund_never_exceeds_prepaid_and_shrinks_with_use(prepaid, start, length, offset, more):
    """Is the refund between 0 and the prepaid fee, and smaller the longer the service ran?"""
    end = start + timedelta(days=length)
    last_day = start + timedelta(days=offset)
    assume(date(2000, 1, 1) <= last_day and end <= date(2999, 12, 31))
    assume(last_day + timedelta(days=more) <= date(2999, 12, 31))
    refund = discontinuation_refund(prepaid, start, end, last_day)
    assert 0 <= refund <= prepaid
    assert discontinuation_refund(prepaid, start, end, last_day + timedelta(days=more)) <= refund


# --- validators ----------------------------------------------------------------------------


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_r_app_1_every_base_number_has_exactly_one_valid_check_digit(base):
    """For any 12-digit base, is exactly one leading digit accepted by corporate_number?"""
    accepted = []
    for check in "0123456789":
        with contextlib.suppress(ValueError):
            accepted.append(corporate_number(check + base))
    assert accepted == [str(corporate_number_check_digit(base)) + base]


# --- purity of portal/rules ---------------------------------------------------------------


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((0, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or ""))
    return found


@pytest.mark.parametrize("module", RULE_MODULES)
def test_rules_import_only_the_standard_library(module):
    """Does this rules module import only the standard library (email_validator allowed), its siblings,
    and nothing from Flask, SQLAlchemy or another portal package?"""
    allowed_third_party = {"email_validator"}
    for level, name in _imports(RULES_DIR / f"{module}.py"):
        if level:
            # relative imports stay inside portal.rules
            assert level == 1, f"{module}: relative import leaves portal/rules ({'.' * level}{name})"
            assert (RULES_DIR / f"{name.split('.')[0]}.py").exists(), f"{module}: .{name} is not a rules module"
            continue
        top = name.split(".")[0]
        assert top in sys.stdlib_module_names or top in allowed_third_party, f"{module} imports {name}"


@pytest.mark.parametrize("module", RULE_MODULES)
def test_rules_never_read_the_clock(module):
    """Does no rules module ask for today or now (every "today" must be a parameter)?"""
    tree = ast.parse((RULES_DIR / f"{module}.py").read_text(encoding="utf-8"))
    clock = {"today", "now", "utcnow", "time", "monotonic", "localtime"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            assert node.attr not in clock, f"{module} reads the clock: .{node.attr} (line {node.lineno})"
    assert all(name.split(".")[0] != "time" for _, name in _imports(RULES_DIR / f"{module}.py"))


@pytest.mark.parametrize("module", ["billing", "terms", "retention", "dates"])
def test_rules_keep_float_away_from_money_and_dates(module):
    """Do the date and money rules use no float literal, no float() and no true division?"""
    tree = ast.parse((RULES_DIR / f"{module}.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        assert not (isinstance(node, ast.Constant) and isinstance(node.value, float)), f"{module}: float literal"
        assert not isinstance(node, ast.Div), f"{module}: true division (line {getattr(node, 'lineno', '?')})"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in {"float", "round"}, f"{module}: {node.func.id}() (line {node.lineno})"


def test_the_purity_checks_can_fail(tmp_path):
    """Would the import check notice a Flask import (so the tests above are not vacuous)?"""
    bad = tmp_path / "bad.py"
    bad.write_text("from flask import request\nimport portal.models\nfrom ..services import x\n")
    names = _imports(bad)
    assert (0, "flask") in names and (0, "portal.models") in names and (2, "services") in names
    assert "flask" not in sys.stdlib_module_names and "portal" not in sys.stdlib_module_names


@pytest.mark.parametrize("module", RULE_MODULES)
def test_rules_docstring_examples_are_true(module):
    """Does every example in the rules' docstrings give the value it shows?"""
    imported = importlib.import_module(f"portal.rules.{module}")
    result = doctest.testmod(imported, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


SPEC_RULES = {
    terms: ["term_end", "next_term_start", "renewal_opt_out_deadline", "cancellation_end_date"],
    retention: [
        "completed_case_delete_on",
        "incomplete_case_delete_on",
        "post_termination_delete_on",
        "retention_warning_dates",
    ],
    billing: ["with_tax", "late_interest", "delinquent_since", "liability_cap", "discontinuation_refund"],
}


@pytest.mark.parametrize(("module", "name"), [(m, n) for m, names in SPEC_RULES.items() for n in names])
def test_every_spec_rule_exists_cites_an_article_and_gives_an_example(module, name):
    """Does each function named in SPEC §7 exist under that name, cite 第N条 and show an example?"""
    doc = getattr(module, name).__doc__ or ""
    assert re.search(r"第\d+条", doc), f"{module.__name__}.{name} cites no article"
    assert ">>>" in doc, f"{module.__name__}.{name} has no example"
