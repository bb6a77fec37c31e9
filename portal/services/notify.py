"""The single way the portal sends mail (第3条: a notice takes effect when it is sent).

Every message is first a `SentNotice` row; `sent_at` records when the mail server (or the file
backend in development) accepted it, `error` why it did not.

- In a web request, call `queue()`: it writes the row and an outbox item of kind "mail" in the
  request's transaction; the RQ job `portal.jobs.send_mail` delivers it after the commit
  (ARCHITECTURE: the web process never sends mail).
- In a job or a CLI command, `send()` records and delivers at once; if delivery fails, the notice
  is handed to the mail job so that RQ retries it.
- `deliver()` is what the job calls: it sends one recorded notice, at most once.

No secret is ever stored readable (ARCHITECTURE "Data and state"): a mail that carries a link with a
secret token (password reset or first password, application correction) is recorded with the token
masked (`SecretLink.masked_url()`: …/password/reset/••••). `deliver()` mints a fresh token for that
link at send time; the service that owns the link stores only the token's SHA-256. A retried delivery
mints again, so the row, the outbox item and Redis never hold the token, and the staff mail viewer
cannot show it. The mail itself (SMTP, or the file backend's folder in development) is the only copy.

Mail bodies are plain-text Japanese from templates in templates/mail/*.txt (`render()`); Flask does
not autoescape .txt templates, so nothing is HTML-escaped in them.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, render_template
from flask_mailman import EmailMessage
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.clock import now_utc
from portal.extensions import db, mail
from portal.models import Company, SentNotice
from portal.services import outbox

# kind → "module:function" called with the notice right after it was delivered, in the same
# transaction (e.g. the acceptance notice records Contract.acceptance_notified_at). Paths are
# strings so that this module imports no other service.
AFTER_SENT: dict[str, str] = {
    "acceptance": "portal.services.onboarding:acceptance_sent",
}

SUBJECT_PREFIX = "【Ukeoi】"

# What a stored body shows in place of a secret token.
MASK = "••••"
_PLACEHOLDER = "SECRETTOKENPLACEHOLDER"  # URL-safe, so the router leaves it as it is

# A link that carries a secret → (its endpoint, taking `token`; "module:function" called with the
# link's row id and the time, which mints a fresh token, stores its SHA-256 and returns the token).
SECRET_LINKS: dict[str, tuple[str, str]] = {
    "password": ("auth.reset_password", "portal.services.accounts:mint_password_token"),
    "correction": ("public.correction", "portal.services.onboarding:mint_correction_token"),
}

# Kind code → what staff read on the mail pages (list and detail). Unknown codes show as they are.
KIND_LABELS: dict[str, str] = {
    "application_received": "利用申込の受付",
    "application_resubmitted": "訂正後の利用申込の受付",
    "correction_requested": "利用申込の訂正のお願い",
    "application_rejected": "利用申込のお断り",
    "acceptance": "利用受諾通知",
    "password_reset": "パスワード再設定のご案内",
    "password_reset_suspended": "パスワード再設定（停止中のID）",
    "user_created": "ユーザーIDの発行",
    "user_suspended": "ユーザーIDの停止",
    "user_suspension_lifted": "ユーザーIDの停止解除",
    "change_request_reviewed": "変更の申込の審査結果",
    "company_suspended": "利用停止",
    "company_suspension_lifted": "利用停止の解除",
    "contract_ended": "利用契約の終了",
    "case_turn": "署名のお願い",
    "case_completed": "契約の締結",
    "case_returned": "案件の差戻し",
    "case_withdrawn": "案件の取消",
    "retention_warning_90": "保管期間満了の予告（90日前）",
    "retention_warning_30": "保管期間満了の予告（30日前）",
    "retention_delete_proposal": "削除合意のお願い",
    "integrity_alert": "保管原本の不一致の警告",
    "retimestamp_alert": "タイムスタンプ更新の警告",
}


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


@dataclass(frozen=True)
class SecretLink:
    """A link with a secret token in a mail: `kind` names it in SECRET_LINKS, `ref_id` its row.

    The body is rendered with `masked_url()`; the real token exists only from delivery on."""

    kind: str
    ref_id: int

    def masked_url(self) -> str:
        endpoint, _minter = SECRET_LINKS[self.kind]
        return public_url(endpoint, token=_PLACEHOLDER).replace(_PLACEHOLDER, MASK)


class MailDeliveryFailed(Exception):
    """The mail server (or the file backend) did not take the message; `notice.error` says why."""


def render(template: str, **context: Any) -> str:
    """A plain-text body from templates/mail/<template> (no HTML escaping for .txt), followed by
    the common footer (mail/_footer.txt) that every notice carries."""
    body = render_template(f"mail/{template}", **context).strip()
    return body + "\n" + render_template("mail/_footer.txt").rstrip() + "\n"


def public_url(endpoint: str, **values: Any) -> str:
    """An absolute link for a mail, built from PUBLIC_BASE_URL (no request needed)."""
    base = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https")
    return adapter.build(endpoint, values, force_external=True)


def queue(
    kind: str,
    to: str,
    subject: str,
    body: str,
    company_id: int | None = None,
    case_id: int | None = None,
    dedupe_key: str | None = None,
    now: datetime | None = None,
    secret_link: SecretLink | None = None,
) -> SentNotice:
    """Record a notice and ask the mail job to send it once the caller commits.

    With a `dedupe_key` already used, returns that notice and queues nothing. A `secret_link` is
    minted at delivery in place of its masked URL in `body`.
    """
    notice, created = _record(kind, to, subject, body, company_id, case_id, dedupe_key, now, secret_link)
    if created:
        outbox.add("mail", notice.id)
    return notice


def queue_to_contacts(
    company: Company, kind: str, subject: str, body: str, dedupe_key: str | None = None,
    now: datetime | None = None,
) -> None:
    """`queue` the notice to each active contact person (申請担当者) of `company`; with `dedupe_key`,
    each person's notice is deduplicated on it plus their user id."""
    for user in company.users:
        if user.role == "contact" and user.active:
            key = f"{dedupe_key}-u{user.id}" if dedupe_key else None
            queue(kind, user.email, subject, body, company_id=company.id, dedupe_key=key, now=now)


