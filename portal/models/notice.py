"""Terms versions (第2条), notices and maintenance windows, and the record of every notice sent (第3条)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import now_utc
from portal.extensions import Model
from portal.models.types import UTCDateTime


class TermsVersion(Model):
    __tablename__ = "terms_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(20), unique=True)
    effective_on: Mapped[date]
    summary: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class SentNotice(Model):
    """Every email the portal sends: a notice counts as given when it is sent (第3条)."""

    __tablename__ = "sent_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    # One notice per (kind, key): a job that runs twice sends nothing the second time.
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    # A body with a secret link holds it masked (notify.MASK): delivery mints a fresh token for the row
    # `link_ref` through notify.SECRET_LINKS[link_kind], so no readable secret is ever stored here.
    link_kind: Mapped[str | None] = mapped_column(String(40))
    link_ref: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    error: Mapped[str | None] = mapped_column(Text)
