"""Users, passwords and login sessions (R-ACC-1, R-ACC-2, 第7条, 第15条).

Login: `authenticate` checks the password and whether the ID may log in now, and writes the audit
record either way; `start_session` opens a new server-side session. Passwords: `change_password`,
the emailed single-use links (`request_password_reset` for a forgotten one, `issue_setup_link` for
a first password; both used through `reset_password`), expiry and the nightly suspension
(`suspend_expired_passwords`) that staff lift (`lift_suspension`). Users of a company:
`create_company_user`, `disable_user`, `enable_user`.

No password is ever mailed: a link's token is minted by the mail job when it delivers the mail
(`mint_password_token`), and only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, time, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import func, select, update

from portal.clock import JST, japanese_date, jst_date, now_utc, today_jst
from portal.extensions import db
from portal.models import Company, LoginSession, PasswordReset, User
from portal.rules import passwords as password_rules
from portal.rules import validators
from portal.services import audit, notify
from portal.services.audit import SYSTEM, Actor
from portal.services.email_addresses import email_address
from portal.services.errors import DomainError, NotFound, StateConflict, ValidationFailed

# argon2id with the library's RFC 9106 low-memory profile (64 MiB, 3 passes): fine on a small server.
_hasher = PasswordHasher()
# Verifying against this keeps the time of "no such user" equal to "wrong password".
_DUMMY_HASH = _hasher.hash("not-a-real-password-0000")

COMPANY_ROLES = ("contact", "member")
ROLE_LABELS = {"contact": "申請担当者", "member": "一般利用者", "staff": "運営スタッフ", "staff_admin": "運営管理者"}


class LoginFailed(Exception):
    """Wrong ID or password; the message never says which."""


class LoginRefused(DomainError):
    """The password was right but this ID may not log in now (disabled, suspended, contract blocked).

    Only someone who knows the password sees this, so saying why leaks nothing to a guesser."""

    status = 403


class PasswordRejected(ValidationFailed):
    """The new password breaks the rules; `problems` are Japanese messages for the form field."""

    def __init__(self, problems: list[str], field: str = "new_password"):
        super().__init__(problems[0])
        self.problems = problems
        self.field = field


class ResetLinkInvalid(DomainError):
    """An unknown, used or expired reset link: refused, nothing changed."""

    status = 400

    def __init__(self) -> None:
        super().__init__(
            "このリンクは使用済みか、有効期限が切れています。お手数ですが、もう一度パスワードの再設定をお申し込みください。"
        )


class InvalidFields(ValidationFailed):
    """Per-field problems: `errors` maps a form field name to a Japanese message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(next(iter(errors.values())))
        self.errors = errors


# --- hashing -------------------------------------------------------------------------------------


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


def unknown_password_hash() -> str:
    """The hash of a random password nobody is told: the ID is usable only after a set-password link.

    A real argon2 hash (not a marker) keeps a login attempt as slow as against any other ID."""
    return hash_password(secrets.token_urlsafe(32))


def temporary_password() -> str:
    """A random temporary password (16 URL-safe characters, ~96 bits) that passes the rules."""
    while True:
        candidate = secrets.token_urlsafe(12)
        if not validators.password_problems(candidate, "", validators.load_common_passwords()):
            return candidate


# --- login -----------------------------------------------------------------------------------------


def refusal_reason(user: User) -> str | None:
    """Why this user may not be logged in now, in Japanese; None when they may.

    Read-only companies (ended, or suspended read-only) may log in: writes are refused elsewhere."""
    if not user.active:
        return "このユーザーIDは無効になっています。申請担当者にお問い合わせください。"
    if user.suspended_at is not None:
        return (
            "パスワードが有効期限を過ぎたまま猶予期間が経過したため、このユーザーIDは停止されています。"
            "運営事務局に停止の解除をお申し付けください。"
        )
    company = user.company
    if company is not None:
        if company.status == "deleted":
            return "ご契約は終了し、データは削除されています。ログインできません。"
        if company.status == "suspended" and company.suspension_mode != "readonly":
            return "ご契約は現在利用停止中のため、ログインできません。運営事務局にお問い合わせください。"
    return None


def find_by_login_id(login_id: str) -> User | None:
    return db.session.scalar(select(User).where(User.login_id == login_id.strip()))


