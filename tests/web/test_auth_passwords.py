"""Passwords: forced change of a temporary password, the rules, changing ends other sessions,
expiry warning and forced change (R-ACC-1, R-ACC-2, 第15条5項), and the login rate limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.clock import now_utc
from portal.extensions import db
from portal.models import LoginSession, User
from portal.services import accounts
from tests import factories
from tests.web.accounts_support import audit_actions, login, make_client, post, text

NEW_PASSWORD = "a long enough new passphrase"


@pytest.fixture
def client(app):
    return make_client(app)


def _user(login_id: str) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.login_id == login_id))


def _change(client, current: str, new: str, confirm: str | None = None):
    return post(
        client,
        "/password/change",
        {"current_password": current, "new_password": new, "new_password_confirm": confirm or new},
        page="/password/change",
    )


# --- first login with a temporary password ---------------------------------------------------------


@pytest.fixture
def temporary_user(company_a):
    user = _user("a-member")
    user.must_change_password = True
    db.session.commit()
    return user


def test_r_acc_1_temporary_password_forces_the_change_page_first(client, temporary_user):
    """After logging in with a temporary password, is every page redirected to the change page?"""
    response = login(client, "a-member")
    assert response.headers["Location"] == "/password/change"
    for url in ("/", "/account/", "/cases/"):
        redirected = client.get(url)
        assert redirected.status_code == 302, url
        assert redirected.headers["Location"] == "/password/change"
    page = client.get("/password/change")
    assert page.status_code == 200
    assert "仮パスワード" in text(page)


def test_r_acc_1_after_changing_the_temporary_password_the_portal_opens(client, temporary_user):
    """Once the temporary password is changed, are pages reachable and the flag cleared?"""
    login(client, "a-member")
    response = _change(client, factories.PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/account/").status_code == 200
    user = _user("a-member")
    assert user.must_change_password is False
    assert accounts.verify_password(user, NEW_PASSWORD)


def test_forced_change_still_allows_logout(client, temporary_user):
    """Can a user stuck on the change page still log out?"""
    login(client, "a-member")
    response = post(client, "/logout", page="/password/change")
    assert response.headers["Location"] == "/login"


# --- the rules --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("short-pw", "10文字以上"),
        ("xx-a-member-xx", "利用者IDを含め"),
        ("password123", "よく使われる"),
        ("aaaaaaaaaaaa", "同じ文字の繰り返し"),
    ],
)
def test_r_acc_1_password_rules_refuse_weak_passwords(client, company_a, new, message):
    """Is a password that is short, contains the user ID, is common or one repeated character refused?"""
    login(client, "a-member")
    before = _user("a-member").password_hash
    response = _change(client, factories.PASSWORD, new)
    assert response.status_code == 200
    assert message in text(response)
    assert _user("a-member").password_hash == before


def test_r_acc_1_no_composition_rules(client, company_a):
    """Is a long lower-case passphrase with no digits or symbols accepted (no composition rules)?"""
    login(client, "a-member")
    assert _change(client, factories.PASSWORD, "tea kettle on the windowsill").status_code == 302


def test_change_needs_the_current_password_and_a_matching_confirmation(client, company_a):
    """Are a wrong current password and a mismatched confirmation refused next to their fields?"""
    login(client, "a-member")
    before = _user("a-member").password_hash
    wrong = _change(client, "not-my-password", NEW_PASSWORD)
    assert "現在のパスワードが正しくありません" in text(wrong)
    mismatch = _change(client, factories.PASSWORD, NEW_PASSWORD, confirm=NEW_PASSWORD + "x")
    assert "一致しません" in text(mismatch)
    same = _change(client, factories.PASSWORD, factories.PASSWORD)
    assert "今までと同じパスワード" in text(same)
    assert _user("a-member").password_hash == before


def test_r_acc_1_changing_the_password_ends_every_other_session(app, client, company_a):
    """When a user changes the password on one PC, is the session on another PC ended, and this one kept?"""
    other = make_client(app)
    login(other, "a-member")
    login(client, "a-member")
    assert other.get("/account/").status_code == 200
    _change(client, factories.PASSWORD, NEW_PASSWORD)
    assert client.get("/account/").status_code == 200
    response = other.get("/account/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert [e.action for e in audit_actions("password.")] == ["password.changed"]


# --- expiry (R-ACC-2) ---------------------------------------------------------------------------------


def _age_password(login_id: str, days: int) -> None:
    user = _user(login_id)
    user.password_changed_at = now_utc() - timedelta(days=days)
    db.session.commit()


def test_r_acc_2_warning_banner_shows_within_the_warning_days(app, client, company_a):
    """With the password 10 days from expiry, does every page show the expiry warning with a link to change?"""
    _age_password("a-member", app.config["PASSWORD_MAX_AGE_DAYS"] - 10)
    login(client, "a-member")
    for url in ("/", "/account/"):
        body = text(client.get(url))
        assert 'id="password-expiry-notice"' in body, url
        assert "あと10日" in body
        assert "/password/change" in body


def test_r_acc_2_no_warning_before_the_warning_days(app, client, company_a):
    """With the password far from expiry, is there no warning banner?"""
    _age_password("a-member", app.config["PASSWORD_MAX_AGE_DAYS"] - app.config["PASSWORD_WARN_DAYS"] - 2)
    login(client, "a-member")
    assert 'id="password-expiry-notice"' not in text(client.get("/"))


def test_r_acc_2_expired_password_forces_a_change_at_login(app, client, company_a):
    """After expiry, is the user logged in but sent to the change page, told the password expired?"""
    _age_password("a-member", app.config["PASSWORD_MAX_AGE_DAYS"] + 1)
    response = login(client, "a-member")
    assert response.headers["Location"] == "/password/change"
    assert client.get("/cases/").headers["Location"] == "/password/change"
    assert "有効期限" in text(client.get("/password/change"))
    _change(client, factories.PASSWORD, NEW_PASSWORD)
    assert client.get("/account/").status_code == 200
    assert accounts.password_state(_user("a-member")).age == "valid"


def test_r_acc_2_staff_are_forced_to_change_an_expired_password_too(app, client, staff_user):
    """Does expiry apply to operator staff as well?"""
    _age_password("staff1", app.config["PASSWORD_MAX_AGE_DAYS"] + 1)
    assert login(client, "staff1").headers["Location"] == "/password/change"


# --- rate limits (real Redis) --------------------------------------------------------------------------


def _allowed(app, name: str) -> int:
    return int(app.config[name].split()[0])


def _from(app, address: str):
    browser = make_client(app)
    browser.environ_base["REMOTE_ADDR"] = address
    return browser


def test_r_acc_1_per_account_and_ip_limit_stops_guessing_even_with_the_right_password(app, client, company_a):
    """After LOGIN_LIMIT_PER_ACCOUNT_AND_IP wrong passwords for one ID from one address, is that
    address's next try refused with the Japanese 429 page, right password or not?"""
    for _ in range(_allowed(app, "LOGIN_LIMIT_PER_ACCOUNT_AND_IP")):
        assert login(client, "a-contact", "wrong-password-123").status_code == 200
    blocked = login(client, "a-contact")
    assert blocked.status_code == 429
    assert "操作の回数が多すぎます" in text(blocked) and "しばらく時間をおいてから" in text(blocked)
    assert db.session.scalar(select(LoginSession)) is None


