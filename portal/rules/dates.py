"""Calendar arithmetic shared by the date rules.

Two ways of counting appear in the terms, and both live here so that every rule counts
the same way:

- ``anniversary``: the same day N years/months later (the "応当日"), clamped to the last
  day of the month when that day does not exist. The retention and billing rules count
  the Civil Code way (民法第140条 初日不算入, 第143条): a period of N years/months after an
  event on day E has passed at the end of ``anniversary(E, ...)``.
- ``period_end``: the last day of a period that *includes* its first day (a contract term
  starting on the day of conclusion, 第11条): the day before the corresponding day, or the
  last day of the final month when there is no corresponding day (民法第143条2項).
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

#: The earliest date any rule accepts. The portal did not exist before it, so an earlier
#: date is a typo or a corrupted record, not a fact to compute with.
MIN_DATE = date(2000, 1, 1)
#: The latest date any rule accepts; keeps "ten years later" well inside ``date.max``.
MAX_DATE = date(2999, 12, 31)

ONE_DAY = timedelta(days=1)


def require_date(name: str, value: object) -> date:
    """Return ``value`` if it is a plain ``date`` within [MIN_DATE, MAX_DATE].

    Raises ``TypeError`` for anything that is not a ``date`` (a ``datetime`` is refused
    too: it is a ``date`` subclass, but a time of day has no meaning in these rules and
    comparing it with dates fails) and ``ValueError`` for a date out of range.

    >>> require_date("start", date(2027, 4, 1))
    datetime.date(2027, 4, 1)
    """
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{name} must be a datetime.date, got {type(value).__name__}")
    if value < MIN_DATE:
        raise ValueError(f"{name} {value.isoformat()} is before {MIN_DATE.isoformat()}")
    if value > MAX_DATE:
        raise ValueError(f"{name} {value.isoformat()} is after {MAX_DATE.isoformat()}")
    return value


def _require_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


def days_in_month(year: int, month: int) -> int:
    """Number of days in the month: ``days_in_month(2028, 2) == 29``."""
    return calendar.monthrange(year, month)[1]


def month_end(day: date) -> date:
    """Last day of ``day``'s month: ``month_end(date(2027, 2, 10)) == date(2027, 2, 28)``."""
    return day.replace(day=days_in_month(day.year, day.month))


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` calendar months (negative goes back), clamped to the
    month's last day: ``add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)``."""
    if isinstance(months, bool) or not isinstance(months, int):
        raise TypeError(f"months must be an int, got {type(months).__name__}")
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise ValueError(f"{day.isoformat()} moved by {months} months is out of range")
    month = month0 + 1
    return date(year, month, min(day.day, days_in_month(year, month)))


def anniversary(day: date, years: int = 0, months: int = 0) -> date:
    """The same day ``years`` years and ``months`` months after ``day`` (応当日); when that
    day does not exist in the target month, the month's last day.

    >>> anniversary(date(2027, 4, 1), years=10)
    datetime.date(2037, 4, 1)
    >>> anniversary(date(2028, 2, 29), years=1)
    datetime.date(2029, 2, 28)
    >>> anniversary(date(2027, 8, 31), months=6)
    datetime.date(2028, 2, 29)
    """
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"day must be a datetime.date, got {type(day).__name__}")
    years = _require_count("years", years)
    months = _require_count("months", months)
    return add_months(day, years * 12 + months)


def has_corresponding_day(day: date, years: int = 0, months: int = 0) -> bool:
    """Whether ``day``'s day-of-month exists ``years``/``months`` later (False for
    31 Jan + 1 month, 29 Feb + 1 year)."""
    return anniversary(day, years=years, months=months).day == day.day


def period_end(start: date, years: int = 0, months: int = 0) -> date:
    """Last day of a period of ``years``/``months`` that counts ``start`` as its first day
    (民法第143条2項): the day before the corresponding day, or — when the final month has
    no corresponding day — that month's last day.

    >>> period_end(date(2027, 4, 1), years=1)
    datetime.date(2028, 3, 31)
    >>> period_end(date(2028, 2, 29), years=1)
    datetime.date(2029, 2, 28)
    >>> period_end(date(2027, 8, 31), months=6)
    datetime.date(2028, 2, 29)
    """
    corresponding = anniversary(start, years=years, months=months)
    if corresponding.day != start.day:
        # No corresponding day: anniversary() already clamped to the month's last day.
        return corresponding
    return corresponding - ONE_DAY
