"""Money rules: tax (R-BILL-1 第12条・第14条), late interest (R-BILL-2 第13条), delinquency (R-ADM-1
第25条1項(2)), the liability cap (R-BILL-3 第23条1項) and discontinuation refunds (R-BILL-4 第26条)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from portal.rules.billing import (
    delinquent_since,
    discontinuation_refund,
    is_six_months_old,
    late_interest,
    liability_cap,
    with_tax,
)

# --- R-BILL-1 with_tax -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "total"),
    [
        (0, 0),
        (1, 1),  # tax 0.1 → 0
        (9, 9),  # tax 0.9 → 0
        (10, 11),
        (19, 20),  # tax 1.9 → 1
        (1999, 2198),  # tax 199.9 → 199
        (3000, 3300),
        (12_345_678, 13_580_245),
        (10**15 + 9, 10**15 + 9 + 10**14),  # big amounts stay exact (no float rounding)
    ],
)
def test_r_bill_1_with_tax_adds_ten_percent_dropping_fractions(amount, total):
    """Is 10 % consumption tax added with fractions of a yen dropped (切り捨て)?"""
    assert with_tax(amount) == total


def test_r_bill_1_negative_amount_is_refused():
    """Is a negative amount refused rather than taxed?"""
    with pytest.raises(ValueError, match="amount must not be negative"):
        with_tax(-1)


@pytest.mark.parametrize("bad", [100.0, Decimal("100"), True, "100", None])
def test_r_bill_1_non_integer_money_is_refused(bad):
    """Is money that is not an int (a float, a Decimal, a bool, a string) refused with TypeError?"""
    with pytest.raises(TypeError, match="must be an int number of yen"):
        with_tax(bad)


# --- R-BILL-2 late_interest ---------------------------------------------------------------

DUE = date(2027, 4, 30)


@pytest.mark.parametrize(
    ("fee", "paid", "interest"),
    [
        (100_000, date(2027, 5, 1), 22),  # 1 day: 22.60…
        (100_000, date(2027, 5, 31), 700),  # 31 days: 700.68…
        (100_000, date(2028, 4, 29), 8250),  # 365 days: exactly 8.25 %
        (10_000, date(2027, 5, 30), 67),  # 30 days: 67.80…
        (44, date(2027, 5, 1), 0),  # a small fee earns nothing in a day
        (0, date(2028, 4, 29), 0),
    ],
)
def test_r_bill_2_late_interest_per_day(fee, paid, interest):
    """Is interest fee × 8.25 % × days / 365 from the day after the due date, fractions dropped?"""
    assert late_interest(fee, DUE, paid) == interest


def test_r_bill_2_leap_year_still_divides_by_365():
    """Over a year that holds 29 Feb (366 days late) is the interest more than 8.25 %, not exactly it?"""
    due = date(2027, 12, 31)
    paid = date(2028, 12, 31)
    assert (paid - due).days == 366
    assert late_interest(100_000, due, paid) == 100_000 * 825 * 366 // 3_650_000 == 8272


@pytest.mark.parametrize("paid", [DUE, DUE - timedelta(days=1), date(2027, 1, 1)])
def test_r_bill_2_paid_on_or_before_due_owes_nothing(paid):
    """Does a payment on or before the due date owe no interest?"""
    assert late_interest(100_000, DUE, paid) == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: late_interest(-1, DUE, DUE), "fee must not be negative"),
        (lambda: late_interest(100, date(1999, 12, 31), DUE), "due 1999-12-31 is before 2000-01-01"),
        (lambda: late_interest(100, DUE, date(1999, 12, 31)), "paid 1999-12-31 is before 2000-01-01"),
    ],
)
def test_r_bill_2_impossible_input_is_refused(call, message):
    """Is a negative fee or a date before 2000 refused with a message naming the argument?"""
    with pytest.raises(ValueError, match=message):
        call()


def test_r_bill_2_float_fee_is_refused():
    """Is a float fee refused, so no float ever touches money?"""
    with pytest.raises(TypeError):
        late_interest(1000.5, DUE, DUE)


# --- R-ADM-1 delinquent_since ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("due", "flagged"),
    [
        (date(2027, 4, 30), date(2027, 10, 31)),  # anniversary 30 Oct
        (date(2027, 1, 15), date(2027, 7, 16)),
        (date(2027, 3, 31), date(2027, 10, 1)),  # no 31 Sep: anniversary 30 Sep
        (date(2027, 8, 31), date(2028, 3, 1)),  # anniversary 29 Feb 2028 (leap)
        (date(2026, 8, 31), date(2027, 3, 1)),  # anniversary 28 Feb 2027
        (date(2027, 8, 29), date(2028, 3, 1)),  # 29 Feb 2028 exists
        (date(2027, 7, 31), date(2028, 2, 1)),  # across the year end
    ],
)
def test_r_adm_1_delinquency_after_six_months_of_non_payment(due, flagged):
    """Are staff alerted on the day after six months of non-payment counted from the day after the due date?"""
    assert delinquent_since(due) == flagged


def test_r_adm_1_delinquency_refuses_dates_before_2000():
    """Is a due date before 2000 refused?"""
    with pytest.raises(ValueError, match="due 1999-06-30 is before"):
        delinquent_since(date(1999, 6, 30))


# --- R-BILL-3 liability_cap -----------------------------------------------------------------

START = date(2027, 4, 1)


def monthly(amount: int, first: date, months: int) -> list[tuple[date, int]]:
    """One fee of `amount` on the first day of each of `months` months from `first`'s month."""
    fees = []
    year, month = first.year, first.month
    for _ in range(months):
        fees.append((date(year, month, 1), amount))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return fees