def send(
    kind: str,
    to: str,
    subject: str,
    body: str,
    company_id: int | None = None,
    case_id: int | None = None,
    dedupe_key: str | None = None,
    now: datetime | None = None,
    secret_link: SecretLink | None = None,
) -> SentNotice:
    """Record a notice and deliver it now (jobs and CLI; never in a web request).

    A second call with the same `dedupe_key` returns the existing notice and sends nothing more
    (an existing notice that was never delivered is delivered now). If delivery fails, `error`
    is recorded and the notice is queued for the mail job, which retries it.
    """
    notice, _created = _record(kind, to, subject, body, company_id, case_id, dedupe_key, now, secret_link)
    if notice.sent_at is not None:
        return notice
    try:
        deliver(notice, now=now)
    except MailDeliveryFailed:
        outbox.add("mail", notice.id)
    return notice


def deliver(notice: SentNotice, now: datetime | None = None) -> SentNotice:
    """Send one recorded notice unless it was already sent; records `sent_at` or `error`.

    A notice with a secret link gets a token minted now (a retry mints another; the job's rollback
    drops the hash of a token whose mail did not go). Raises MailDeliveryFailed (after recording the
    error) so that a job can be retried.
    """
    if notice.sent_at is not None:
        return notice
    now = now or now_utc()
    config = current_app.config
    message = EmailMessage(
        subject=notice.subject,
        body=_body_to_send(notice, now),
        from_email=config["MAIL_DEFAULT_SENDER"],
        to=[notice.recipient],
        headers={"X-Ukeoi-Notice": str(notice.id), "X-Ukeoi-Kind": notice.kind},
        connection=_connection(),
    )
    try:
        count = message.send()
        if count != 1:
            raise MailDeliveryFailed("the mail backend accepted no message")
    except Exception as exc:  # every transport error becomes a recorded, retryable failure
        notice.error = f"{type(exc).__name__}: {exc}"[:2000]
        db.session.flush()
        raise MailDeliveryFailed(notice.error) from exc
    notice.sent_at = now
    notice.error = None
    _after_sent(notice)
    db.session.flush()
    return notice


