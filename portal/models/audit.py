"""Append-only, hash-chained audit trail (R-CASE-4)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import now_utc
from portal.extensions import Model
from portal.models.types import UTCDateTime


class AuditEvent(Model):
    """Each row stores the hash of the previous row and of its own canonical JSON.

    Ids (not foreign keys) name the case, company and user, so that the trail outlives a purge.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    case_id: Mapped[int | None] = mapped_column(index=True)
    case_number: Mapped[str | None] = mapped_column(String(20))
    company_id: Mapped[int | None] = mapped_column(index=True)
    user_id: Mapped[int | None]
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
