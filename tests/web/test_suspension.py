"""R-ADM-1: staff suspend a company (read-only, or no login at all), change or lift the suspension, each
with grounds, a note and an audit record; the contact persons are told by mail."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Company, LoginSession, SentNotice, User
from portal.services import contracts, suspension
from portal.services.errors import AccessDenied, StateConflict, ValidationFailed
from tests.conftest import AuthActions, csrf_token_from


def _fresh_company(company_id: int) -> Company:
    db.session.expire_all()
    return db.session.get(Company, company_id)


def _staff_page(client, company: Company):
    AuthActions(client).login("staff1")
    page = client.get(f"/admin/companies/{company.id}")
    assert page.status_code == 200
    return page


def _suspend(client, company: Company, token: str, **data):
    form = {"csrf_token": token, "mode": "readonly", "grounds": ["25-1-2"], "note": "支払期限から6か月の未払い", **data}
    return client.post(f"/admin/companies/{company.id}/suspend", data={f"suspend-{k}": v for k, v in form.items()})


def _notices(kind: str) -> list[SentNotice]:
    return list(db.session.scalars(select(SentNotice).where(SentNotice.kind == kind)))


def test_r_adm_1_read_only_suspension_lets_users_look_but_not_change(app, client, company_a, staff_user):
    """After staff suspend a company read-only from its page, do its users still log in, see the notice,
    and get refused on a change; is the step audited with mode, grounds and note, and mailed to the
    contact person without the internal note?"""
    page = _staff_page(client, company_a)
    html = page.get_data(as_text=True)
    assert 'id="company-suspension"' in html
    ids = [i for i in re.findall(r' id="([^"]+)"', html) if not i.endswith("csrf_token")]
    assert len(ids) == len(set(ids))  # the suspension and termination forms share the page
    boxes = re.findall(r'<input[^>]*type="checkbox"[^>]*>', html)
    assert boxes and not any(" required" in box for box in boxes)  # "at least one", not "every one"
    done = _suspend(client, company_a, csrf_token_from(page), grounds=["25-1-2", "25-1-9"])
    assert done.status_code == 302
    company = _fresh_company(company_a.id)
    assert (company.status, company.suspension_mode) == ("suspended", "readonly")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "company.suspended"))
    assert event.company_id == company.id and event.user_id == staff_user.id
    assert event.detail == {"mode": "readonly", "grounds": ["25-1-2", "25-1-9"], "note": "支払期限から6か月の未払い"}
    [mail] = _notices("company_suspended")
    assert mail.recipient == next(u.email for u in company.users if u.role == "contact")
    assert "第25条1項(2)" in mail.body and "第25条1項(9)" in mail.body and "6か月の未払い" not in mail.body
    shown = client.get(f"/admin/companies/{company.id}").get_data(as_text=True)
    assert "停止中です" in shown and "第25条1項(9)" in shown and "支払期限から6か月の未払い" in shown

    member = app.test_client()
    home = AuthActions(member).login("a-member", follow=True)
    assert 'id="suspension-notice"' in home.get_data(as_text=True)
    new_case = member.get("/cases/new")
    assert new_case.status_code == 403


def test_r_adm_1_blocking_suspension_ends_sessions_and_refuses_login(app, client, company_a, staff_user):
    """Does a suspension without login end the sessions the company's users have open and refuse a new
    login with the reason, and does lifting it let them in again (mailed, audited)?"""
    member = app.test_client()
    AuthActions(member).login("a-member")
    assert member.get("/cases/").status_code == 200
    page = _staff_page(client, company_a)
    token = csrf_token_from(page)
    assert _suspend(client, company_a, token, mode="blocked").status_code == 302
    assert member.get("/cases/").status_code == 302  # back to the login page
    open_sessions = select(func.count()).select_from(LoginSession).join(User).where(
        LoginSession.ended_at.is_(None), User.company_id == company_a.id
    )
    assert db.session.scalar(open_sessions) == 0
    refused = AuthActions(app.test_client()).login("a-member")
    assert refused.status_code == 200 and "利用停止中のため、ログインできません" in refused.get_data(as_text=True)

    lifted = client.post(f"/admin/companies/{company_a.id}/lift-suspension",
                         data={"lift-csrf_token": token, "lift-note": "入金を確認"})  # fmt: skip
    assert lifted.status_code == 302
    company = _fresh_company(company_a.id)
    assert (company.status, company.suspension_mode) == ("active", None)
    assert AuthActions(app.test_client()).login("a-member").status_code == 302
    assert len(_notices("company_suspension_lifted")) == 1
    assert db.session.scalar(select(AuditEvent.detail).where(AuditEvent.action == "company.suspension_lifted")) == {
        "note": "入金を確認"
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"grounds": []}, "停止の根拠を1つ以上選んでください"),
        ({"grounds": ["25-1-99"]}, "一覧にない値が選ばれています"),
        ({"mode": "forever"}, "一覧から選んでください"),
        ({"note": ""}, "経緯を入力してください"),
    ],
)
def test_r_adm_1_bad_suspension_is_refused_next_to_the_field_and_changes_nothing(client, company_a, staff_user,
                                                                                 data, message):
    page = _staff_page(client, company_a)
    refused = _suspend(client, company_a, csrf_token_from(page), **data)
    assert refused.status_code == 400 and message in refused.get_data(as_text=True)
    assert _fresh_company(company_a.id).status == "active"
    company_events = select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("company.%"))
    assert db.session.scalar(company_events) == 0
    assert _notices("company_suspended") == []


def test_r_adm_1_suspension_without_csrf_or_by_a_company_user_changes_nothing(app, client, company_a, staff_user):
    """Is a forged POST (no CSRF token) refused, and is a company's contact person unable to reach the
    staff action at all?"""
    _staff_page(client, company_a)
    forged = {"suspend-mode": "blocked", "suspend-grounds": ["25-1-2"], "suspend-note": "x"}
    assert client.post(f"/admin/companies/{company_a.id}/suspend", data=forged).status_code == 400
    contact = app.test_client()
    AuthActions(contact).login("a-contact")
    token = csrf_token_from(contact.get("/"))
    assert _suspend(contact, company_a, token).status_code in (403, 404)
    assert _fresh_company(company_a.id).status == "active"


def test_r_adm_1_ended_or_unsuspended_companies_are_refused_with_409(client, company_a, staff_user):
    """Lifting a suspension that isn't there, or suspending a company whose contract has ended: a 409
    with the reason, nothing changed?"""
    page = _staff_page(client, company_a)
    token = csrf_token_from(page)
    not_suspended = client.post(f"/admin/companies/{company_a.id}/lift-suspension",
                                data={"lift-csrf_token": token, "lift-note": "x"})  # fmt: skip
    assert not_suspended.status_code == 409 and "停止されていません" in not_suspended.get_data(as_text=True)
    contracts.terminate(company_a, ["25-1-9"], "違反", staff_user)
    db.session.commit()
    ended = _suspend(client, company_a, token)
    assert ended.status_code == 409 and "停止できません" in ended.get_data(as_text=True)
    assert _fresh_company(company_a.id).status == "ended"
    assert 'id="company-suspension"' not in client.get(f"/admin/companies/{company_a.id}").get_data(as_text=True)


def test_r_adm_1_service_refuses_non_staff_and_unknown_grounds(company_a):
    contact = company_a.users[0]
    with pytest.raises(AccessDenied):
        suspension.suspend(company_a, "readonly", ["25-1-2"], "x", contact)
    staff = User(login_id="s", name="s", email="s@example.jp", role="staff", password_hash="x")
    with pytest.raises(ValidationFailed):
        suspension.suspend(company_a, "readonly", [], "x", staff)
    with pytest.raises(ValidationFailed):
        suspension.suspend(company_a, "sleep", ["25-1-2"], "x", staff)
    with pytest.raises(StateConflict):
        suspension.lift(company_a, "x", staff)
    assert company_a.status == "active" and suspension.current(company_a) is None
