"""The single way the portal sends mail (第3条: a notice takes effect when it is sent).

Every message is first a `SentNotice` row; `sent_at` records when the mail server (or the file
backend in development) accepted it, `error` why it did not.

- In a web request, call `queue()`: it writes the row and an outbox item of kind "mail" in the
  request's transaction; the RQ job `portal.jobs.send_mail` delivers it after the commit
  (ARCHITECTURE: the web process never sends mail).
- In a job or a CLI command, `send()` records and delivers at once; if delivery fails, the notice
  is handed to the mail job so that RQ retries it.
- `deliver()` is what the job calls: it sends one recorded notice, at most once.

Mail bodies are plain-text Japanese from templates in templates/mail/*.txt (`render()`); Flask does
not autoescape .txt templates, so nothing is HTML-escaped in them.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
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
) -> SentNotice:
    """Record a notice and ask the mail job to send it once the caller commits.

    With a `dedupe_key` already used, returns that notice and queues nothing.
    """
    notice, created = _record(kind, to, subject, body, company_id, case_id, dedupe_key, now)
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
) -> SentNotice:
    """Record a notice and deliver it now (jobs and CLI; never in a web request).

    A second call with the same `dedupe_key` returns the existing notice and sends nothing more
    (an existing notice that was never delivered is delivered now). If delivery fails, `error`
    is recorded and the notice is queued for the mail job, which retries it.
    """
    notice, _created = _record(kind, to, subject, body, company_id, case_id, dedupe_key, now)
    if notice.sent_at is not None:
        return notice
    try:
        deliver(notice, now=now)
    except MailDeliveryFailed:
        outbox.add("mail", notice.id)
    return notice


def deliver(notice: SentNotice, now: datetime | None = None) -> SentNotice:
    """Send one recorded notice unless it was already sent; records `sent_at` or `error`.

    Raises MailDeliveryFailed (after recording the error) so that a job can be retried.
    """
    if notice.sent_at is not None:
        return notice
    config = current_app.config
    message = EmailMessage(
        subject=notice.subject,
        body=notice.body,
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
    notice.sent_at = now or now_utc()
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
) -> tuple[SentNotice, bool]:
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
    module_name, func_name = path.split(":")
    hook: Callable[[SentNotice], None] = getattr(importlib.import_module(module_name), func_name)
    hook(notice)
