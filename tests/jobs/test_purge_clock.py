"""Thirteen years, day by day (R-RET-1, R-RET-2, R-RET-4): the daily jobs run with `today` moving
one day at a time, and each case must go on exactly its day, with the warnings on exactly theirs."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from portal.clock import JST
from portal.extensions import db
from portal.models import Case, PurgeRecord, SentNotice
from portal.services import purge, retention
from tests import factories

START, END = date(2027, 1, 1), date(2039, 12, 31)


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=JST).astimezone(UTC)


@pytest.mark.slow
def test_r_ret_1_r_ret_2_r_ret_4_ten_years_day_by_day(company_a, company_b, staff_user):
    """Is every case deleted on its exact day — completed on 29 February, on a month's last day,
    extended by continued storage, incomplete (and updated once), and never while held — and does
    each warning go out on its day, once, even though the warning job runs twice a day?"""
    a, b = company_a, company_b
    contact_a = next(u for u in a.users if u.role == "contact")
    contact_b = next(u for u in b.users if u.role == "contact")
    made: dict[str, int] = {}
    numbers: dict[str, str] = {}

    def complete(name: str, completed: date) -> None:
        case = factories.case([a, b], status="complete", completed_on=completed)
        made[name], numbers[name] = case.id, case.number

    # What happens on which day (as users and staff would do it), before that day's jobs run.
    events = {
        date(2027, 2, 1): lambda: complete("held", date(2027, 2, 1)),
        date(2027, 4, 15): lambda: complete("extended", date(2027, 4, 15)),
        date(2027, 7, 1): lambda: _draft("draft", datetime(2027, 6, 30, 15, 0, tzinfo=UTC)),  # 00:00 JST 1 July
        date(2027, 7, 2): lambda: _draft("touched", datetime(2027, 7, 2, 3, 0, tzinfo=UTC)),
        date(2027, 8, 31): lambda: complete("month_end", date(2027, 8, 31)),
        date(2027, 12, 20): lambda: _touch("touched", datetime(2027, 12, 20, 1, 0, tzinfo=UTC)),
        date(2028, 2, 29): lambda: complete("leap", date(2028, 2, 29)),
        date(2036, 12, 1): lambda: _hold(made["held"], staff_user),
        date(2037, 2, 1): lambda: _buy_storage(made["extended"], contact_a, staff_user, 2, date(2037, 2, 1)),
    }

    def _draft(name: str, last_update: datetime) -> None:
        case = factories.case([a, b], status="draft", last_update=last_update)
        made[name], numbers[name] = case.id, case.number

    def _touch(name: str, when: datetime) -> None:
        case = db.session.get(Case, made[name])
        case.last_update = when
        retention.refresh_purge_due(case)

    expected_deletion = {
        "draft": date(2028, 7, 2),  # last update 2027-07-01 JST + 1 year + 1 day
        "touched": date(2028, 12, 21),  # moved by the update on 2027-12-20
        "month_end": date(2037, 9, 1),
        "leap": date(2038, 3, 1),  # anniversary of 29 Feb 2028 in 2038 is 28 Feb
        "extended": date(2039, 4, 16),  # 10 + 2 years from 2027-04-15
    }
    expected_warnings = {
        ("held", 90, date(2036, 11, 4)),  # held afterwards: no 30-day warning
        ("extended", 90, date(2037, 1, 16)),  # for the first date, before the storage was bought
        ("extended", 90, date(2039, 1, 16)),
        ("extended", 30, date(2039, 3, 17)),
        ("month_end", 90, date(2037, 6, 3)),
        ("month_end", 30, date(2037, 8, 2)),
        ("leap", 90, date(2037, 12, 1)),
        ("leap", 30, date(2038, 1, 30)),
    }

    deleted_on: dict[str, date] = {}
    sent: list[tuple[str, int, date, str]] = []
    last_notice = 0
    day = START
    while day <= END:
        if day in events:
            events[day]()
            db.session.commit()
        purge.send_retention_warnings(day, now=_at(day, 8))
        purge.send_retention_warnings(day, now=_at(day, 9))  # a second run must send nothing new
        db.session.commit()
        by_id = {case_id: name for name, case_id in made.items()}
        for notice in db.session.scalars(select(SentNotice).where(SentNotice.id > last_notice).order_by(SentNotice.id)):
            last_notice = notice.id
            if notice.kind.startswith("retention_warning"):
                kind = int(notice.kind.rsplit("_", 1)[1])
                sent.append((by_id[notice.case_id], kind, notice.created_at.astimezone(JST).date(), notice.recipient))
        purge.run(today=day, now=_at(day, 3))
        for name, case_id in made.items():
            if name not in deleted_on and db.session.get(Case, case_id) is None:
                deleted_on[name] = day
        db.session.expire_all()
        day += timedelta(days=1)

    assert deleted_on == expected_deletion
    assert db.session.get(Case, made["held"]) is not None

    assert {(name, kind, on) for name, kind, on, _ in sent} == expected_warnings
    assert sorted(sent) == sorted(  # each to both parties' contacts, exactly once
        (name, kind, on, user.email) for name, kind, on in expected_warnings for user in (contact_a, contact_b)
    )

    records = dict(db.session.execute(select(PurgeRecord.case_number, PurgeRecord.rule)).all())
    assert records == {
        numbers["draft"]: "incomplete_stale",
        numbers["touched"]: "incomplete_stale",
        numbers["month_end"]: "completed_retention",
        numbers["leap"]: "completed_retention",
        numbers["extended"]: "completed_retention",
    }


def _hold(case_id: int, staff) -> None:
    retention.set_legal_hold(db.session.get(Case, case_id), staff, True, "訴訟のため保全")


def _buy_storage(case_id: int, user, staff, years: int, today: date) -> None:
    case = db.session.get(Case, case_id)
    request = retention.request_continued_storage(case, user, years, today=today)
    retention.record_continued_storage_paid(request, staff, today=today)
