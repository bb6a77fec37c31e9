"""Contract term, renewal and mid-term cancellation (第11条, 第24条1項).

Pure functions: every date is a parameter, nothing reads the clock.
"""

from __future__ import annotations

from datetime import date, timedelta

from .dates import ONE_DAY, month_end, period_end, require_date

#: An opt-out must arrive at least this many days before the term ends (第11条).
RENEWAL_OPT_OUT_DAYS = 30
#: A wished cancellation date is honoured only this many days after arrival (第24条1項).
CANCELLATION_NOTICE_DAYS = 30
#: Without a valid wished date, the wished date is deemed arrival + this many days (第24条1項).
CANCELLATION_DEEMED_DAYS = 7


def term_end(start: date) -> date:
    """Last day of the one-year term that starts on ``start`` (第11条).

    The start day counts, so the term ends on the day before the same date a year later;
    when that date does not exist (a term starting on 29 February), it ends on the last
    day of February (民法第143条2項).

    >>> term_end(date(2027, 4, 1))
    datetime.date(2028, 3, 31)
    >>> term_end(date(2028, 2, 29))
    datetime.date(2029, 2, 28)
    """
    require_date("start", start)
    return period_end(start, years=1)


def next_term_start(start: date) -> date:
    """First day of the renewed term: the day after ``term_end(start)`` (第11条).

    >>> next_term_start(date(2027, 4, 1))
    datetime.date(2028, 4, 1)
    >>> next_term_start(date(2028, 2, 29))
    datetime.date(2029, 3, 1)
    """
    return term_end(start) + ONE_DAY


def renewal_opt_out_deadline(start: date) -> date:
    """Last day on which an opt-out stops the automatic renewal of the term that starts on
    ``start``: ``term_end(start)`` − 30 days (第11条, 期間満了30日前まで). An opt-out received
    on or before this day stops the renewal; one received later does not.

    >>> renewal_opt_out_deadline(date(2027, 4, 1))
    datetime.date(2028, 3, 1)
    """
    return term_end(start) - timedelta(days=RENEWAL_OPT_OUT_DAYS)


def cancellation_end_date(arrived: date, wished: date | None) -> date:
    """Day the contract ends after a mid-term cancellation (第24条1項).

    If ``wished`` is given and at least 30 days after ``arrived`` (the day the request
    reached the operator), the contract ends on the last day of ``wished``'s month.
    Otherwise (no wished date, or fewer than 30 days away) the wished date is deemed to be
    ``arrived`` + 7 days, and the contract ends on the last day of that date's month.

    A ``wished`` date before ``arrived`` is refused with ``ValueError``: nobody can wish a
    contract to end before asking, so it is a typing error the form must show, not a
    request to turn silently into arrival + 7 days.

    >>> cancellation_end_date(date(2027, 4, 10), date(2027, 6, 15))
    datetime.date(2027, 6, 30)
    >>> cancellation_end_date(date(2027, 4, 10), date(2027, 5, 9))  # 29 days: too soon
    datetime.date(2027, 4, 30)
    >>> cancellation_end_date(date(2027, 4, 25), None)  # 25 April + 7 days = 2 May
    datetime.date(2027, 5, 31)
    """
    require_date("arrived", arrived)
    if wished is not None:
        require_date("wished", wished)
        if wished < arrived:
            raise ValueError(f"wished date {wished.isoformat()} is before the arrival date {arrived.isoformat()}")
        if (wished - arrived).days >= CANCELLATION_NOTICE_DAYS:
            return month_end(wished)
    return month_end(arrived + timedelta(days=CANCELLATION_DEEMED_DAYS))