def authenticate(login_id: str, password: str, actor: Actor = SYSTEM, now: datetime | None = None) -> User:
    """The user whose ID and password these are, if they may log in; audit records either outcome.

    Raises LoginFailed (wrong ID or password, never saying which) or LoginRefused (right password,
    but the ID is disabled, suspended, or its company is blocked). The password is never recorded."""
    now = now or now_utc()
    user = find_by_login_id(login_id)
    ok = verify_password(user, password)
    if user is None or not ok:
        audit.record(
            "login.failed",
            Actor(user_id=user.id if user else None, ip=actor.ip, user_agent=actor.user_agent),
            company_id=user.company_id if user else None,
            detail={"reason": "wrong_password" if user else "unknown_id"},
            now=now,
        )
        raise LoginFailed()
    reason = refusal_reason(user)
    user_actor = Actor(user_id=user.id, company_id=user.company_id, ip=actor.ip, user_agent=actor.user_agent)
    if reason is not None:
        audit.record("login.refused", user_actor, detail={"reason": reason}, now=now)
        raise LoginRefused(reason)
    audit.record("login.succeeded", user_actor, now=now)
    return user


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


def end_all_sessions(user: User, now: datetime | None = None, keep: str | None = None) -> int:
    """End every live session of `user` except `keep`; returns how many ended."""
    now = now or now_utc()
    query = update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
    if keep is not None:
        query = query.where(LoginSession.id != keep)
    result = db.session.execute(query.values(ended_at=now).execution_options(synchronize_session="fetch"))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def session_expired(session: LoginSession, now: datetime) -> bool:
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    absolute = timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"])
    return session.ended_at is not None or now - session.last_seen_at > idle or now - session.created_at > absolute


def load_session(session_id: str, now: datetime | None = None) -> User | None:
    """The user of a live session, or None when it ended, idled out or outlived its absolute limit,
    or the user may no longer log in (disabled, suspended, company blocked)."""
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
    if refusal_reason(user) is not None:
        return None
    if now - session.last_seen_at > timedelta(seconds=60):  # one write a minute, not per request
        session.last_seen_at = now
        db.session.commit()
    user.login_session = session  # type: ignore[attr-defined]
    return user


# --- password expiry (R-ACC-2) -------------------------------------------------------------------


def password_state(user: User, today: date | None = None) -> password_rules.PasswordState:
    config = current_app.config
    return password_rules.password_state(
        jst_date(user.password_changed_at),
        today or today_jst(),
        max_age_days=config["PASSWORD_MAX_AGE_DAYS"],
        warn_days=config["PASSWORD_WARN_DAYS"],
        grace_days=config["PASSWORD_GRACE_DAYS"],
    )


def password_change_reason(user: User, today: date | None = None) -> str | None:
    """Why the user must set a new password before anything else: "temporary" (first login with a
    temporary password), "expired" (R-ACC-2), or None when they may carry on."""
    if user.must_change_password:
        return "temporary"
    if password_state(user, today).age in (password_rules.PasswordAge.EXPIRED, password_rules.PasswordAge.LAPSED):
        return "expired"
    return None


def expiry_warning(user: User, today: date | None = None) -> password_rules.PasswordState | None:
    """The state to show in the banner while the password expires soon; None otherwise."""
    if user.must_change_password:
        return None
    state = password_state(user, today)
    return state if state.age is password_rules.PasswordAge.WARNING else None


# --- password change and reset (第15条4項, 5項) -----------------------------------------------------


def password_problems(login_id: str, password: str) -> list[str]:
    """What is wrong with `password` as the new password of `login_id` (≥10 characters, not the ID,
    not a common password; no composition rules)."""
    return validators.password_problems(password, login_id, validators.load_common_passwords())


def _set_password(user: User, new_password: str, now: datetime) -> None:
    problems = password_problems(user.login_id, new_password)
    if problems:
        raise PasswordRejected(problems)
    if verify_password(user, new_password):
        raise PasswordRejected(["今までと同じパスワードは使えません。新しいパスワードにしてください"])
    user.password_hash = hash_password(new_password)
    user.password_changed_at = now
    user.must_change_password = False


def change_password(
    user: User,
    current_password: str,
    new_password: str,
    *,
    keep_session: str | None = None,
    actor: Actor = SYSTEM,
    now: datetime | None = None,
) -> None:
    """Set a new password after checking the current one; every other session of the user ends."""
    now = now or now_utc()
    if not verify_password(user, current_password):
        raise PasswordRejected(["現在のパスワードが正しくありません"], field="current_password")
    _set_password(user, new_password, now)
    ended = end_all_sessions(user, now, keep=keep_session)
    audit.record("password.changed", actor, detail={"other_sessions_ended": ended}, now=now)
    db.session.flush()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _reset_candidates(identifier: str) -> list[User]:
    text = identifier.strip()
    if not text or len(text) > 254:
        return []
    if "@" in text:
        return list(db.session.scalars(select(User).where(func.lower(User.email) == text.lower()).order_by(User.id)))
    user = find_by_login_id(text)
    return [user] if user else []


