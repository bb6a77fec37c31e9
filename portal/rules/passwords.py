"""Password expiry (R-ACC-2, 第15条5項): when a password must be changed, when users are warned,
and when an ID whose password stayed expired is suspended.

All dates are calendar days in Asia/Tokyo; the caller turns the instant of the last change into
its JST date. The periods are the configuration values PASSWORD_MAX_AGE_DAYS,
PASSWORD_WARN_DAYS and PASSWORD_GRACE_DAYS.

A password changed on day C with a maximum age of N days is usable up to and including day
C + N − 1 and expired from day C + N (``expires_on``). The warning shows from
``expires_on − warn_days``. The ID is suspended from ``expires_on + grace_days`` if the password
still has not been changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from .dates import require_date


class PasswordAge(StrEnum):
    VALID = "valid"  # nothing to say
    WARNING = "warning"  # expires soon: show the banner
    EXPIRED = "expired"  # must change at login
    LAPSED = "lapsed"  # expired past the grace period: the ID is to be suspended


@dataclass(frozen=True)
class PasswordState:
    age: PasswordAge
    expires_on: date  # the first day the password no longer works without a change
    suspend_on: date  # the first day the ID is suspended if it is still not changed
    days_left: int  # days until expires_on (0 or negative once expired)


def _require_days(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


def password_expires_on(changed_on: date, max_age_days: int) -> date:
    """The first day a password changed on ``changed_on`` is expired.

    >>> password_expires_on(date(2026, 1, 1), 180)
    datetime.date(2026, 6, 30)
    """
    require_date("changed_on", changed_on)
    if _require_days("max_age_days", max_age_days) == 0:
        raise ValueError("max_age_days must be at least 1")
    return changed_on + timedelta(days=max_age_days)


def password_state(
    changed_on: date, today: date, *, max_age_days: int, warn_days: int, grace_days: int
) -> PasswordState:
    """Where a password changed on ``changed_on`` stands on ``today``.

    >>> password_state(date(2026, 1, 1), date(2026, 6, 20), max_age_days=180, warn_days=14, grace_days=30).age
    <PasswordAge.WARNING: 'warning'>
    """
    require_date("today", today)
    expires_on = password_expires_on(changed_on, max_age_days)
    warn_from = expires_on - timedelta(days=_require_days("warn_days", warn_days))
    suspend_on = expires_on + timedelta(days=_require_days("grace_days", grace_days))
    if today >= suspend_on:
        age = PasswordAge.LAPSED
    elif today >= expires_on:
        age = PasswordAge.EXPIRED
    elif today >= warn_from:
        age = PasswordAge.WARNING
    else:
        age = PasswordAge.VALID
    return PasswordState(age=age, expires_on=expires_on, suspend_on=suspend_on, days_left=(expires_on - today).days)


def lapsed_if_changed_before(today: date, *, max_age_days: int, grace_days: int) -> date:
    """Passwords changed before this day are lapsed on ``today`` (for a database query).

    It is the inverse of ``password_state``: changed_on + max_age + grace <= today.

    >>> lapsed_if_changed_before(date(2026, 12, 28), max_age_days=180, grace_days=30)
    datetime.date(2026, 6, 2)
    """
    require_date("today", today)
    if _require_days("max_age_days", max_age_days) == 0:
        raise ValueError("max_age_days must be at least 1")
    return today - timedelta(days=max_age_days + _require_days("grace_days", grace_days)) + timedelta(days=1)
