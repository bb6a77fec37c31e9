"""Helpers for the account tests (login, sessions, passwords, users, change requests).

The test client is conftest's FreshContextClient: each request runs in its own app context and
loads its user from the cookie and the database, like a real one."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, SentNotice
from tests import factories
from tests.conftest import FreshContextClient, csrf_token_from


def make_client(app) -> FreshContextClient:
    return app.test_client()


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
