"""Contract term, renewal and mid-term cancellation (R-TERM-1 第11条, R-TERM-2 第24条1項)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from portal.rules.terms import cancellation_end_date, next_term_start, renewal_opt_out_deadline, term_end


def test_r_term_1_spec_examples_verbatim():
    """Do the two examples written in SPEC §7 hold?"""
    assert term_end(date(2027, 4, 1)) == date(2028, 3, 31)
    assert term_end(date(2028, 2, 29)) == date(2029, 2, 28)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2027, 1, 1), date(2027, 12, 31)),  # a calendar year
        (date(2000, 1, 1), date(2000, 12, 31)),  # the earliest date accepted
        (date(2027, 3, 1), date(2028, 2, 29)),  # the term ends on a leap day
        (date(2028, 3, 1), date(2029, 2, 28)),  # the day before 1 March in a common year
        (date(2027, 2, 28), date(2028, 2, 27)),  # 28 Feb is a real day in the leap year too
        (date(2028, 2, 28), date(2029, 2, 27)),
        (date(2027, 1, 31), date(2028, 1, 30)),  # a 31-day month
        (date(2027, 4, 30), date(2028, 4, 29)),  # a 30-day month
        (date(2027, 12, 31), date(2028, 12, 30)),  # year end
        (date(2031, 2, 1), date(2032, 1, 31)),
    ],
)
def test_r_term_1_term_end_is_the_day_before_the_anniversary(start, end):
    """Does a term that starts on `start` end on the day before the same date a year later?"""
    assert term_end(start) == end


@pytest.mark.parametrize("start", [date(2028, 2, 29), date(2032, 2, 29), date(2000, 2, 29)])
def test_r_term_1_term_starting_on_leap_day_ends_on_last_day_of_february(start):
    """When the start is 29 Feb and next year has no 29 Feb, does the term end on 28 Feb?"""
    assert term_end(start) == date(start.year + 1, 2, 28)


@pytest.mark.parametrize(
    ("start", "renewal"),
    [
        (date(2027, 4, 1), date(2028, 4, 1)),
        (date(2027, 12, 31), date(2028, 12, 31)),
        (date(2027, 3, 1), date(2028, 3, 1)),
        (date(2028, 2, 29), date(2029, 3, 1)),  # no 29 Feb 2029: the renewal starts on 1 March
    ],
)
def test_r_term_1_next_term_starts_the_day_after_the_term_ends(start, renewal):
    """Does the renewed term start on the day after term_end — the anniversary, or 1 March for 29 Feb?"""
    assert next_term_start(start) == renewal


@pytest.mark.parametrize(
    ("start", "deadline"),
    [
        (date(2027, 4, 1), date(2028, 3, 1)),  # 31 March − 30 days
        (date(2027, 3, 1), date(2028, 1, 30)),  # 29 Feb 2028 − 30 days
        (date(2028, 3, 1), date(2029, 1, 29)),  # 28 Feb 2029 − 30 days
        (date(2028, 2, 29), date(2029, 1, 29)),
        (date(2027, 1, 1), date(2027, 12, 1)),
    ],
)
def test_r_term_1_opt_out_deadline_is_thirty_days_before_term_end(start, deadline):
    """Is the last day to stop the renewal exactly 30 days before the term's last day?"""
    assert renewal_opt_out_deadline(start) == deadline


@pytest.mark.parametrize(
    ("arrived", "wished", "ends"),
    [
        # wished at least 30 days after arrival: the end of the wished month
        (date(2027, 4, 10), date(2027, 5, 10), date(2027, 5, 31)),  # exactly 30 days
        (date(2027, 4, 10), date(2027, 6, 15), date(2027, 6, 30)),
        (date(2027, 4, 10), date(2028, 2, 1), date(2028, 2, 29)),  # leap February
        (date(2027, 1, 30), date(2027, 3, 1), date(2027, 3, 31)),  # 30 days across a 28-day February
        (date(2027, 12, 1), date(2027, 12, 31), date(2027, 12, 31)),  # 30 days, same month
        # fewer than 30 days: arrival + 7 days, end of that month
        (date(2027, 4, 10), date(2027, 5, 9), date(2027, 4, 30)),  # 29 days
        (date(2027, 4, 10), date(2027, 4, 10), date(2027, 4, 30)),  # wished the arrival day itself
        (date(2027, 4, 24), date(2027, 5, 20), date(2027, 5, 31)),  # 24 Apr + 7 = 1 May
        (date(2027, 1, 30), date(2027, 2, 28), date(2027, 2, 28)),  # 29 days across February
    ],
)
def test_r_term_2_cancellation_with_wished_date(arrived, wished, ends):
    """Does a cancellation end at the end of the wished month only when the wish is ≥ 30 days away?"""
    assert cancellation_end_date(arrived, wished) == ends


@pytest.mark.parametrize(
    ("arrived", "ends"),
    [
        (date(2027, 4, 23), date(2027, 4, 30)),  # + 7 = 30 April, still April
        (date(2027, 4, 24), date(2027, 5, 31)),  # + 7 = 1 May
        (date(2028, 2, 20), date(2028, 2, 29)),  # + 7 = 27 Feb in a leap year
        (date(2028, 2, 23), date(2028, 3, 31)),  # + 7 = 1 March
        (date(2027, 2, 21), date(2027, 2, 28)),  # + 7 = 28 Feb in a common year
        (date(2027, 2, 22), date(2027, 3, 31)),  # + 7 = 1 March
        (date(2027, 12, 28), date(2028, 1, 31)),  # + 7 crosses the year
    ],
)
def test_r_term_2_cancellation_without_wished_date_uses_arrival_plus_seven(arrived, ends):
    """Without a wished date, is the wished date taken to be arrival + 7 days, ending at that month's end?"""
    assert cancellation_end_date(arrived, None) == ends


def test_r_term_2_wished_date_before_arrival_is_refused():
    """Is a wished date earlier than the day the request arrived refused rather than reinterpreted?"""
    with pytest.raises(ValueError, match="before the arrival date"):
        cancellation_end_date(date(2027, 4, 10), date(2027, 4, 9))


@pytest.mark.parametrize(
    "call",
    [
        lambda: term_end(date(1999, 12, 31)),
        lambda: next_term_start(date(1999, 12, 31)),
        lambda: renewal_opt_out_deadline(date(1999, 12, 31)),
        lambda: cancellation_end_date(date(1999, 12, 31), None),
        lambda: cancellation_end_date(date(2027, 4, 1), date(1999, 12, 31)),
        lambda: term_end(date(3000, 1, 1)),
    ],
)
def test_r_term_dates_out_of_range_are_refused(call):
    """Is a date before 2000 (or absurdly far ahead) refused with ValueError?"""
    with pytest.raises(ValueError, match="is (before 2000-01-01|after 2999-12-31)"):
        call()


@pytest.mark.parametrize("bad", [datetime(2027, 4, 1, 9, 0), "2027-04-01", None, 20270401])
def test_r_term_non_dates_are_refused(bad):
    """Is anything that is not a plain date (a datetime, a string, a number) refused with TypeError?"""
    with pytest.raises(TypeError, match="start must be a datetime.date"):
        term_end(bad)


@pytest.mark.parametrize("bad", [datetime(2027, 5, 1, 9, 0), "2027-05-01"])
def test_r_term_2_non_date_wished_is_refused(bad):
    """Is a wished date that is not a plain date refused instead of compared?"""
    with pytest.raises(TypeError, match="wished must be a datetime.date"):
        cancellation_end_date(date(2027, 4, 1), bad)
