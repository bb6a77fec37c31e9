"""The contact person manages the company's user IDs (R-ACC-1, 第7条): list, create with a temporary
password shown once, disable (never the last active user), re-enable; other companies' ids are 404."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import LoginSession, User
from portal.services import accounts
from portal.services.audit import Actor
from portal.services.errors import NotFound, StateConflict
from tests.web.accounts_support import audit_actions, fresh, login, mails, make_client, post, text


@pytest.fixture
def client(app):
    return make_client(app)


def _user(login_id: str) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.login_id == login_id))


def _count_users() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(User))


def _create(client, **fields):
    data = {"name": "新人 一郎", "email": "ichiro@example.jp", "role": "member", "login_id": "", "department": ""}
    data.update(fields)
    return post(client, "/account/users", data, page="/account/users")


def test_r_acc_1_contact_sees_the_company_users_only(client, company_a, company_b):
    """Does the users page list this company's users and none of another company's?"""
    login(client, "a-contact")
    body = text(client.get("/account/users"))
    assert "a-contact" in body and "a-member" in body
    assert "b-contact" not in body


def test_r_acc_1_member_cannot_manage_users(client, company_a):
    """Is a member (not the contact person) refused the users page and its actions with 403?"""
    login(client, "a-member")
    assert client.get("/account/users").status_code == 403
    assert post(client, "/account/users", {"name": "x", "email": "x@example.jp"}).status_code == 403
    contact = _user("a-contact")
    assert post(client, f"/account/users/{contact.id}/disable").status_code == 403
    assert _user("a-contact").active is True


def test_r_acc_1_create_user_shows_the_temporary_password_once(app, client, company_a):
    """Is a new user created with a generated ID and a temporary password shown on the answer page only?"""
    login(client, "a-contact")
    response = _create(client)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"  # the page with the password is not cached
    body = text(response)
    password = re.search(r'id="temporary-password">([^<]+)<', body).group(1)
    user = db.session.scalar(select(User).where(User.name == "新人 一郎"))
    assert user.company_id == company_a.id and user.role == "member" and user.must_change_password
    assert re.fullmatch(r"u\d{7}", user.login_id)
    assert password not in user.password_hash
    assert accounts.verify_password(user, password)
    # Shown once: the users page afterwards does not show it again, and the ID mail does not carry it.
    assert password not in text(client.get("/account/users"))
    mail = mails("user_created")[0]
    assert mail.recipient == "ichiro@example.jp" and user.login_id in mail.body and password not in mail.body
    assert "user.created" in [e.action for e in audit_actions("user.")]
    # The new user logs in with it and must change it first.
    newcomer = make_client(app)
    assert login(newcomer, user.login_id, password).headers["Location"] == "/password/change"


def test_r_acc_1_chosen_login_id_must_be_unique_and_well_formed(client, company_a, company_b):
    """Are a taken ID (in any company, any case) and a malformed ID refused next to the field?"""
    login(client, "a-contact")
    before = _count_users()
    taken = _create(client, login_id="B-CONTACT")
    assert "既に使われています" in text(taken)
    malformed = _create(client, login_id="山田")
    assert "半角英数字" in text(malformed)
    assert _count_users() == before
    assert 'value="新人 一郎"' in text(malformed)  # what was typed is kept
    chosen = _create(client, login_id="a-newcomer")
    assert chosen.status_code == 200 and _user("a-newcomer") is not None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "氏名を入力してください"),
        ({"email": "not-an-address"}, "メールアドレス"),
        ({"role": "staff_admin"}, "権限を選んでください"),
        ({"name": "x" * 101}, "100文字以内"),
    ],
)
def test_create_user_refuses_bad_input(client, company_a, fields, message):
    """Are a missing name, a bad email, a forged role (staff!) and an overlong name refused, creating nothing?"""
    login(client, "a-contact")
    before = _count_users()
    response = _create(client, **fields)
    assert response.status_code == 200
    assert message in text(response)
    assert _count_users() == before


def test_create_user_without_csrf_is_refused(client, company_a):
    """Is a create request without a CSRF token refused with 400, creating nothing?"""
    login(client, "a-contact")
    before = _count_users()
    response = client.post("/account/users", data={"name": "x", "email": "x@example.jp", "role": "member"})
    assert response.status_code == 400
    assert _count_users() == before


def test_r_acc_1_disable_a_user_ends_their_sessions_and_login(app, client, company_a):
    """Does disabling a member end their live session and refuse their next login?"""
    member_client = make_client(app)
    login(member_client, "a-member")
    login(client, "a-contact")
    member = _user("a-member")
    response = post(client, f"/account/users/{member.id}/disable", page="/account/users")
    assert response.status_code == 303
    assert _user("a-member").active is False
    assert member_client.get("/account/").status_code == 302
    sessions = db.session.scalars(select(LoginSession).where(LoginSession.user_id == member.id)).all()
    assert all(s.ended_at is not None for s in sessions)
    assert "無効" in text(login(make_client(app), "a-member"))


def test_r_acc_1_re_enable_a_user(client, company_a):
    """Can a disabled user be enabled again and log in?"""
    member = _user("a-member")
    member.active = False
    db.session.commit()
    login(client, "a-contact")
    post(client, f"/account/users/{member.id}/enable", page="/account/users")
    assert _user("a-member").active is True


def test_r_acc_1_the_last_active_user_cannot_be_disabled(client, company_b):
    """Is the company's only active user refused when disabling themselves?"""
    login(client, "b-contact")
    contact = _user("b-contact")
    response = post(client, f"/account/users/{contact.id}/disable", page="/account/users", follow_redirects=True)
    assert "最後の有効なユーザーは無効にできません" in text(response)
    assert _user("b-contact").active is True


