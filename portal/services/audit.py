"""Append-only, hash-chained audit trail (R-CASE-4).

Each event stores the previous event's hash and the SHA-256 of its own canonical JSON (which includes
the previous hash), so removing, reordering or editing any row breaks the chain from there on.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, select, text

from portal.clock import now_utc
from portal.extensions import db
from portal.models import AuditEvent

GENESIS = "0" * 64
_CHAIN_LOCK = 7_420_001  # PostgreSQL advisory lock key: one writer extends the chain at a time


@dataclass(frozen=True)
class Actor:
    """Who did something, from where. Views build it from the request; jobs and CLI use SYSTEM."""

    user_id: int | None = None
    company_id: int | None = None
    ip: str | None = None
    user_agent: str | None = None


SYSTEM = Actor()


def _canonical(event: AuditEvent) -> bytes:
    body = {
        "action": event.action,
        "case_id": event.case_id,
        "case_number": event.case_number,
        "company_id": event.company_id,
        "user_id": event.user_id,
        "detail": event.detail,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "created_at": event.created_at.isoformat(),
        "prev_hash": event.prev_hash,
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def record(
    action: str,
    actor: Actor = SYSTEM,
    *,
    case_id: int | None = None,
    case_number: str | None = None,
    company_id: int | None = None,
    detail: dict | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one event to the chain (flushes; the caller commits)."""
    _lock_chain()
    prev = db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    instant = (now or now_utc()).replace(microsecond=0)
    event = AuditEvent(
        action=action,
        case_id=case_id,
        case_number=case_number,
        company_id=company_id if company_id is not None else actor.company_id,
        user_id=actor.user_id,
        detail=detail or {},
        ip=actor.ip,
        user_agent=(actor.user_agent or "")[:300] or None,
        created_at=instant,
        prev_hash=prev or GENESIS,
    )
    event.hash = hashlib.sha256(_canonical(event)).hexdigest()
    db.session.add(event)
    db.session.flush()
    return event


def _lock_chain() -> None:
    """Hold the chain until this transaction ends, so that no other writer, in this process or
    another one (gunicorn workers, RQ, cron), reads the same last hash and forks the chain.

    Reads elsewhere are not held up: PostgreSQL's advisory lock only stops other appenders, and
    SQLite in WAL mode lets readers read while the one writer writes."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # Taken before the head is read; in READ COMMITTED that read then sees the last holder's commit.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    elif connection.dialect.name == "sqlite" and not _sqlite(connection).in_transaction:
        # SQLite's lock is the database's single write lock. pysqlite opens a transaction only before
        # its first INSERT/UPDATE/DELETE, which takes that lock; before one, the head would be read
        # outside any transaction, so take the write lock now (waiting up to busy_timeout).
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite(connection: Connection) -> sqlite3.Connection:
    return cast(sqlite3.Connection, connection.connection.dbapi_connection)


def verify_chain(batch_size: int = 5000) -> list[str]:
    """Walk the whole chain in id order; return one message per broken link (empty: intact)."""
    problems: list[str] = []
    prev = GENESIS
    last_id = 0
    while True:
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch_size)
        ).all()
        if not rows:
            return problems
        for event in rows:
            if event.prev_hash != prev:
                problems.append(f"event {event.id}: previous hash does not match event before it")
            if hashlib.sha256(_canonical(event)).hexdigest() != event.hash:
                problems.append(f"event {event.id}: content does not match its hash")
            prev = event.hash
            last_id = event.id
            db.session.expunge(event)  # keep memory flat over millions of rows