def test_r_bill_3_old_contract_averages_the_six_months_before_the_claim_month():
    """For a contract over six months old, is the cap the average of the six previous calendar months?"""
    fees = monthly(5000, START, 8)  # April..November 2027
    fees.append((date(2027, 12, 1), 1_000_000))  # in the claim month: not counted
    fees.append((date(2027, 5, 31), 1_000_000))  # before the window (June..November): not counted
    assert liability_cap(fees, START, date(2027, 12, 15)) == 5000


def test_r_bill_3_window_edges_are_inclusive():
    """Do fees on the window's first day and on the last day of the previous month both count?"""
    fees = [(date(2027, 6, 1), 600), (date(2027, 11, 30), 600), (date(2027, 12, 1), 6000)]
    assert liability_cap(fees, START, date(2027, 12, 1)) == 200


def test_r_bill_3_average_drops_fractions():
    """Is the six-month average floored to whole yen?"""
    fees = [(date(2027, 6, 1), 10_001)]
    assert liability_cap(fees, START, date(2027, 12, 15)) == 1666


def test_r_bill_3_window_crosses_the_year():
    """With a claim in March, is the window September to February, including a leap February?"""
    fees = monthly(3000, date(2027, 8, 1), 8)  # August 2027 .. March 2028
    fees.append((date(2028, 2, 29), 600))
    # September..February: 6 × 3000 + 600 = 18,600 → 3,100
    assert liability_cap(fees, START, date(2028, 3, 10)) == 3100


def test_r_bill_3_young_contract_uses_daily_average_times_30():
    """For a contract under six months, is the cap the daily average up to the day before × 30?"""
    fees = monthly(5000, START, 2)  # 1 April and 1 May
    # 1 April .. 10 May is 40 days: 10,000 × 30 / 40
    assert liability_cap(fees, START, date(2027, 5, 11)) == 7500


def test_r_bill_3_young_contract_excludes_the_claim_day_and_days_before_start():
    """Are fees dated on the claim day or before the contract start left out of the daily average?"""
    fees = [(date(2027, 3, 31), 99_999), (date(2027, 4, 1), 3000), (date(2027, 4, 11), 99_999)]
    # 1 April .. 10 April: 10 days, 3000 × 30 / 10
    assert liability_cap(fees, START, date(2027, 4, 11)) == 9000


def test_r_bill_3_young_contract_average_drops_fractions():
    """Is the daily-average cap floored to whole yen?"""
    # 1 April .. 7 April: 7 days, 1000 × 30 / 7 = 4285.71…
    assert liability_cap([(START, 1000)], START, date(2027, 4, 8)) == 4285


def test_r_bill_3_claim_on_the_first_day_has_cap_zero():
    """On the contract's first day no fee has yet arisen before the claim day — is the cap 0 (not a crash)?"""
    assert liability_cap([(START, 5000)], START, START) == 0


@pytest.mark.parametrize(
    ("start", "young", "old", "old_cap"),
    [
        (date(2027, 4, 1), date(2027, 9, 30), date(2027, 10, 1), 1000),
        (date(2027, 4, 15), date(2027, 10, 14), date(2027, 10, 15), 1000),
        # 29 Feb 2028 is the corresponding day: old from it
        (date(2027, 8, 29), date(2028, 2, 28), date(2028, 2, 29), 1000),
        # no 30/31 Feb: the first six months end on 29 Feb, old from 1 March, and the
        # window September..February no longer holds the fee dated on the start day
        (date(2027, 8, 30), date(2028, 2, 29), date(2028, 3, 1), 0),
        (date(2027, 8, 31), date(2028, 2, 29), date(2028, 3, 1), 0),
        (date(2026, 8, 31), date(2027, 2, 28), date(2027, 3, 1), 0),
        (date(2027, 12, 31), date(2028, 6, 30), date(2028, 7, 1), 0),  # no 31 June
    ],
)
def test_r_bill_3_six_months_boundary(start, young, old, old_cap):
    """Is the contract under six months on the last day of its first six months and old from the next day?"""
    assert not is_six_months_old(start, young)
    assert is_six_months_old(start, old)
    fees = [(start, 6000)]
    assert liability_cap(fees, start, young) == 6000 * 30 // (young - start).days
    assert liability_cap(fees, start, old) == old_cap


