"""Cases (案件, R-CASE-1..2): one contract between two or more companies, signed in order."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import now_utc
from portal.extensions import Model
from portal.models.types import UTCDateTime

if TYPE_CHECKING:
    from portal.models.company import Company

# draft → waiting → complete, plus returned and withdrawn (ARCHITECTURE "Data and state").
CASE_STATUSES = ("draft", "waiting", "returned", "withdrawn", "complete")
STATUS_LABELS = {
    "draft": "下書き",
    "waiting": "署名待ち",
    "returned": "差戻し",
    "withdrawn": "取消",
    "complete": "完了",
}

# What each stored version of a document is, for people (staff's case page); "signed" names its party.
DOCUMENT_ROLE_LABELS = {
    "main": "登録時の原本",
    "attachment": "添付書類",
    "prepared": "署名前（署名欄付き）",
    "signed": "第{position}署名済み",
    "sealed": "全員署名済み・長期署名",
}


class Case(Model):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_purge", "purge_due_on", "legal_hold"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    originator_company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default="draft", index=True)
    current_position: Mapped[int | None]  # the party whose turn it is, while waiting
    revision: Mapped[int] = mapped_column(default=1)  # a returned case re-sent is a new revision
    version: Mapped[int] = mapped_column(default=1)  # optimistic lock

    # 建設業法 第19条1項 items
    construction_name: Mapped[str] = mapped_column(String(200))
    construction_site: Mapped[str] = mapped_column(String(300))
    period_start: Mapped[date]
    period_end: Mapped[date]
    amount_excl_tax: Mapped[int] = mapped_column(BigInteger, index=True)
    tax_amount: Mapped[int] = mapped_column(BigInteger)
    amount_incl_tax: Mapped[int] = mapped_column(BigInteger, index=True)
    payment_terms: Mapped[str] = mapped_column(Text)
    notes: Mapped[str] = mapped_column(Text, default="")
    checklist: Mapped[dict] = mapped_column(JSON, default=dict)  # other 19条1項 items → covered?
    contract_date: Mapped[date | None] = mapped_column(index=True)  # 契約日 (取引年月日)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    last_update: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_on: Mapped[date | None] = mapped_column(index=True)  # JST day of completion
    return_reason: Mapped[str | None] = mapped_column(Text)
    returned_by_company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extended_until: Mapped[date | None]  # 継続保管 bought up to and including this day
    legal_hold: Mapped[bool] = mapped_column(default=False)
    # Denormalised from rules/retention.py on every change so the purge finds due cases by index.
    purge_due_on: Mapped[date | None]

    parties: Mapped[list[Party]] = relationship(
        back_populates="case", order_by="Party.position", cascade="all, delete-orphan"
    )
    documents: Mapped[list[Document]] = relationship(
        back_populates="case", order_by="Document.id", cascade="all, delete-orphan"
    )
    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="case", order_by="Delivery.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


class Party(Model):
    __tablename__ = "parties"
    __table_args__ = (
        # Named explicitly: the convention's uq_<table>_<first column> would give both the same name.
        UniqueConstraint("case_id", "position", name="uq_parties_case_id_position"),
        UniqueConstraint("case_id", "company_id", name="uq_parties_case_id_company_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    position: Mapped[int]  # 1-based signing order
    company_name: Mapped[str] = mapped_column(String(200))  # as on the contract, kept after purge
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | signing | signed
    consent_text_version: Mapped[str | None] = mapped_column(String(20))
    consented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consented_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signer_name: Mapped[str | None] = mapped_column(String(100))
    certificate_serial: Mapped[str | None] = mapped_column(String(64))
    # Why the last signing attempt was refused for good (e.g. a revoked certificate); shown to the party.
    sign_error: Mapped[str | None] = mapped_column(Text)
    delete_agreed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 削除合意

    case: Mapped[Case] = relationship(back_populates="parties")
    company: Mapped[Company] = relationship()

    @property
    def field_name(self) -> str:
        return f"Party{self.position}"


class Document(Model):
    """A PDF of a case; the bytes live in the store under their SHA-256 (R-STORE-1)."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # main | attachment (uploaded or generated) | prepared (main + empty signature fields, the base
    # of a revision's signatures) | signed (after party signed_by_position) | sealed (B-LTA, final)
    role: Mapped[str] = mapped_column(String(12))
    label: Mapped[str] = mapped_column(String(100), default="")  # 契約書, 約款, 見積書, 図面 …
    filename: Mapped[str] = mapped_column(String(255), default="")
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    page_count: Mapped[int]
    revision: Mapped[int] = mapped_column(default=1)
    signed_by_position: Mapped[int | None]  # for role=signed: after which party's signature
    # A draft's document replaced or removed before sending: the row and the bytes stay (evidence).
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    # role=sealed: when the certificate of the TSA behind the file's newest document timestamp expires;
    # the re-timestamp job (services/archive.py) renews the archive before then. NULL: not read yet.
    timestamp_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship(back_populates="documents")

    @property
    def role_label(self) -> str:
        return DOCUMENT_ROLE_LABELS[self.role].format(position=self.signed_by_position or "")


class Delivery(Model):
    """One revision of a case sent to one party's company (R-STORE-4): what that company may read.

    A party reads the documents of the revisions it was sent, as they were sent; a draft's removed or
    replaced file, and a revision sent only to the parties before a party change, stay the
    originator's. Kept after a party change or a return: what was sent stays sent.
    """

    __tablename__ = "case_deliveries"
    __table_args__ = (
        UniqueConstraint("case_id", "revision", "company_id", name="uq_case_deliveries_case_id_revision_company_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int]
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    case: Mapped[Case] = relationship(back_populates="deliveries")