def request_password_reset(identifier: str, actor: Actor = SYSTEM, now: datetime | None = None) -> int:
    """Email a single-use reset link to the user(s) with this login ID or email address.

    The caller shows the same answer whatever happens, so nobody learns whether an ID exists.
    The token is minted when the mail is sent and only its SHA-256 is stored; the link is built from
    PUBLIC_BASE_URL, never from the request's Host header. Returns how many mails were queued (for
    tests, never for the page)."""
    now = now or now_utc()
    minutes = current_app.config["PASSWORD_RESET_MINUTES"]
    sent = 0
    for user in _reset_candidates(identifier):
        reason = refusal_reason(user)
        if reason is not None and user.suspended_at is None:
            continue  # disabled IDs and blocked companies get nothing
        user_actor = Actor(user_id=user.id, company_id=user.company_id, ip=actor.ip, user_agent=actor.user_agent)
        if user.suspended_at is not None:
            # A reset would bypass the staff review that lifting a suspension needs: explain instead.
            notify.queue(
                "password_reset_suspended",
                user.email,
                "【Ukeoi】パスワード再設定のお申し込みについて",
                notify.render("account_reset_suspended.txt", user=user),
                company_id=user.company_id,
            )
            audit.record("password.reset_refused", user_actor, detail={"reason": "suspended"}, now=now)
            sent += 1
            continue
        link = _new_password_link(user, "reset", now)
        notify.queue(
            "password_reset",
            user.email,
            "【Ukeoi】パスワード再設定のご案内",
            notify.render("account_password_reset.txt", user=user, minutes=minutes, link=link.masked_url()),
            company_id=user.company_id,
            secret_link=link,
        )
        audit.record("password.reset_requested", user_actor, now=now)
        sent += 1
    db.session.flush()
    return sent


LINK_PURPOSES = ("reset", "setup")


def _link_lifetime(purpose: str) -> timedelta:
    config = current_app.config
    if purpose == "setup":
        return timedelta(hours=config["PASSWORD_SETUP_HOURS"])
    return timedelta(minutes=config["PASSWORD_RESET_MINUTES"])


def _new_password_link(user: User, purpose: str, now: datetime) -> notify.SecretLink:
    """A pending single-use link for `user` (no token yet: the mail job mints it at delivery).

    An older link of the user stops working now, whatever its purpose."""
    if purpose not in LINK_PURPOSES:
        raise ValueError(f"unknown password link purpose {purpose!r}")
    db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    link = PasswordReset(
        user_id=user.id, purpose=purpose, token_hash=None, created_at=now, expires_at=now + _link_lifetime(purpose)
    )
    db.session.add(link)
    db.session.flush()
    return notify.SecretLink("password", link.id)


def issue_setup_link(user: User, now: datetime | None = None) -> notify.SecretLink:
    """A set-password link for a user who has no password of their own yet (a new contact person,
    an ID whose suspension staff lifted). Render it with `masked_url()` and queue it with the mail;
    it lives PASSWORD_SETUP_HOURS from delivery. Once expired, the user asks for a reset link."""
    return _new_password_link(user, "setup", now or now_utc())


def mint_password_token(link_id: int, now: datetime) -> str:
    """notify's minter for "password" links: a fresh token whose SHA-256 the link stores, valid for
    its lifetime from now (the mail's delivery). A retried delivery mints again and the earlier
    token stops working. A link already used or voided gets a token that opens nothing."""
    token = secrets.token_urlsafe(32)
    link = db.session.get(PasswordReset, link_id)
    if link is not None and link.used_at is None:
        link.token_hash = _token_hash(token)
        link.expires_at = now + _link_lifetime(link.purpose)
        db.session.flush()
    return token


def reset_link_user(token: str, now: datetime | None = None) -> User:
    """The user a reset link is for, if the link is unused and unexpired; ResetLinkInvalid otherwise."""
    now = now or now_utc()
    if not token or len(token) > 128:
        raise ResetLinkInvalid()
    reset = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _token_hash(token)))
    if reset is None or reset.used_at is not None or reset.expires_at <= now:
        raise ResetLinkInvalid()
    user = db.session.get(User, reset.user_id)
    if user is None or refusal_reason(user) is not None:
        raise ResetLinkInvalid()
    return user


