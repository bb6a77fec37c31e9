"""Users, passwords and login sessions (R-ACC-1, R-ACC-2, 第7条, 第15条)."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select

from portal.clock import now_utc
from portal.extensions import db
from portal.models import LoginSession, User

# argon2id with the library's RFC 9106 low-memory profile (64 MiB, 3 passes): fine on a small server.
_hasher = PasswordHasher()
# Verifying against this keeps the time of "no such user" equal to "wrong password".
_DUMMY_HASH = _hasher.hash("not-a-real-password-0000")


class LoginFailed(Exception):
    """Wrong ID or password, or an account that may not log in; the message never says which."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    try:
        ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    if ok and user is not None and _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return ok and user is not None


def start_session(user: User, ip: str | None, user_agent: str | None, now: datetime | None = None) -> LoginSession:
    """A brand-new server-side session for each login (no fixation)."""
    now = now or now_utc()
    session = LoginSession(
        id=secrets.token_urlsafe(32),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        ip=ip,
        user_agent=(user_agent or "")[:300] or None,
    )
    db.session.add(session)
    db.session.flush()
    user.login_session = session  # type: ignore[attr-defined]
    return session


def end_session(session_id: str, now: datetime | None = None) -> None:
    session = db.session.get(LoginSession, session_id)
    if session is not None and session.ended_at is None:
        session.ended_at = now or now_utc()


def end_all_sessions(user: User, now: datetime | None = None) -> None:
    now = now or now_utc()
    for session in db.session.scalars(
        select(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
    ):
        session.ended_at = now


def session_expired(session: LoginSession, now: datetime) -> bool:
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    absolute = timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"])
    return session.ended_at is not None or now - session.last_seen_at > idle or now - session.created_at > absolute


def load_session(session_id: str, now: datetime | None = None) -> User | None:
    """The user of a live session, or None when it ended, idled out or outlived its absolute limit."""
    now = now or now_utc()
    session = db.session.get(LoginSession, session_id)
    if session is None:
        return None
    if session_expired(session, now):
        if session.ended_at is None:
            session.ended_at = now
            db.session.commit()
        return None
    user = session.user
    if not user.active or user.suspended_at is not None:
        return None
    if now - session.last_seen_at > timedelta(seconds=60):  # one write a minute, not per request
        session.last_seen_at = now
        db.session.commit()
    user.login_session = session  # type: ignore[attr-defined]
    return user


def create_staff(login_id: str, name: str, email: str, password: str, role: str = "staff") -> User:
    """A staff user (staff or staff_admin); staff belong to no company."""
    if role not in ("staff", "staff_admin"):
        raise ValueError(f"not a staff role: {role}")
    user = User(
        login_id=login_id,
        name=name,
        email=email,
        role=role,
        password_hash=hash_password(password),
        must_change_password=False,
    )
    db.session.add(user)
    db.session.flush()
    return user
