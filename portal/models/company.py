"""Companies (契約者), their contract and terms, users, sessions, certificates and change requests."""
from __future__ import annotations

from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import JSON, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import now_utc
from portal.extensions import Model
from portal.models.types import UTCDateTime

COMPANY_STATUSES = ("active", "suspended", "ended", "deleted")
ROLES = ("contact", "member", "staff", "staff_admin")


class Company(Model):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    corporate_number: Mapped[str] = mapped_column(String(13), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_kana: Mapped[str] = mapped_column(String(200))
    license_number: Mapped[str | None] = mapped_column(String(40))
    postal_code: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(300))
    representative_name: Mapped[str] = mapped_column(String(100))
    representative_title: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20))
    plan: Mapped[str] = mapped_column(String(20), default="standard")
    # active | suspended | ended (read-only for 3 months) | deleted (R-RET-3)
    status: Mapped[str] = mapped_column(String(12), default="active", index=True)
    # While suspended: "readonly" lets users log in and read, "blocked" refuses login (R-ADM-1).
    suspension_mode: Mapped[str | None] = mapped_column(String(10))
    terms_version: Mapped[str] = mapped_column(String(20))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    users: Mapped[list[User]] = relationship(back_populates="company", order_by="User.id")
    contract: Mapped[Contract | None] = relationship(back_populates="company", uselist=False)

    @property
    def is_read_only(self) -> bool:
        return self.status == "ended" or (self.status == "suspended" and self.suspension_mode == "readonly")


class Contract(Model):
    """The 利用契約 of a company (第11条): terms renew yearly until opt-out, cancellation or termination."""

    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), unique=True)
    start_date: Mapped[date]
    acceptance_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    renewal_opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancellation_arrived_on: Mapped[date | None]
    cancellation_wished_on: Mapped[date | None]
    ends_on: Mapped[date | None] = mapped_column(index=True)  # scheduled last day, when known
    ended_on: Mapped[date | None] = mapped_column(index=True)  # the day it actually ended
    end_reason: Mapped[str | None] = mapped_column(String(20))  # expired | cancelled | terminated
    termination_grounds: Mapped[list | None] = mapped_column(JSON)
    termination_note: Mapped[str | None] = mapped_column(Text)
    data_delete_on: Mapped[date | None] = mapped_column(index=True)  # post_termination_delete_on

    company: Mapped[Company] = relationship(back_populates="contract")
    terms: Mapped[list[ContractTerm]] = relationship(back_populates="contract", order_by="ContractTerm.start_date")


class ContractTerm(Model):
    """One yearly term of a contract; auto-renewal adds the next row (idempotent by start date)."""

    __tablename__ = "contract_terms"
    __table_args__ = (UniqueConstraint("contract_id", "start_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    start_date: Mapped[date]
    end_date: Mapped[date]

    contract: Mapped[Contract] = relationship(back_populates="terms")


class User(UserMixin, Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    login_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    department: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(12))  # contact | member | staff | staff_admin
    password_hash: Mapped[str] = mapped_column(String(200))
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    must_change_password: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)
    # Set when the password stayed expired past the grace period (R-ACC-2); staff lift it.
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    company: Mapped[Company | None] = relationship(back_populates="users")

    def get_id(self) -> str:
        """Flask-Login keeps the server-side session id in the cookie, never the user id."""
        return self.login_session.id  # type: ignore[attr-defined]

    @property
    def is_staff(self) -> bool:
        return self.role in ("staff", "staff_admin")

    @property
    def is_active(self) -> bool:  # Flask-Login: inactive users cannot log in
        return self.active


class LoginSession(Model):
    """Server-side session: the cookie holds only its random id, so logout and timeouts really end it."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    user: Mapped[User] = relationship()


class PasswordReset(Model):
    """A single-use link to set a password: "reset" (第15条4項, asked for by the user) or "setup" (a
    new contact person's first password, or after staff lifted a suspension). Only the SHA-256 of the
    token is stored, and only once the mail job minted it at delivery (NULL until then)."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(10), default="reset", server_default="reset")
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Certificate(Model):
    """A company's signing certificate (第16条, R-ACC-4); the key is stored encrypted."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(String(400))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    cert_pem: Mapped[str] = mapped_column(Text)
    key_pem_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(10), default="valid")  # valid | revoked
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class ChangeRequest(Model):
    """利用変更申込 (第7条3項) and registration changes (第17条), reviewed by staff; history kept."""

    __tablename__ = "change_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20))  # contact | registration
    changes: Mapped[dict] = mapped_column(JSON)  # field -> {"old": ..., "new": ...}
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    company: Mapped[Company] = relationship()