def reset_password(token: str, new_password: str, actor: Actor = SYSTEM, now: datetime | None = None) -> User:
    """Use a reset link once: set the new password (rules apply) and end every session of the user.

    A replayed or expired link raises ResetLinkInvalid and changes nothing; a rejected password
    raises PasswordRejected and leaves the link usable."""
    now = now or now_utc()
    user = reset_link_user(token, now)
    _set_password(user, new_password, now)
    # The conditional UPDATE makes the link single-use even when two requests race.
    claimed = db.session.execute(
        update(PasswordReset)
        .where(
            PasswordReset.token_hash == _token_hash(token),
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > now,
        )
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        raise ResetLinkInvalid()
    ended = end_all_sessions(user, now)
    user_actor = Actor(user_id=user.id, company_id=user.company_id, ip=actor.ip, user_agent=actor.user_agent)
    purpose = db.session.scalar(select(PasswordReset.purpose).where(PasswordReset.token_hash == _token_hash(token)))
    action = "password.set" if purpose == "setup" else "password.reset"
    audit.record(action, user_actor, detail={"sessions_ended": ended}, now=now)
    db.session.flush()
    return user


# --- the nightly suspension and staff lifting it (第15条5項) --------------------------------------------


def suspend_expired_passwords(today: date | None = None, now: datetime | None = None) -> list[int]:
    """Suspend every company user whose password stayed expired past the grace period. Idempotent.

    Staff IDs are not suspended (they would lock the operator out); they are forced to change at
    login like everyone else. Returns the ids of the users suspended now."""
    today = today or today_jst()
    now = now or now_utc()
    config = current_app.config
    cutoff_day = password_rules.lapsed_if_changed_before(
        today, max_age_days=config["PASSWORD_MAX_AGE_DAYS"], grace_days=config["PASSWORD_GRACE_DAYS"]
    )
    cutoff = datetime.combine(cutoff_day, time.min, tzinfo=JST)
    users = db.session.scalars(
        select(User)
        .where(
            User.company_id.is_not(None),
            User.active.is_(True),
            User.suspended_at.is_(None),
            User.password_changed_at < cutoff,
        )
        .order_by(User.id)
    ).all()
    suspended: list[int] = []
    for user in users:
        state = password_state(user, today)
        if state.age is not password_rules.PasswordAge.LAPSED:
            continue
        user.suspended_at = now
        end_all_sessions(user, now)
        audit.record(
            "user.suspended",
            SYSTEM,
            company_id=user.company_id,
            detail={"user_id": user.id, "reason": "password_expired", "expired_on": state.expires_on.isoformat()},
            now=now,
        )
        notify.queue(
            "user_suspended",
            user.email,
            "【Ukeoi】ユーザーIDの利用を停止しました",
            notify.render("account_suspended.txt", user=user, expired_on=japanese_date(state.expires_on)),
            company_id=user.company_id,
            dedupe_key=f"user_suspended:{user.id}:{state.expires_on.isoformat()}",
        )
        suspended.append(user.id)
    db.session.flush()
    return suspended


def suspended_users() -> list[User]:
    return list(db.session.scalars(select(User).where(User.suspended_at.is_not(None)).order_by(User.suspended_at)))


def lift_suspension(user_id: int, actor: Actor, now: datetime | None = None) -> User:
    """Staff lift a password-expiry suspension: the expired password stops working and the user is
    mailed a set-password link (never a password); the password age restarts now, so the nightly job
    does not suspend the ID again before they set one."""
    now = now or now_utc()
    user = db.session.get(User, user_id)
    if user is None or user.company_id is None:
        raise NotFound("指定されたユーザーが見つかりません。")
    if user.suspended_at is None:
        raise StateConflict("このユーザーIDは停止されていません。")
    user.suspended_at = None
    user.password_hash = unknown_password_hash()
    user.password_changed_at = now
    user.must_change_password = True
    end_all_sessions(user, now)
    audit.record("user.suspension_lifted", actor, company_id=user.company_id, detail={"user_id": user.id}, now=now)
    link = issue_setup_link(user, now)
    notify.queue(
        "user_suspension_lifted",
        user.email,
        "【Ukeoi】ユーザーIDの停止を解除しました（パスワード設定のお願い）",
        notify.render(
            "account_suspension_lifted.txt",
            user=user,
            link=link.masked_url(),
            hours=current_app.config["PASSWORD_SETUP_HOURS"],
            login_url=notify.public_url("auth.login"),
        ),
        company_id=user.company_id,
        secret_link=link,
    )
    db.session.flush()
    return user


# --- users of a company (第7条: the contact person manages them) -------------------------------------

_LOGIN_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def company_users(company: Company) -> list[User]:
    return list(db.session.scalars(select(User).where(User.company_id == company.id).order_by(User.id)))


def get_company_user(company: Company, user_id: int) -> User:
    """A user of `company`; NotFound (404) for any other id, so other companies' ids reveal nothing."""
    user = db.session.get(User, user_id)
    if user is None or user.company_id != company.id:
        raise NotFound("指定されたユーザーが見つかりません。")
    return user


def _login_id_taken(login_id: str) -> bool:
    return bool(db.session.scalar(select(func.count()).where(func.lower(User.login_id) == login_id.lower())))


def _generated_login_id() -> str:
    while True:
        candidate = f"u{secrets.randbelow(10**7):07d}"
        if not _login_id_taken(candidate):
            return candidate


def check_login_id(login_id: str) -> str:
    """A chosen login ID: 4–32 letters, digits, '.', '_' or '-', starting with a letter or digit, unused."""
    text = login_id.strip()
    if not 4 <= len(text) <= 32:
        raise InvalidFields({"login_id": "ユーザーIDは4文字以上32文字以内で入力してください"})
    if not set(text) <= _LOGIN_ID_CHARS or not text[0].isalnum():
        raise InvalidFields({"login_id": "ユーザーIDは半角英数字と「.」「_」「-」で、英数字から始めてください"})
    if _login_id_taken(text):
        raise InvalidFields({"login_id": "このユーザーIDは既に使われています。別のIDにしてください"})
    return text


def create_company_user(
    company: Company,
    *,
    name: str,
    email: str,
    role: str = "member",
    login_id: str | None = None,
    department: str | None = None,
    phone: str | None = None,
    notify_user: bool = False,
    actor: Actor = SYSTEM,
    now: datetime | None = None,
) -> tuple[User, str]:
    """A new user of `company` with a temporary password that must be changed at first login.

    Returns the user and the temporary password, which the caller shows once (or mails) and never
    stores. With `notify_user`, the new user is emailed their ID (not the password)."""
    now = now or now_utc()
    errors: dict[str, str] = {}
    if role not in COMPANY_ROLES:
        errors["role"] = "権限を選んでください"
    clean_name = (name or "").strip()
    if not clean_name or len(clean_name) > 100:
        errors["name"] = "氏名を100文字以内で入力してください"
    try:
        clean_email = email_address(email or "")
    except ValueError as exc:
        errors["email"] = str(exc)
    try:
        chosen = check_login_id(login_id) if login_id and login_id.strip() else _generated_login_id()
    except InvalidFields as exc:
        errors.update(exc.errors)
    if errors:
        raise InvalidFields(errors)
    password = temporary_password()
    user = User(
        company_id=company.id,
        login_id=chosen,
        name=clean_name,
        email=clean_email,
        department=(department or "").strip() or None,
        phone=phone or None,
        role=role,
        password_hash=hash_password(password),
        password_changed_at=now,
        must_change_password=True,
        created_at=now,
    )
    db.session.add(user)
    db.session.flush()
    audit.record(
        "user.created",
        actor,
        company_id=company.id,
        detail={"user_id": user.id, "login_id": chosen, "role": role},
        now=now,
    )
    if notify_user:
        notify.queue(
            "user_created",
            user.email,
            "【Ukeoi】ユーザーIDを発行しました",
            notify.render(
                "account_user_created.txt", user=user, company=company, login_url=notify.public_url("auth.login")
            ),
            company_id=company.id,
        )
    return user, password


def disable_user(company: Company, user_id: int, actor: Actor, now: datetime | None = None) -> User:
    """Disable a user of `company`: never the last active one, never the last active contact person."""
    now = now or now_utc()
    user = get_company_user(company, user_id)
    if not user.active:
        raise StateConflict("このユーザーは既に無効になっています。")
    others = [u for u in company_users(company) if u.active and u.id != user.id]
    if not others:
        raise StateConflict("最後の有効なユーザーは無効にできません。")
    if user.role == "contact" and not any(u.role == "contact" for u in others):
        raise StateConflict(
            "有効な申請担当者がいなくなるため無効にできません。先に別の申請担当者のユーザーを作成してください。"
        )
    user.active = False
    end_all_sessions(user, now)
    audit.record("user.disabled", actor, company_id=company.id, detail={"user_id": user.id}, now=now)
    return user


def enable_user(company: Company, user_id: int, actor: Actor, now: datetime | None = None) -> User:
    now = now or now_utc()
    user = get_company_user(company, user_id)
    if user.active:
        raise StateConflict("このユーザーは既に有効です。")
    user.active = True
    audit.record("user.enabled", actor, company_id=company.id, detail={"user_id": user.id}, now=now)
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
