"""Deletion dates of cases and of an ended contractor's data (R-RET-1 第11条の2, R-RET-2 第11条の3,
R-RET-3 第28条, R-RET-4 warnings)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from portal.rules.dates import anniversary
from portal.rules.retention import (
    completed_case_delete_on,
    incomplete_case_delete_on,
    post_termination_delete_on,
    retention_warning_dates,
)


@pytest.mark.parametrize(
    ("completed", "delete_on"),
    [
        (date(2027, 4, 1), date(2037, 4, 2)),
        (date(2027, 12, 31), date(2038, 1, 1)),  # year end
        (date(2027, 1, 31), date(2037, 2, 1)),  # 31-day month
        (date(2028, 2, 29), date(2038, 3, 1)),  # no 29 Feb 2038: anniversary 28 Feb, deleted 1 March
        (date(2032, 2, 29), date(2042, 3, 1)),
        (date(2030, 2, 28), date(2040, 2, 29)),  # anniversary 28 Feb 2040, deleted on the leap day
        (date(2000, 1, 1), date(2010, 1, 2)),
    ],
)
def test_r_ret_1_completed_case_is_kept_ten_years(completed, delete_on):
    """Is a completed case deletable only from the day after its tenth anniversary?"""
    assert completed_case_delete_on(completed) == delete_on


def test_r_ret_1_last_day_of_retention_is_the_anniversary_itself():
    """On the tenth anniversary the case is still kept (初日不算入: the period ends at that day's end)."""
    completed = date(2027, 4, 1)
    assert completed_case_delete_on(completed) - timedelta(days=1) == date(2037, 4, 1)


@pytest.mark.parametrize(
    ("extended_until", "delete_on"),
    [
        (date(2042, 3, 31), date(2042, 4, 1)),  # bought five more years
        (date(2037, 4, 1), date(2037, 4, 2)),  # bought exactly up to the anniversary: no change
        (date(2037, 4, 2), date(2037, 4, 3)),  # one day more
        (date(2030, 1, 1), date(2037, 4, 2)),  # ends before the ten years: never shortens them
        (date(2027, 4, 1), date(2037, 4, 2)),  # the completion day itself
        (None, date(2037, 4, 2)),
    ],
)
def test_r_ret_1_continued_storage_extends_but_never_shortens(extended_until, delete_on):
    """Does continued storage move deletion to the day after it ends, and only ever later?"""
    assert completed_case_delete_on(date(2027, 4, 1), extended_until) == delete_on


def test_r_ret_1_extension_ending_before_completion_is_refused():
    """Is continued storage that ends before the case was completed refused as impossible?"""
    with pytest.raises(ValueError, match="before completion"):
        completed_case_delete_on(date(2027, 4, 1), date(2027, 3, 31))


@pytest.mark.parametrize(
    ("last_update", "delete_on"),
    [
        (date(2027, 4, 1), date(2028, 4, 2)),
        (date(2027, 2, 28), date(2028, 2, 29)),  # anniversary 28 Feb 2028, deleted on the leap day
        (date(2028, 2, 29), date(2029, 3, 1)),  # no 29 Feb 2029
        (date(2028, 2, 28), date(2029, 3, 1)),
        (date(2027, 12, 31), date(2029, 1, 1)),
        (date(2027, 3, 31), date(2028, 4, 1)),
    ],
)
def test_r_ret_2_incomplete_case_goes_a_year_after_its_last_update(last_update, delete_on):
    """Is a case that is not complete deletable from the day after one year since its last update?"""
    assert incomplete_case_delete_on(last_update) == delete_on


@pytest.mark.parametrize(
    ("ended", "delete_on"),
    [
        (date(2027, 1, 15), date(2027, 4, 16)),
        (date(2027, 3, 31), date(2027, 7, 1)),  # no 31 June: anniversary 30 June
        (date(2027, 10, 31), date(2028, 2, 1)),  # 31 January exists
        (date(2027, 11, 30), date(2028, 3, 1)),  # no 30 Feb 2028: anniversary 29 Feb (leap)
        (date(2027, 11, 29), date(2028, 3, 1)),  # 29 Feb 2028 exists
        (date(2026, 11, 28), date(2027, 3, 1)),  # 28 Feb 2027 exists
        (date(2026, 11, 30), date(2027, 3, 1)),  # no 30 Feb 2027: anniversary 28 Feb
        (date(2027, 5, 31), date(2027, 9, 1)),  # 31 August exists
        (date(2027, 12, 31), date(2028, 4, 1)),  # across the year end; 31 March exists
    ],
)
def test_r_ret_3_ended_contractor_data_goes_three_months_later(ended, delete_on):
    """Is an ended contractor's data deletable from the day after the three-month anniversary?"""
    assert post_termination_delete_on(ended) == delete_on


@pytest.mark.parametrize(
    ("delete_on", "warnings"),
    [
        (date(2037, 4, 2), (date(2037, 1, 2), date(2037, 3, 3))),
        (date(2028, 3, 1), (date(2027, 12, 2), date(2028, 1, 31))),  # leap February inside
        (date(2027, 3, 1), (date(2026, 12, 1), date(2027, 1, 30))),  # common February inside
    ],
)
def test_r_ret_4_warnings_90_and_30_days_ahead(delete_on, warnings):
    """Are the warnings due exactly 90 and 30 days before the deletion day, earliest first?"""
    assert retention_warning_dates(delete_on) == warnings


def test_r_ret_4_warnings_precede_deletion_of_a_completed_case():
    """For a real completed case, do both warnings fall inside its retention, after completion?"""
    completed = date(2028, 2, 29)
    first, second = retention_warning_dates(completed_case_delete_on(completed))
    assert completed < first < second < anniversary(completed, years=10)


@pytest.mark.parametrize(
    "call",
    [
        lambda: completed_case_delete_on(date(1999, 12, 31)),
        lambda: completed_case_delete_on(date(2027, 4, 1), date(1999, 1, 1)),
        lambda: incomplete_case_delete_on(date(1999, 12, 31)),
        lambda: post_termination_delete_on(date(1999, 12, 31)),
        lambda: retention_warning_dates(date(1999, 12, 31)),
        lambda: completed_case_delete_on(date(3000, 1, 1)),
    ],
)
def test_r_ret_dates_out_of_range_are_refused(call):
    """Is a date before 2000 (or absurdly far ahead) refused with ValueError?"""
    with pytest.raises(ValueError, match="is (before 2000-01-01|after 2999-12-31)"):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: completed_case_delete_on(datetime(2027, 4, 1, 12, 0)),
        lambda: completed_case_delete_on(date(2027, 4, 1), "2030-01-01"),
        lambda: incomplete_case_delete_on("2027-04-01"),
        lambda: post_termination_delete_on(None),
        lambda: retention_warning_dates(datetime(2037, 4, 2)),
    ],
)
def test_r_ret_non_dates_are_refused(call):
    """Is a datetime or a string refused with TypeError instead of silently compared?"""
    with pytest.raises(TypeError, match="must be a datetime.date"):
        call()