def test_the_last_active_contact_person_cannot_be_disabled(ctx, company_a):
    """With a member still active, is disabling the only contact person refused (nobody could manage users)?"""
    contact = _user("a-contact")
    with pytest.raises(StateConflict, match="申請担当者"):
        accounts.disable_user(company_a, contact.id, Actor(user_id=contact.id))
    assert contact.active is True


@pytest.mark.parametrize("action", ["disable", "enable"])
def test_another_company_user_id_is_404_and_unchanged(client, company_a, company_b, action):
    """Can a contact person disable or enable another company's user by guessing its id? (404, nothing changed.)"""
    target = _user("b-contact")
    if action == "enable":
        target.active = False
        db.session.commit()
    login(client, "a-contact")
    response = post(client, f"/account/users/{target.id}/{action}", page="/account/users")
    assert response.status_code == 404
    assert "見つかりません" in text(response)
    assert _user("b-contact").active is (action == "disable")  # as it was before
    assert audit_actions("user.") == []


def test_staff_ids_are_not_company_users(ctx, company_a, staff_user):
    """Is a staff user's id unknown (404) to a company's user management?"""
    with pytest.raises(NotFound):
        accounts.disable_user(company_a, staff_user.id, Actor())


def test_unknown_user_id_and_wrong_methods(client, company_a):
    """Is a made-up id 404, and a GET on an action 405?"""
    login(client, "a-contact")
    assert post(client, "/account/users/999999/disable", page="/account/users").status_code == 404
    assert client.get(f"/account/users/{_user('a-member').id}/disable").status_code == 405
    assert client.delete("/account/users").status_code == 405


def test_read_only_company_cannot_add_or_disable_users(client, company_a):
    """While the company is read-only (ended), are user changes refused with 403?"""
    company_a.status = "ended"
    db.session.commit()
    login(client, "a-contact")
    assert client.get("/account/users").status_code == 200
    before = _count_users()
    assert _create(client).status_code == 403
    assert post(client, f"/account/users/{_user('a-member').id}/disable", page="/account/users").status_code == 403
    assert _count_users() == before and _user("a-member").active


def test_account_page_shows_registered_items_contact_and_users(client, company_a):
    """Does the account page show the registered items, the contact person and the users summary?"""
    login(client, "a-member")
    body = text(client.get("/account/"))
    for section in ("account-company", "account-contact", "account-users-summary", "account-password"):
        assert f'id="{section}"' in body
    assert company_a.corporate_number in body
    assert fresh(User, _user("a-contact").id).email in body
