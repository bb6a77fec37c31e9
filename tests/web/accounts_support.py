"""Helpers for the account tests (login, sessions, passwords, users, change requests).

`FreshContextClient` runs every request in its own app context, as production does. The shared
fixtures keep one app context pushed for the whole test (`ctx`), and Flask reuses it for the test
client's requests, so `g` would carry Flask-Login's loaded user from one request to the next: a
logout, timeout or disabled account would then look like it still worked. With a fresh context
per request, each request loads its user from the cookie and the database like a real one; the
test reads the database through its own session, so it calls `fresh()` after requests.
"""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, SentNotice
from tests import factories
from tests.conftest import csrf_token_from


class FreshContextClient(FlaskClient):
    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def make_client(app) -> FreshContextClient:
    return FreshContextClient(app, app.response_class, use_cookies=True)


def login(client, login_id: str, password: str = factories.PASSWORD, **kwargs):
    page = client.get("/login")
    assert page.status_code == 200, page.status_code
    return client.post(
        "/login", data={"login_id": login_id, "password": password, "csrf_token": csrf_token_from(page)}, **kwargs
    )


def post(client, url: str, data: dict | None = None, page: str = "/account/", **kwargs):
    """POST `data` to `url` with the CSRF token of `page` (a page the user can open)."""
    shown = client.get(page)
    assert shown.status_code == 200, (page, shown.status_code)
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token_from(shown)}, **kwargs)


def fresh(model, ident):
    """The row as the database has it now (requests commit through their own session)."""
    db.session.expire_all()
    return db.session.get(model, ident)


def mails(kind: str | None = None) -> list[SentNotice]:
    db.session.expire_all()
    query = select(SentNotice).order_by(SentNotice.id)
    if kind:
        query = query.where(SentNotice.kind == kind)
    return list(db.session.scalars(query))


def audit_actions(prefix: str = "") -> list[AuditEvent]:
    db.session.expire_all()
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
    return [event for event in events if event.action.startswith(prefix)]


def text(response) -> str:
    return response.get_data(as_text=True)


def link_token(body: str) -> str:
    match = re.search(r"/password/reset/([A-Za-z0-9_\-]+)", body)
    assert match, "mail has no reset link"
    return match.group(1)
