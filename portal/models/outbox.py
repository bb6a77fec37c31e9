"""Outbox: the durable record of work a job must do, written with the state change that asks for it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import now_utc
from portal.extensions import Model
from portal.models.types import UTCDateTime


class OutboxItem(Model):
    """pending → running → done | failed. A job claims a row with a conditional UPDATE, so a
    duplicate job finds nothing to do; the reconciler re-enqueues pending rows whose job is gone."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)  # sign | seal | mail | ...
    ref_id: Mapped[int] = mapped_column(index=True)  # the row the work is about (e.g. party id)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    job_id: Mapped[str] = mapped_column(String(80), unique=True)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who holds a running row: "rq:<job id>:<execution id>" (the execution RQ keeps in Redis while its
    # work-horse lives) or "pid:<host>:<pid>" outside RQ. A retry takes over a row whose holder is gone.
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
