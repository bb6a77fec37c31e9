"""When a case or a former contractor's data may be deleted (第11条の2, 第11条の3, 第28条).

Periods are counted the Civil Code way (初日不算入, 民法第140条・第143条): a period of N
years/months after an event on day E has passed at the end of E's anniversary (the same day
N years/months later, or the month's last day when that day does not exist), so the thing
may be deleted from the day after. Each ``*_delete_on`` returns that first day on which
deletion is allowed; the purge job deletes when ``today >= delete_on``.
"""

from __future__ import annotations

from datetime import date, timedelta

from .dates import ONE_DAY, anniversary, require_date

#: Retention of a completed case (第11条の2, 保管期間10年).
COMPLETED_RETENTION_YEARS = 10
#: An incomplete case is deleted after one year without an update (第11条の3(2)).
INCOMPLETE_RETENTION_YEARS = 1
#: A former contractor's data is kept this many months after the contract ends (第28条2項・3項).
POST_TERMINATION_MONTHS = 3
#: Parties are warned this many days before a completed case is deleted (R-RET-4).
WARNING_DAYS_BEFORE = (90, 30)


def completed_case_delete_on(completed: date, extended_until: date | None = None) -> date:
    """First day on which a completed case may be deleted (第11条の2).

    Ten years from completion: ``anniversary(completed, 10 years)`` + 1 day. When a party
    bought continued storage (継続保管) up to and including ``extended_until``, the later of
    that and ``extended_until`` + 1 day, so buying storage never shortens the retention.
    ``extended_until`` before ``completed`` is refused with ``ValueError``.

    >>> completed_case_delete_on(date(2027, 4, 1))
    datetime.date(2037, 4, 2)
    >>> completed_case_delete_on(date(2028, 2, 29))
    datetime.date(2038, 3, 1)
    >>> completed_case_delete_on(date(2027, 4, 1), extended_until=date(2042, 3, 31))
    datetime.date(2042, 4, 1)
    """
    require_date("completed", completed)
    delete_on = anniversary(completed, years=COMPLETED_RETENTION_YEARS) + ONE_DAY
    if extended_until is None:
        return delete_on
    require_date("extended_until", extended_until)
    if extended_until < completed:
        raise ValueError(f"extended_until {extended_until.isoformat()} is before completion {completed.isoformat()}")
    return max(delete_on, extended_until + ONE_DAY)


def incomplete_case_delete_on(last_update: date) -> date:
    """First day on which a case that is not 完了 may be deleted (第11条の3): one year after
    its last update, ``anniversary(last_update, 1 year)`` + 1 day. Any later update moves
    ``last_update`` and so this day.

    >>> incomplete_case_delete_on(date(2027, 4, 1))
    datetime.date(2028, 4, 2)
    >>> incomplete_case_delete_on(date(2028, 2, 29))
    datetime.date(2029, 3, 1)
    """
    require_date("last_update", last_update)
    return anniversary(last_update, years=INCOMPLETE_RETENTION_YEARS) + ONE_DAY


def post_termination_delete_on(ended: date) -> date:
    """First day on which an ended contractor's account data, certificates, logs and own
    copies may be deleted (第28条2項・3項): three months after the contract ended,
    ``anniversary(ended, 3 months)`` + 1 day. Until then it may log in read-only.

    >>> post_termination_delete_on(date(2027, 3, 31))
    datetime.date(2027, 7, 1)
    >>> post_termination_delete_on(date(2027, 11, 30))
    datetime.date(2028, 3, 1)
    """
    require_date("ended", ended)
    return anniversary(ended, months=POST_TERMINATION_MONTHS) + ONE_DAY


def retention_warning_dates(delete_on: date) -> tuple[date, date]:
    """Days on which the parties are warned that a completed case will be deleted on
    ``delete_on`` (第11条の2, R-RET-4): ``delete_on`` − 90 days and ``delete_on`` − 30 days,
    earliest first.

    >>> retention_warning_dates(date(2037, 4, 2))
    (datetime.date(2037, 1, 2), datetime.date(2037, 3, 3))
    """
    require_date("delete_on", delete_on)
    first, second = WARNING_DAYS_BEFORE
    return delete_on - timedelta(days=first), delete_on - timedelta(days=second)
