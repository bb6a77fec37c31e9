"""Fees, late interest, delinquency, the liability cap and refunds (第12条〜第14条, 第23条,
第25条, 第26条).

Money is ``int`` yen and every division is integer floor division, which is how 第14条
drops fractions of one yen (切り捨て). No float is ever involved. Pure functions: every date
is a parameter, nothing reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from .dates import ONE_DAY, add_months, anniversary, require_date
from .dates import period_end as civil_period_end

#: Consumption tax in percent (R-BILL-1).
TAX_RATE_PERCENT = 10
#: Late interest is 8.25 % a year (第13条): numerator / denominator of the yearly rate.
LATE_INTEREST_RATE_NUMERATOR = 825
LATE_INTEREST_RATE_DENOMINATOR = 10_000
#: The yearly rate is divided by 365 days, leap years included.
DAYS_PER_YEAR = 365
#: Months of non-payment after which the contract may be terminated (第25条1項(2)).
DELINQUENCY_MONTHS = 6
#: Months of fees the liability cap averages over (第23条1項(1)).
LIABILITY_CAP_MONTHS = 6
#: Days the average daily fee is multiplied by for a young contract (第23条1項(2)).
LIABILITY_CAP_DAYS = 30


def require_yen(name: str, value: object) -> int:
    """Return ``value`` if it is a non-negative ``int`` number of yen.

    ``TypeError`` for anything else (a ``float`` or ``Decimal`` amount, ``bool``),
    ``ValueError`` for a negative amount.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int number of yen, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


def with_tax(amount: int) -> int:
    """``amount`` plus 10 % consumption tax, fractions of a yen dropped (R-BILL-1, 第12条2項,
    第14条): ``amount + floor(amount × 10 / 100)``.

    >>> with_tax(3000)
    3300
    >>> with_tax(1999)  # tax 199.9 → 199
    2198
    """
    require_yen("amount", amount)
    return amount + amount * TAX_RATE_PERCENT // 100


def late_interest(fee: int, due: date, paid: date) -> int:
    """Late-payment interest (支払遅延損害金, 第13条) on the unpaid fee *without* consumption
    tax (the article says 利用料), at 8.25 % a year from the day after ``due`` up to and
    including ``paid``:

        floor(fee × 825 × days / (10000 × 365)),  days = (paid − due).days

    0 when paid on or before the due date. The year has 365 days even in leap years.

    >>> late_interest(100_000, date(2027, 4, 30), date(2027, 5, 31))  # 31 days late
    700
    >>> late_interest(100_000, date(2027, 4, 30), date(2027, 4, 30))
    0
    """
    require_yen("fee", fee)
    require_date("due", due)
    require_date("paid", paid)
    days = (paid - due).days
    if days <= 0:
        return 0
    return (fee * LATE_INTEREST_RATE_NUMERATOR * days) // (LATE_INTEREST_RATE_DENOMINATOR * DAYS_PER_YEAR)


def delinquent_since(due: date) -> date:
    """The day on which a fee due on ``due`` has been unpaid for six months counted from the
    day after ``due`` (第25条1項(2)): ``anniversary(due, 6 months)`` + 1 day. From this day
    staff are alerted that the contract may be terminated.

    >>> delinquent_since(date(2027, 4, 30))
    datetime.date(2027, 10, 31)
    >>> delinquent_since(date(2027, 8, 31))  # 29 Feb 2028 is the anniversary
    datetime.date(2028, 3, 1)
    """
    require_date("due", due)
    return anniversary(due, months=DELINQUENCY_MONTHS) + ONE_DAY


def is_six_months_old(contract_start: date, claim_date: date) -> bool:
    """Whether the contract that started on ``contract_start`` had run for at least six
    months on ``claim_date`` (第23条1項(2) 利用期間が6ヶ月に満たない, negated).

    The contract's first day counts (as for the term, 第11条), so its first six months end
    on ``dates.period_end(contract_start, months=6)`` — the day before the corresponding day six
    months later, or that month's last day when there is none (民法第143条2項). The
    contract is six months old from the day after: ``claim_date > period_end(...)``. For
    most starts this is ``claim_date >= anniversary(contract_start, 6 months)``; for a start
    on the 29th–31st whose corresponding day does not exist it is one day later (start
    2027-08-31: old from 2028-03-01, not 2028-02-29).

    >>> is_six_months_old(date(2027, 4, 1), date(2027, 9, 30))
    False
    >>> is_six_months_old(date(2027, 4, 1), date(2027, 10, 1))
    True
    """
    require_date("contract_start", contract_start)
    require_date("claim_date", claim_date)
    return claim_date > civil_period_end(contract_start, months=LIABILITY_CAP_MONTHS)