def test_r_acc_1_lockout_of_one_address_leaves_the_owner_at_another_address_in(app, client, company_a):
    """While one address is refused for an ID (it guessed wrong too often), can the owner still log in
    to that ID from another address?"""
    for _ in range(_allowed(app, "LOGIN_LIMIT_PER_ACCOUNT_AND_IP") + 2):
        login(client, "a-contact", "wrong-password-123")
    assert login(client, "a-contact").status_code == 429
    assert login(_from(app, "203.0.113.20"), "a-contact").status_code == 302


def test_r_acc_1_id_case_and_spaces_do_not_buy_more_guesses(app, client, company_a):
    """Is 'A-Contact ' counted as the same ID as 'a-contact'?"""
    for _ in range(_allowed(app, "LOGIN_LIMIT_PER_ACCOUNT_AND_IP")):
        assert login(client, "A-Contact ", "wrong-password-123").status_code == 200
    assert login(client, "a-contact").status_code == 429


def test_r_acc_1_id_attacked_from_many_addresses_hears_only_addresses_without_failures(app, company_a, monkeypatch):
    """Past LOGIN_LIMIT_PER_ACCOUNT wrong passwords for one ID from many addresses, is an address that
    already guessed wrong refused, while a clean address is heard (wrong: the generic failure; right:
    the owner gets in)?"""
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ACCOUNT", "3 per 15 minutes")
    for n in range(3):
        assert login(_from(app, f"192.0.2.{n + 1}"), "a-contact", "wrong-password-123").status_code == 200
    assert login(_from(app, "192.0.2.1"), "a-contact").status_code == 429
    assert login(_from(app, "192.0.2.50"), "a-contact", "wrong-password-123").status_code == 200
    assert login(_from(app, "192.0.2.50"), "a-contact").status_code == 429
    assert login(_from(app, "203.0.113.20"), "a-contact").status_code == 302


def test_r_acc_1_limits_leave_other_accounts_alone(app, client, company_a):
    """While one ID is locked out for an address, can another ID still log in from the same address?"""
    for _ in range(_allowed(app, "LOGIN_LIMIT_PER_ACCOUNT_AND_IP")):
        login(client, "a-contact", "wrong-password-123")
    assert login(client, "a-member").status_code == 302


def test_r_acc_1_successful_logins_do_not_count(app, client, company_a):
    """Are successful logins free, so that a busy user never hits the limit?"""
    for _ in range(_allowed(app, "LOGIN_LIMIT_PER_ACCOUNT_AND_IP") + 2):
        assert login(client, "a-contact").status_code == 302
        post(client, "/logout", page="/")


def test_r_acc_1_refused_logins_with_the_right_password_do_not_count(app, client, company_a):
    """Does a disabled ID, told so after its right password, never end up with the 429 page instead?"""
    user = _user("a-member")
    user.active = False
    db.session.commit()
    for _ in range(_allowed(app, "LOGIN_LIMIT_PER_ACCOUNT_AND_IP") + 1):
        assert "無効" in text(login(client, "a-member"))


def test_r_acc_1_per_ip_limit_stops_spraying_many_ids(app, client, company_a, monkeypatch):
    """Do failures for many different IDs from one address hit the per-IP limit, while another address is free?"""
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_IP", "3 per 15 minutes")
    for n in range(3):
        assert login(client, f"guess-{n}", "wrong-password-123").status_code == 200
    assert login(client, "a-contact").status_code == 429
    assert login(_from(app, "203.0.113.9"), "a-contact").status_code == 302