@pytest.mark.parametrize(
    ("fees", "start", "claim", "error", "message"),
    [
        ([], START, date(2027, 3, 31), ValueError, "claim_date 2027-03-31 is before the contract start"),
        ([(START, -1)], START, date(2027, 5, 1), ValueError, r"fees\[0\] amount must not be negative"),
        ([(date(1999, 12, 1), 100)], START, date(2027, 5, 1), ValueError, r"fees\[0\] date 1999-12-01"),
        ([], date(1999, 12, 1), date(2027, 5, 1), ValueError, "contract_start 1999-12-01 is before"),
        ([(START, 100.0)], START, date(2027, 5, 1), TypeError, "must be an int number of yen"),
        ([(START,)], START, date(2027, 5, 1), TypeError, r"fees\[0\] must be a \(date, int\) tuple"),
    ],
)
def test_r_bill_3_impossible_input_is_refused(fees, start, claim, error, message):
    """Is a claim before the start, a negative or float fee, or a malformed fee refused clearly?"""
    with pytest.raises(error, match=message):
        liability_cap(fees, start, claim)


# --- R-BILL-4 discontinuation_refund -------------------------------------------------------

YEAR_START = date(2027, 1, 1)
YEAR_END = date(2027, 12, 31)  # 365 days


@pytest.mark.parametrize(
    ("last_day", "refund"),
    [
        (date(2027, 9, 30), 9200),  # 92 unused days of 365
        (date(2026, 12, 31), 36_500),  # ended before the period: everything back
        (date(2026, 6, 1), 36_500),
        (YEAR_START, 36_400),  # one day used
        (date(2027, 12, 30), 100),  # one day unused
        (YEAR_END, 0),  # the whole period used
        (date(2028, 3, 31), 0),  # ended after the period
    ],
)
def test_r_bill_4_refund_is_pro_rata_of_unused_days(last_day, refund):
    """Is the refund the prepaid fee × days after the last day of service / days in the period?"""
    assert discontinuation_refund(36_500, YEAR_START, YEAR_END, last_day) == refund


def test_r_bill_4_leap_year_period_has_366_days():
    """Does a period over a leap February count 366 days, with fractions dropped?"""
    # 1 April 2027 .. 31 March 2028 = 366 days; unused after 31 Dec: 31 + 29 + 31 = 91
    refund = discontinuation_refund(36_500, date(2027, 4, 1), date(2028, 3, 31), date(2027, 12, 31))
    assert refund == 36_500 * 91 // 366 == 9075


def test_r_bill_4_one_day_period():
    """Is a one-day period fully refunded when not used and not at all when used?"""
    day = date(2028, 2, 29)
    assert discontinuation_refund(999, day, day, day - timedelta(days=1)) == 999
    assert discontinuation_refund(999, day, day, day) == 0


def test_r_bill_4_refund_drops_fractions():
    """Is 1000 yen for 3 days with 2 unused refunded as 666, not 667?"""
    assert discontinuation_refund(1000, date(2027, 1, 1), date(2027, 1, 3), date(2027, 1, 1)) == 666


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((-1, YEAR_START, YEAR_END, YEAR_START), ValueError, "prepaid must not be negative"),
        ((100, YEAR_END, YEAR_START, YEAR_START), ValueError, "period_end 2027-01-01 is before period_start"),
        ((100, date(1999, 1, 1), YEAR_END, YEAR_START), ValueError, "period_start 1999-01-01 is before"),
        ((100, YEAR_START, YEAR_END, date(1999, 1, 1)), ValueError, "last_day 1999-01-01 is before"),
        ((100.0, YEAR_START, YEAR_END, YEAR_START), TypeError, "must be an int number of yen"),
        ((100, YEAR_START, YEAR_END, datetime(2027, 6, 1)), TypeError, "last_day must be a datetime.date"),
    ],
)
def test_r_bill_4_impossible_input_is_refused(args, error, message):
    """Is a negative or float prepayment, an inverted period or a date before 2000 refused?"""
    with pytest.raises(error, match=message):
        discontinuation_refund(*args)
