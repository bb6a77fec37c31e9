"""The one place that reads the clock. Rules take dates as parameters; services default to these.

Legal dates are Asia/Tokyo calendar days; instants are stored as UTC.
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


def now_utc() -> datetime:
    return datetime.now(UTC)


def today_jst() -> date:
    return datetime.now(JST).date()


def to_jst(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(JST)


def jst_date(instant: datetime) -> date:
    return to_jst(instant).date()


def japanese_date(day: date) -> str:
    """A calendar day as the portal's Japanese text writes it: 2027年4月1日."""
    return f"{day.year}年{day.month}月{day.day}日"
