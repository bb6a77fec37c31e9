"""The forgotten-password reset link (R-ACC-1, 第15条4項): same answer for every input, a single-use
expiring link emailed, its token minted when the mail is sent and only its hash stored, every session
ended after use."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.clock import now_utc
from portal.extensions import db
from portal.models import LoginSession, OutboxItem, PasswordReset, SentNotice, User
from portal.services import accounts
from tests import factories
from tests.conftest import csrf_token_from
from tests.mail_tools import delivered_body, link_token
from tests.web.accounts_support import audit_actions, login, mails, make_client, text

NEW_PASSWORD = "fresh passphrase after reset"


@pytest.fixture
def client(app):
    return make_client(app)


@pytest.fixture
def requested_token(app, client, run_jobs):
    """Ask for a reset link, let the mail job deliver it, and return the token the user received."""

    def request(login_id: str = "a-member") -> str:
        _forgot(client, login_id)
        run_jobs()
        return link_token(delivered_body(app, "password_reset"))

    return request


def _user(login_id: str) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.login_id == login_id))


def _forgot(client, identifier: str, **kwargs):
    page = client.get("/password/forgot")
    return client.post(
        "/password/forgot", data={"identifier": identifier, "csrf_token": csrf_token_from(page)}, **kwargs
    )


def _reset(client, token: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    page = client.get(f"/password/reset/{token}")
    assert page.status_code == 200, text(page)
    return client.post(
        f"/password/reset/{token}",
        data={
            "new_password": password,
            "new_password_confirm": confirm or password,
            "csrf_token": csrf_token_from(page),
        },
    )


def _strip_csrf(body: str) -> str:
    return "\n".join(line for line in body.splitlines() if "csrf" not in line)


def test_r_acc_1_forgot_form_answers_the_same_for_known_and_unknown_input(client, company_a):
    """Do an existing ID, an existing email, an unknown ID and an unknown email get the identical page?"""
    member = _user("a-member")
    answers = [_forgot(client, value) for value in ("a-member", member.email, "nobody-here", "nobody@example.jp")]
    assert {answer.status_code for answer in answers} == {200}
    bodies = {_strip_csrf(text(answer)) for answer in answers}
    assert len(bodies) == 1
    assert len(mails("password_reset")) == 2  # only the two real ones were mailed


def test_r_acc_1_reset_token_is_minted_at_delivery_and_stored_only_hashed(app, client, company_a, run_jobs):
    """Before delivery, does the database hold no token at all (the body shows the link masked)? After
    it, does the mailed token appear nowhere in the database, which holds only its SHA-256?"""
    _forgot(client, "a-member")
    [notice] = mails("password_reset")
    assert notice.recipient == _user("a-member").email
    assert "http://localhost/password/reset/••••" in notice.body
    assert db.session.scalar(select(PasswordReset)).token_hash is None

    run_jobs()
    token = link_token(delivered_body(app, "password_reset"))
    [stored] = db.session.scalars(select(PasswordReset)).all()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    db.session.expire_all()
    assert token not in db.session.get(SentNotice, notice.id).body
    assert all(token not in str(item.payload) for item in db.session.scalars(select(OutboxItem)))


def test_r_acc_1_reset_link_sets_the_password_and_ends_every_session(app, client, company_a, requested_token):
    """Does using the link set the new password, mark the link used and log the user out everywhere?"""
    logged_in = make_client(app)
    login(logged_in, "a-member")
    token = requested_token()
    response = _reset(client, token)
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    user = _user("a-member")
    assert accounts.verify_password(user, NEW_PASSWORD)
    assert user.must_change_password is False
    assert db.session.scalar(select(PasswordReset)).used_at is not None
    assert all(s.ended_at is not None for s in db.session.scalars(select(LoginSession)))
    assert logged_in.get("/account/").status_code == 302
    assert login(client, "a-member", NEW_PASSWORD).status_code == 302
    assert "password.reset" in [e.action for e in audit_actions("password.")]


def test_r_acc_1_reset_link_is_single_use(client, company_a, requested_token):
    """Is a link refused with a clear Japanese page the second time, changing nothing?"""
    token = requested_token()
    _reset(client, token)
    after_first = _user("a-member").password_hash
    replay_page = client.get(f"/password/reset/{token}")
    assert replay_page.status_code == 400
    assert "使用済みか、有効期限が切れています" in text(replay_page)
    # A replayed POST (form kept open in another tab) is refused as well.
    token_page = client.get("/password/forgot")
    replay = client.post(
        f"/password/reset/{token}",
        data={
            "new_password": "another passphrase here",
            "new_password_confirm": "another passphrase here",
            "csrf_token": csrf_token_from(token_page),
        },
    )
    assert replay.status_code == 400
    assert _user("a-member").password_hash == after_first


def test_r_acc_1_reset_link_expires(app, client, company_a, requested_token):
    """Is a link older than PASSWORD_RESET_MINUTES refused, and the password unchanged?"""
    token = requested_token()
    reset = db.session.scalar(select(PasswordReset))
    reset.expires_at = now_utc() - timedelta(seconds=1)
    db.session.commit()
    before = _user("a-member").password_hash
    page = client.get(f"/password/reset/{token}")
    assert page.status_code == 400
    assert "有効期限が切れています" in text(page)
    assert _user("a-member").password_hash == before


def test_r_acc_1_reset_link_expiry_is_the_configured_minutes(app, client, company_a, requested_token):
    """Does a new link live exactly PASSWORD_RESET_MINUTES from the moment its mail was sent?"""
    requested_token()
    reset = db.session.scalar(select(PasswordReset))
    sent_at = db.session.scalar(select(SentNotice.sent_at).where(SentNotice.kind == "password_reset"))
    assert reset.expires_at - sent_at == timedelta(minutes=app.config["PASSWORD_RESET_MINUTES"])


def test_unknown_and_malformed_tokens_are_refused(client, company_a):
    """Is a made-up or absurdly long token refused with the same 400 page?"""
    for token in ("made-up-token", "x" * 500):
        response = client.get(f"/password/reset/{token}")
        assert response.status_code == 400
        assert "使用済みか、有効期限が切れています" in text(response)


def test_weak_password_on_reset_is_refused_and_the_link_stays_usable(client, company_a, requested_token):
    """Does the reset apply the password rules, leaving the link unused after a refusal?"""
    token = requested_token()
    refused = _reset(client, token, "short")
    assert refused.status_code == 200 and "10文字以上" in text(refused)
    assert db.session.scalar(select(PasswordReset)).used_at is None
    assert _reset(client, token).status_code == 302


def test_a_newer_link_voids_the_older_one(client, company_a, requested_token):
    """When a user asks twice, does only the newest link work?"""
    first = requested_token()
    second = requested_token()
    assert client.get(f"/password/reset/{first}").status_code == 400
    assert client.get(f"/password/reset/{second}").status_code == 200


def test_suspended_id_gets_an_explanation_instead_of_a_link(client, company_a):
    """Does an ID suspended for password expiry get a mail explaining staff must lift it, and no link?"""
    user = _user("a-member")
    user.suspended_at = now_utc()
    db.session.commit()
    _forgot(client, "a-member")
    assert mails("password_reset") == []
    assert "運営事務局" in mails("password_reset_suspended")[0].body
    assert db.session.scalar(select(PasswordReset)) is None


def test_disabled_id_gets_nothing(client, company_a):
    """Is a disabled ID sent nothing at all (while the page says the same as ever)?"""
    user = _user("a-member")
    user.active = False
    db.session.commit()
    assert _forgot(client, "a-member").status_code == 200
    assert mails() == []


def test_forgot_form_is_rate_limited(app, client, company_a, monkeypatch):
    """Are repeated requests for one ID refused with 429 after PASSWORD_RESET_LIMIT_PER_ACCOUNT?"""
    monkeypatch.setitem(app.config, "PASSWORD_RESET_LIMIT_PER_ACCOUNT", "2 per hour")
    assert _forgot(client, "a-member").status_code == 200
    assert _forgot(client, "a-member").status_code == 200
    blocked = _forgot(client, "a-member")
    assert blocked.status_code == 429
    assert "操作の回数が多すぎます" in text(blocked)
    assert len(mails("password_reset")) == 2


def test_forgot_form_is_rate_limited_per_address(app, client, company_a, monkeypatch):
    """Does one address asking for many different IDs hit the per-IP limit?"""
    monkeypatch.setitem(app.config, "PASSWORD_RESET_LIMIT_PER_IP", "3 per hour")
    for n in range(3):
        assert _forgot(client, f"someone-{n}").status_code == 200
    assert _forgot(client, "a-member").status_code == 429


def test_forgot_form_needs_csrf_and_input(client, company_a):
    """Is a post without CSRF refused (400), and an empty one answered with a field error?"""
    assert client.post("/password/forgot", data={"identifier": "a-member"}).status_code == 400
    empty = _forgot(client, "")
    assert empty.status_code == 200 and "入力してください" in text(empty)
    assert mails() == []


def test_reset_link_mail_uses_the_configured_base_url_not_the_host_header(client, company_a):
    """Can a forged Host header make the mailed link point to another site?"""
    page = client.get("/password/forgot", headers={"Host": "evil.example"})
    client.post(
        "/password/forgot",
        data={"identifier": "a-member", "csrf_token": csrf_token_from(page)},
        headers={"Host": "evil.example"},
    )
    body = mails("password_reset")[0].body
    assert "evil.example" not in body
    assert "http://localhost/password/reset/" in body


def test_factories_password_still_works_before_any_reset(client, company_a):
    """Does nothing in the reset flow touch a password until a link is used?"""
    _forgot(client, "a-member")
    assert accounts.verify_password(_user("a-member"), factories.PASSWORD)
