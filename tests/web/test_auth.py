"""Login, logout and server-side sessions (R-ACC-1, 第7条1項, 第15条)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.clock import now_utc
from portal.extensions import db
from portal.models import LoginSession, User
from tests import factories
from tests.conftest import csrf_token_from
from tests.web.accounts_support import audit_actions, fresh, login, make_client, post, text

GENERIC = "ユーザーIDまたはパスワードが正しくありません。"


@pytest.fixture
def client(app):
    return make_client(app)


def _sessions(login_id: str) -> list[LoginSession]:
    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.login_id == login_id))
    return list(db.session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)))


def _cookie_session_id(client) -> str | None:
    with client.session_transaction() as session:
        return session.get("_user_id")


def test_r_acc_1_login_with_right_password_opens_a_session(client, company_a):
    """Does the right ID and password log in, with a server-side session whose id is in the cookie?"""
    response = login(client, "a-contact")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    sessions = _sessions("a-contact")
    assert len(sessions) == 1
    assert _cookie_session_id(client) == sessions[0].id
    assert client.get("/account/").status_code == 200


@pytest.mark.parametrize(
    ("login_id", "password"),
    [("a-contact", "wrong-password-123"), ("no-such-user", "wrong-password-123"), ("no-such-user", factories.PASSWORD)],
)
def test_r_acc_1_failure_message_never_says_whether_the_id_exists(client, company_a, login_id, password):
    """Do a wrong password and an unknown ID get the very same generic message, and no session?"""
    response = login(client, login_id, password)
    assert response.status_code == 200
    assert GENERIC in text(response)
    assert "存在" not in text(response)
    assert _cookie_session_id(client) is None
    assert db.session.scalar(select(LoginSession)) is None


def test_r_acc_1_login_audit_records_outcome_without_the_password(client, company_a):
    """Are success and failure both in the audit trail, and is the typed password nowhere in it?"""
    login(client, "a-contact", "Wrong-Secret-Typed-9")
    login(client, "a-contact")
    events = audit_actions("login.")
    assert [e.action for e in events] == ["login.failed", "login.succeeded"]
    assert events[0].ip and events[0].user_id is not None
    for event in events:
        dumped = repr(event.detail) + (event.user_agent or "")
        assert "Wrong-Secret-Typed-9" not in dumped and factories.PASSWORD not in dumped


def test_r_acc_1_every_login_gets_a_new_session_id(client, company_a):
    """Does logging in again issue a different session id rather than reusing the old one?"""
    login(client, "a-contact")
    first = _cookie_session_id(client)
    post(client, "/logout", page="/")
    login(client, "a-contact")
    second = _cookie_session_id(client)
    assert first and second and first != second
    assert len(_sessions("a-contact")) == 2


def test_r_acc_1_logout_ends_the_session_and_the_old_cookie_is_worthless(app, client, company_a):
    """After logout, does replaying the old session cookie get sent to the login page?"""
    login(client, "a-contact")
    old_cookie = client.get_cookie("session").value
    response = post(client, "/logout", page="/")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert _sessions("a-contact")[0].ended_at is not None

    replay = make_client(app)
    replay.set_cookie("session", old_cookie, domain="localhost")
    response = replay.get("/account/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_r_acc_1_idle_timeout_ends_the_session(app, client, company_a):
    """Is a session idle for longer than SESSION_IDLE_MINUTES refused and marked ended?"""
    login(client, "a-contact")
    session = _sessions("a-contact")[0]
    session.last_seen_at = now_utc() - timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    db.session.commit()
    response = client.get("/account/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert fresh(LoginSession, session.id).ended_at is not None


def test_r_acc_1_activity_within_the_idle_limit_keeps_the_session(app, client, company_a):
    """Does a session used a little before the idle limit stay alive (so the test above can fail)?"""
    login(client, "a-contact")
    session = _sessions("a-contact")[0]
    session.last_seen_at = now_utc() - timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] - 1)
    db.session.commit()
    assert client.get("/account/").status_code == 200
    assert fresh(LoginSession, session.id).last_seen_at > now_utc() - timedelta(minutes=1)


def test_r_acc_1_absolute_timeout_ends_even_an_active_session(app, client, company_a):
    """Is a session older than SESSION_ABSOLUTE_HOURS refused although it was used a minute ago?"""
    login(client, "a-contact")
    session = _sessions("a-contact")[0]
    session.created_at = now_utc() - timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"], minutes=1)
    session.last_seen_at = now_utc() - timedelta(minutes=1)
    db.session.commit()
    response = client.get("/account/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    ("status", "mode", "can_log_in"),
    [
        ("active", None, True),
        ("ended", None, True),  # read-only for three months (R-RET-3)
        ("suspended", "readonly", True),
        ("suspended", "blocked", False),
        ("deleted", None, False),
    ],
)
def test_r_adm_1_company_status_decides_who_may_log_in(client, company_a, status, mode, can_log_in):
    """May users of a blocked or deleted company log in? (Read-only companies may; blocked may not.)"""
    company_a.status, company_a.suspension_mode = status, mode
    db.session.commit()
    response = login(client, "a-contact")
    if can_log_in:
        assert response.status_code == 302
    else:
        assert response.status_code == 200
        assert "ログインできません" in text(response)
        assert _cookie_session_id(client) is None


def test_r_adm_1_blocking_a_company_ends_its_live_sessions(client, company_a):
    """Does a user already logged in lose access as soon as the company is suspended with login blocked?"""
    login(client, "a-contact")
    assert client.get("/account/").status_code == 200
    company_a.status, company_a.suspension_mode = "suspended", "blocked"
    db.session.commit()
    response = client.get("/account/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_disabled_user_is_refused_only_after_the_right_password(client, company_a):
    """Is a disabled ID told it is disabled when the password is right, but given the generic message otherwise?"""
    user = db.session.scalar(select(User).where(User.login_id == "a-member"))
    user.active = False
    db.session.commit()
    assert GENERIC in text(login(client, "a-member", "wrong-password-123"))
    body = text(login(client, "a-member"))
    assert "無効" in body and GENERIC not in body


def test_login_next_parameter_cannot_send_users_to_another_site(client, company_a):
    """Does ?next= only ever redirect within the portal?"""
    page = client.get("/login?next=//evil.example/")
    response = client.post(
        "/login?next=//evil.example/",
        data={"login_id": "a-contact", "password": factories.PASSWORD, "csrf_token": csrf_token_from(page)},
    )
    assert response.headers["Location"] == "/"
    post(client, "/logout", page="/")
    page = client.get("/login?next=/account/")
    response = client.post(
        "/login?next=/account/",
        data={"login_id": "a-contact", "password": factories.PASSWORD, "csrf_token": csrf_token_from(page)},
    )
    assert response.headers["Location"] == "/account/"


# --- bad input ------------------------------------------------------------------------------------


def test_login_without_csrf_token_is_refused(client, company_a):
    """Is a login form posted without its CSRF token refused with a Japanese 400 and no session?"""
    response = client.post("/login", data={"login_id": "a-contact", "password": factories.PASSWORD})
    assert response.status_code == 400
    assert "不正な送信" in text(response)
    assert _cookie_session_id(client) is None


def test_login_with_a_wrong_csrf_token_is_refused(client, company_a):
    """Is a forged CSRF token refused like a missing one?"""
    client.get("/login")
    response = client.post(
        "/login", data={"login_id": "a-contact", "password": factories.PASSWORD, "csrf_token": "forged-token"}
    )
    assert response.status_code == 400
    assert _cookie_session_id(client) is None


def test_logout_by_htmx_needs_the_csrf_header(client, company_a):
    """Does an htmx logout with a wrong X-CSRFToken header fail, and with the right one succeed?"""
    login(client, "a-contact")
    token = csrf_token_from(client.get("/"))
    refused = client.post("/logout", headers={"HX-Request": "true", "X-CSRFToken": "wrong"})
    assert refused.status_code == 400
    assert _sessions("a-contact")[0].ended_at is None
    accepted = client.post("/logout", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert accepted.status_code == 302
    assert _sessions("a-contact")[0].ended_at is not None


def test_logout_by_get_is_405(client, company_a):
    """Is GET /logout refused with 405 (logout changes state, so it must be a POST)?"""
    login(client, "a-contact")
    response = client.get("/logout")
    assert response.status_code == 405
    assert "この方法では操作できません" in text(response)
    assert _sessions("a-contact")[0].ended_at is None


@pytest.mark.parametrize(
    "data",
    [{}, {"login_id": "", "password": ""}, {"login_id": "a-contact"}, {"login_id": "x" * 65, "password": "p"}],
)
def test_malformed_login_form_shows_field_errors(client, company_a, data):
    """Are missing or oversized fields caught by the form, in Japanese, without a login attempt being audited?"""
    page = client.get("/login")
    response = client.post("/login", data={**data, "csrf_token": csrf_token_from(page)})
    assert response.status_code == 200
    assert 'class="error"' in text(response)
    assert audit_actions("login.") == []


def test_oversized_login_body_is_413(app, client, company_a):
    """Is a body over MAX_CONTENT_LENGTH refused with the Japanese 413 page?"""
    response = client.post("/login", data={"login_id": "a", "password": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)})
    assert response.status_code == 413
    assert "大きすぎます" in text(response)