def _sum_fees(fees: Iterable[tuple[date, int]], first: date, last: date) -> int:
    total = 0
    for index, entry in enumerate(fees):
        if not isinstance(entry, tuple) or len(entry) != 2:
            raise TypeError(f"fees[{index}] must be a (date, int) tuple, got {entry!r}")
        day, amount = entry
        require_date(f"fees[{index}] date", day)
        require_yen(f"fees[{index}] amount", amount)
        if first <= day <= last:
            total += amount
    return total


def liability_cap(fees: list[tuple[date, int]], contract_start: date, claim_date: date) -> int:
    """Upper limit of the damages the operator owes for an event on ``claim_date``
    (第23条1項). ``fees`` are ``(date the fee arose, yen)`` pairs for this contract.

    - Contract at least six months old on ``claim_date`` (see ``is_six_months_old``):
      the average monthly fee of the six calendar months ending on the last day of the
      month before ``claim_date`` — floor(sum of fees dated in that window / 6) (1項(1)).
    - Younger contract: the average daily fee from ``contract_start`` to the day before
      ``claim_date``, times 30 — floor(sum of fees dated in that window × 30 / number of
      those days) (1項(2)). A claim on the contract's first day has no day before it and
      no fee to average, so the cap is 0.

    ``claim_date`` before ``contract_start`` is refused with ``ValueError``.

    >>> monthly = [(date(2027, m, 1), 5000) for m in range(4, 13)]
    >>> liability_cap(monthly, date(2027, 4, 1), date(2027, 12, 15))  # Jun–Nov: 6 × 5000
    5000
    >>> liability_cap(monthly, date(2027, 4, 1), date(2027, 5, 11))  # 10000 × 30 / 40 days
    7500
    """
    require_date("contract_start", contract_start)
    require_date("claim_date", claim_date)
    if claim_date < contract_start:
        raise ValueError(
            f"claim_date {claim_date.isoformat()} is before the contract start {contract_start.isoformat()}"
        )
    if is_six_months_old(contract_start, claim_date):
        claim_month = claim_date.replace(day=1)
        first = add_months(claim_month, -LIABILITY_CAP_MONTHS)
        last = claim_month - ONE_DAY
        return _sum_fees(fees, first, last) // LIABILITY_CAP_MONTHS
    last = claim_date - ONE_DAY
    total = _sum_fees(fees, contract_start, last)
    days = (claim_date - contract_start).days
    if days == 0:
        return 0
    return total * LIABILITY_CAP_DAYS // days


def discontinuation_refund(prepaid: int, period_start: date, period_end: date, last_day: date) -> int:
    """Refund of the unused part of a prepaid fee when the service is discontinued
    (第26条2項): floor(prepaid × unused days / days in the period).

    The prepaid period runs from ``period_start`` to ``period_end`` inclusive; the service
    was provided up to and including ``last_day`` (the discontinuation day) and the unused
    days are those after it within the period. ``last_day`` before ``period_start`` leaves
    every day unused (full refund); ``last_day`` on or after ``period_end`` leaves none.
    ``period_end`` before ``period_start`` is refused with ``ValueError``.

    >>> discontinuation_refund(36_500, date(2027, 1, 1), date(2027, 12, 31), date(2027, 9, 30))
    9200
    """
    require_yen("prepaid", prepaid)
    require_date("period_start", period_start)
    require_date("period_end", period_end)
    require_date("last_day", last_day)
    if period_end < period_start:
        raise ValueError(f"period_end {period_end.isoformat()} is before period_start {period_start.isoformat()}")
    period_days = (period_end - period_start).days + 1
    if last_day >= period_end:
        return 0
    # Nothing was used when the service ended before the period began.
    unused = period_days if last_day < period_start else (period_end - last_day).days
    return prepaid * unused // period_days
