"""Purge runs and tombstones (R-RET-4), continued storage (R-RET-1)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import now_utc
from portal.extensions import Model
from portal.models.types import UTCDateTime


class PurgeRun(Model):
    __tablename__ = "purge_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_on: Mapped[date]  # the "today" the rules were applied with
    dry_run: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_cases: Mapped[int] = mapped_column(default=0)
    deleted_companies: Mapped[int] = mapped_column(default=0)
    deleted_objects: Mapped[int] = mapped_column(default=0)
    errors: Mapped[list] = mapped_column(JSON, default=list)


class PurgeRecord(Model):
    """Tombstone of a deleted case or company: what, which rule, the dates that made it due — no content."""

    __tablename__ = "purge_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("purge_runs.id"), index=True)
    subject: Mapped[str] = mapped_column(String(10))  # case | company
    case_number: Mapped[str | None] = mapped_column(String(20), index=True)
    company_id: Mapped[int | None]
    parties: Mapped[list] = mapped_column(JSON, default=list)  # [{"company_id", "name"}]
    rule: Mapped[str] = mapped_column(String(40))
    dates: Mapped[dict] = mapped_column(JSON, default=dict)
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class ContinuedStorage(Model):
    """継続保管 (第11条の2): requested by a party, effective once staff record the fee as paid."""

    __tablename__ = "continued_storage"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    years: Mapped[int]
    fee: Mapped[int]  # yen, without tax
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    extended_until: Mapped[date | None]
    note: Mapped[str | None] = mapped_column(Text)