def record_error(notice_id: int, error: BaseException) -> None:
    """Note a failed delivery after the job's transaction was rolled back (flushes)."""
    notice = db.session.get(SentNotice, notice_id)
    if notice is not None and notice.sent_at is None:
        notice.error = f"{type(error).__name__}: {error}"[:2000]
        db.session.flush()


def _body_to_send(notice: SentNotice, now: datetime) -> str:
    """The stored body, with its masked secret link (if any) made real by a freshly minted token."""
    if notice.link_kind is None or notice.link_ref is None:
        return notice.body
    _endpoint, minter_path = SECRET_LINKS[notice.link_kind]
    minter: Callable[[int, datetime], str] = _resolve(minter_path)
    # The link is the last mask in the body: free text above it (a staff note) cannot take its place.
    head, _mask, tail = notice.body.rpartition(MASK)
    return head + minter(notice.link_ref, now) + tail


def backend_name() -> str:
    """"smtp" or "file" (set by create_app from MAIL_SERVER)."""
    return str(current_app.config.get("MAIL_BACKEND") or "file")


def _connection():
    """A backend built from the current config (read at send time, so tests and the worker agree)."""
    config = current_app.config
    if backend_name() == "smtp":
        return mail.get_connection(
            backend="smtp",
            host=config["MAIL_SERVER"],
            port=config["MAIL_PORT"],
            username=config.get("MAIL_USERNAME"),
            password=config.get("MAIL_PASSWORD"),
            use_tls=config.get("MAIL_USE_TLS"),
            timeout=config.get("MAIL_TIMEOUT"),
        )
    return mail.get_connection(backend="file", file_path=config["MAIL_FILE_PATH"])


def _record(
    kind: str,
    to: str,
    subject: str,
    body: str,
    company_id: int | None,
    case_id: int | None,
    dedupe_key: str | None,
    now: datetime | None,
    secret_link: SecretLink | None = None,
) -> tuple[SentNotice, bool]:
    if secret_link is not None and secret_link.masked_url() not in body:
        raise ValueError("a notice with a secret link must show its masked_url() in the body")
    if dedupe_key is not None:
        existing = db.session.scalar(select(SentNotice).where(SentNotice.dedupe_key == dedupe_key))
        if existing is not None:
            return existing, False
    notice = SentNotice(
        kind=kind,
        recipient=to,
        subject=_subject(subject),
        body=body,
        company_id=company_id,
        case_id=case_id,
        dedupe_key=dedupe_key,
        created_at=now or now_utc(),
        link_kind=secret_link.kind if secret_link else None,
        link_ref=secret_link.ref_id if secret_link else None,
    )
    if dedupe_key is None or db.session.get_bind().dialect.name != "postgresql":
        # SQLite has one writer at a time, and pysqlite's SAVEPOINT would commit early; a rare
        # duplicate there fails the flush and the job's retry finds the existing row.
        db.session.add(notice)
        db.session.flush()
        return notice, True
    try:
        with db.session.begin_nested():  # a concurrent writer may take the same key first
            db.session.add(notice)
    except IntegrityError:
        existing = db.session.scalar(select(SentNotice).where(SentNotice.dedupe_key == dedupe_key))
        if existing is None:
            raise
        return existing, False
    return notice, True


def _subject(subject: str) -> str:
    subject = " ".join(subject.split())  # headers are one line
    if not subject.startswith(SUBJECT_PREFIX):
        subject = SUBJECT_PREFIX + subject
    return subject[:200]


def _after_sent(notice: SentNotice) -> None:
    path = AFTER_SENT.get(notice.kind)
    if path is None:
        return
    hook: Callable[[SentNotice], None] = _resolve(path)
    hook(notice)


def _resolve(path: str) -> Callable:
    """The function a "module:function" path names (services are named by path, never imported here)."""
    module_name, func_name = path.split(":")
    return getattr(importlib.import_module(module_name), func_name)
