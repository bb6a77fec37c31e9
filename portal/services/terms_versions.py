"""Terms versions (第2条, R-ADM-3): the version in force is the newest whose effective date has come."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from portal.clock import today_jst
from portal.extensions import db
from portal.models import TermsVersion

INITIAL_VERSION = "2026-11"


def current(today: date | None = None) -> TermsVersion:
    today = today or today_jst()
    version = db.session.scalar(
        select(TermsVersion).where(TermsVersion.effective_on <= today).order_by(TermsVersion.effective_on.desc())
    )
    return version or ensure_initial()


def ensure_initial() -> TermsVersion:
    version = db.session.scalar(select(TermsVersion).where(TermsVersion.version == INITIAL_VERSION))
    if version is None:
        version = TermsVersion(version=INITIAL_VERSION, effective_on=date(2026, 11, 1), summary="初版")
        db.session.add(version)
        db.session.flush()
    return version
