"""利用申込 (第6条): the public application and its review."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import now_utc
from portal.extensions import Model
from portal.models.types import UTCDateTime

APPLICATION_STATUSES = ("pending", "correction_requested", "rejected", "accepted")


class Application(Model):
    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_number: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(24), default="pending", index=True)

    company_name: Mapped[str] = mapped_column(String(200))
    company_name_kana: Mapped[str] = mapped_column(String(200))
    corporate_number: Mapped[str] = mapped_column(String(13), index=True)
    license_number: Mapped[str | None] = mapped_column(String(40))
    postal_code: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(300))
    representative_name: Mapped[str] = mapped_column(String(100))
    representative_title: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20))
    contact_name: Mapped[str] = mapped_column(String(100))
    contact_department: Mapped[str | None] = mapped_column(String(100))
    contact_email: Mapped[str] = mapped_column(String(254))
    contact_phone: Mapped[str] = mapped_column(String(20))
    plan: Mapped[str] = mapped_column(String(20))
    antisocial_declared: Mapped[bool]
    terms_version: Mapped[str] = mapped_column(String(20))
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime)

    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)
    # Correction (訂正依頼): the applicant gets a link whose token is stored hashed.
    correction_note: Mapped[str | None] = mapped_column(Text)
    correction_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The one-time token of the form this application was sent from (hashed): the same form sent again
    # (Back, then 申し込む) is refused instead of becoming a second application.
    submission_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    rejection_grounds: Mapped[list | None] = mapped_column(JSON)  # codes of 第6条3項 (1)-(7)
    rejection_note: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", use_alter=True))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    start_date: Mapped[date | None]
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", use_alter=True))
