"""The browser's session around login and logout: a CSRF token issued before either is refused after
it, nothing planted in the session before a login survives it (session fixation), and the cookies are
Secure with the __Host- prefix whenever the portal is served over https."""
from __future__ import annotations

import pytest

from config import TestConfig
from portal import create_app
from tests import factories
from tests.conftest import csrf_token_from
from tests.web.accounts_support import login, make_client


@pytest.fixture
def client(app):
    return make_client(app)


def _logout(client, token: str):
    return client.post("/logout", data={"csrf_token": token})


def test_a_csrf_token_issued_before_login_is_refused_after_it(client, company_a):
    """Is the form token of the login page (which an attacker could have fixed) refused once the user
    has logged in, leaving them logged in — while a token from a page after the login works?"""
    before = csrf_token_from(client.get("/login"))
    credentials = {"login_id": "a-member", "password": factories.PASSWORD}
    response = client.post("/login", data={**credentials, "csrf_token": before})
    assert response.status_code == 302
    refused = _logout(client, before)
    assert refused.status_code == 400
    assert client.get("/account/").status_code == 200  # still logged in: the forged logout changed nothing
    assert _logout(client, csrf_token_from(client.get("/account/"))).status_code == 302


def test_a_csrf_token_issued_while_logged_in_is_refused_after_logout(client, company_a):
    """Is a token from a logged-in page refused on the public forms once the user has logged out?"""
    login(client, "a-member")
    during = csrf_token_from(client.get("/account/"))
    assert _logout(client, during).status_code == 302
    again = client.post("/login", data={"login_id": "a-member", "password": factories.PASSWORD, "csrf_token": during})
    assert again.status_code == 400
    assert client.post("/password/forgot", data={"identifier": "a-member", "csrf_token": during}).status_code == 400


def test_login_starts_an_empty_session_keeping_nothing_planted_before(client, company_a):
    """Does a login drop whatever the session held before it (a planted value, the CSRF secret) and
    hold only the new login?"""
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
        csrf_before = session["csrf_token"]
    assert login(client, "a-member").status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("csrf_token") != csrf_before
        assert session["_user_id"]


class HttpsConfig(TestConfig):
    PUBLIC_BASE_URL = "https://ukeoi.example.jp"


def _session_cookie(response) -> str:
    [header] = [value for value in response.headers.getlist("Set-Cookie") if "session=" in value]
    return header


def test_over_https_the_session_cookie_is_secure_with_the_host_prefix():
    """With an https PUBLIC_BASE_URL, is the session cookie named __Host-session and sent Secure,
    HttpOnly, Path=/ and without Domain (what browsers demand of the prefix) — and the remember
    cookie set up the same way?"""
    https_app = create_app(HttpsConfig)
    response = https_app.test_client().get("/login", base_url="https://ukeoi.example.jp")
    header = _session_cookie(response)
    assert header.startswith("__Host-session=")
    attributes = [part.strip().lower() for part in header.split(";")[1:]]
    assert "secure" in attributes and "httponly" in attributes and "path=/" in attributes
    assert not any(part.startswith("domain=") for part in attributes)
    assert https_app.config["REMEMBER_COOKIE_NAME"].startswith("__Host-")
    assert https_app.config["REMEMBER_COOKIE_SECURE"] is True


def test_over_http_the_session_cookie_is_plain_so_make_run_works(client):
    """With an http PUBLIC_BASE_URL (make run on 127.0.0.1), is the cookie a plain `session` without
    Secure, so that the browser sends it back at all?"""
    header = _session_cookie(client.get("/login"))
    assert header.startswith("session=")
    assert "secure" not in header.lower() and "__host-" not in header.lower()
