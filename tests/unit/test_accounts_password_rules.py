"""Password expiry dates (R-ACC-2, 第15条5項) as pure date arithmetic."""

from __future__ import annotations

import doctest
from datetime import date, datetime, timedelta

import pytest

from portal.rules import passwords
from portal.rules.passwords import PasswordAge, lapsed_if_changed_before, password_expires_on, password_state

DEFAULTS = dict(max_age_days=180, warn_days=14, grace_days=30)
CHANGED = date(2026, 1, 1)  # expires 2026-06-30, warning from 2026-06-16, suspension from 2026-07-30


def test_doctests_hold():
    """Are the examples in the module's docstrings true?"""
    assert doctest.testmod(passwords).failed == 0


def test_r_acc_2_password_expires_max_age_days_after_the_change():
    """Is a password changed on 1 January expired 180 days later, on 30 June?"""
    assert password_expires_on(CHANGED, 180) == date(2026, 6, 30)


@pytest.mark.parametrize(
    ("today", "age"),
    [
        (date(2026, 1, 1), PasswordAge.VALID),
        (date(2026, 6, 15), PasswordAge.VALID),  # the day before the warning starts
        (date(2026, 6, 16), PasswordAge.WARNING),  # 14 days before expiry
        (date(2026, 6, 29), PasswordAge.WARNING),  # last usable day
        (date(2026, 6, 30), PasswordAge.EXPIRED),  # first expired day: forced change at login
        (date(2026, 7, 29), PasswordAge.EXPIRED),  # last day of the grace period
        (date(2026, 7, 30), PasswordAge.LAPSED),  # grace over: the ID is suspended
        (date(2027, 1, 1), PasswordAge.LAPSED),
    ],
)
def test_r_acc_2_state_on_each_boundary(today, age):
    """Does each boundary day (warning, expiry, end of grace) fall on the right side?"""
    assert password_state(CHANGED, today, **DEFAULTS).age is age


def test_r_acc_2_state_reports_days_left_and_suspension_day():
    """Does the state say how many days are left and from which day the ID is suspended?"""
    state = password_state(CHANGED, date(2026, 6, 20), **DEFAULTS)
    assert state.days_left == 10
    assert state.expires_on == date(2026, 6, 30)
    assert state.suspend_on == date(2026, 7, 30)


def test_r_acc_2_leap_year_counts_real_days():
    """Does the 180-day period count 29 February as a day?"""
    assert password_expires_on(date(2028, 1, 1), 180) == date(2028, 6, 29)


def test_r_acc_2_lapsed_cutoff_is_the_inverse_of_the_state():
    """Is a password lapsed on `today` exactly when it was changed before the cut-off day?"""
    today = date(2026, 12, 28)
    cutoff = lapsed_if_changed_before(today, max_age_days=180, grace_days=30)
    assert password_state(cutoff - timedelta(days=1), today, **DEFAULTS).age is PasswordAge.LAPSED
    assert password_state(cutoff, today, **DEFAULTS).age is PasswordAge.EXPIRED


def test_r_acc_2_zero_warning_and_grace_are_allowed():
    """With no warning and no grace, does the password go straight from valid to lapsed?"""
    config = dict(max_age_days=10, warn_days=0, grace_days=0)
    assert password_state(CHANGED, date(2026, 1, 10), **config).age is PasswordAge.VALID
    assert password_state(CHANGED, date(2026, 1, 11), **config).age is PasswordAge.LAPSED


@pytest.mark.parametrize(
    "config",
    [
        dict(max_age_days=0, warn_days=14, grace_days=30),
        dict(max_age_days=180, warn_days=-1, grace_days=30),
        dict(max_age_days=180, warn_days=14, grace_days=-5),
    ],
)
def test_impossible_periods_are_refused(config):
    """Is a zero maximum age or a negative period a ValueError rather than a silent answer?"""
    with pytest.raises(ValueError):
        password_state(CHANGED, date(2026, 3, 1), **config)


def test_datetimes_and_strings_are_refused():
    """Is a datetime or a string where a date belongs a TypeError?"""
    with pytest.raises(TypeError):
        password_expires_on(datetime(2026, 1, 1, 9, 0), 180)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        password_state(CHANGED, "2026-03-01", **DEFAULTS)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        password_expires_on(CHANGED, "180")  # type: ignore[arg-type]
