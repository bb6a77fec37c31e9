"""Retention dates of cases (R-RET-1, R-RET-2), kept on the row so the purge can find due cases by index."""
from __future__ import annotations

from datetime import date

from portal.clock import jst_date
from portal.models import Case
from portal.rules.retention import completed_case_delete_on, incomplete_case_delete_on


def due_date(case: Case) -> date:
    """The first day on which `case` may be deleted under the rules of 第11条の2 / 第11条の3."""
    if case.status == "complete":
        assert case.completed_on is not None, "a complete case has a completion day"
        return completed_case_delete_on(case.completed_on, case.extended_until)
    return incomplete_case_delete_on(jst_date(case.last_update))


def refresh_purge_due(case: Case) -> None:
    """Call after every change of status, last_update, completion or extension."""
    case.purge_due_on = due_date(case)
