"""The contract section of the account page (R-TERM-1, R-TERM-2, R-RET-3) through the web."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.clock import today_jst
from portal.extensions import db
from portal.models import Company, Contract
from portal.rules import terms
from portal.services import contracts
from portal.web import format_date
from tests import factories
from tests.conftest import AuthActions, csrf_token_from


def _company(start, login_prefix: str) -> Company:
    company = factories.company(name=f"{login_prefix}建設株式会社", start_date=start)
    factories.user(company, role="contact", login_id=f"{login_prefix}-contact")
    factories.user(company, role="member", login_id=f"{login_prefix}-member")
    db.session.commit()
    return company


@pytest.fixture
def fresh(ctx):
    """A company whose first term started ten days ago: the opt-out deadline is far ahead."""
    return _company(today_jst() - timedelta(days=10), "fresh")


@pytest.fixture
def late(ctx):
    """A company whose term ends in 24 days: the opt-out deadline passed six days ago."""
    return _company(today_jst() - timedelta(days=340), "late")


def _logged_in(client, login_id: str):
    AuthActions(client).login(login_id)
    return client


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_r_term_1_account_page_shows_term_renewal_date_and_deadline(client, fresh):
    """Does the account page show the current term, the renewal date and the opt-out deadline?"""
    start = fresh.contract.start_date
    page = _logged_in(client, "fresh-contact").get("/account/")
    assert page.status_code == 200
    html = _text(page)
    assert 'id="account-contract"' in html
    assert f"{format_date(start)} 〜 {format_date(terms.term_end(start))}" in html
    assert format_date(terms.next_term_start(start)) in html
    assert format_date(terms.renewal_opt_out_deadline(start)) in html


def test_r_term_1_opt_out_through_the_form_is_accepted_before_the_deadline(client, fresh):
    """Does the contact person's opt-out (with the confirmation ticked) stop the renewal?"""
    _logged_in(client, "fresh-contact")
    page = client.get("/account/contract")
    response = client.post("/account/contract/opt-out", data={"csrf_token": csrf_token_from(page), "confirm": "y"},
                           follow_redirects=True)
    assert response.status_code == 200
    assert "自動更新をしない旨のお届けを受け付けました" in _text(response)
    db.session.expire_all()
    assert db.session.get(Contract, fresh.contract.id).renewal_opted_out_at is not None
    assert "お届けを取り下げて自動更新する" in _text(response)


def test_r_term_1_opt_out_after_the_deadline_is_refused_with_the_date_explained(client, late):
    """Is a late opt-out refused (400) with the deadline and the renewal date, and nothing recorded?"""
    start = late.contract.start_date
    _logged_in(client, "late-contact")
    page = client.get("/account/contract")
    assert "期限（" in _text(page)  # the page already says the deadline has passed
    response = client.post("/account/contract/opt-out", data={"csrf_token": csrf_token_from(page), "confirm": "y"})
    assert response.status_code == 400
    html = _text(response)
    assert format_date(terms.renewal_opt_out_deadline(start)) in html
    assert format_date(terms.next_term_start(start)) in html
    db.session.expire_all()
    assert db.session.get(Contract, late.contract.id).renewal_opted_out_at is None


def test_r_term_1_a_member_cannot_opt_out(client, fresh):
    """Is a member (not the 申請担当者) refused with 403?"""
    _logged_in(client, "fresh-member")
    page = client.get("/account/contract")
    assert "申請担当者が行えます" in _text(page)
    response = client.post("/account/contract/opt-out", data={"csrf_token": csrf_token_from(page), "confirm": "y"})
    assert response.status_code == 403


def test_r_term_2_htmx_preview_shows_the_end_date_and_why_while_typing(client, fresh):
    """Does the htmx preview return only its partial, with the rule's end date and the reason, for a
    wished date far enough, one too close, none, and a date before today?"""
    _logged_in(client, "fresh-contact")
    page = _text(client.get("/account/contract"))
    assert 'hx-trigger="input changed delay:300ms, change"' in page
    today = today_jst()
    headers = {"HX-Request": "true", "HX-Target": "contract-cancel-preview"}
    far = today + timedelta(days=45)
    html = _text(client.get(f"/account/contract/cancel/preview?wished_on={far.isoformat()}", headers=headers))
    assert html.strip().startswith('<div id="contract-cancel-preview"')
    assert format_date(terms.cancellation_end_date(today, far)) in html and "30日以上先" in html
    near = today + timedelta(days=10)
    html = _text(client.get(f"/account/contract/cancel/preview?wished_on={near.isoformat()}", headers=headers))
    assert format_date(terms.cancellation_end_date(today, None)) in html and "30日未満" in html
    html = _text(client.get("/account/contract/cancel/preview?wished_on=", headers=headers))
    assert "記載がない" in html
    past = today - timedelta(days=1)
    html = _text(client.get(f"/account/contract/cancel/preview?wished_on={past.isoformat()}", headers=headers))
    assert 'class="error"' in html and "以降の日付" in html
    html = _text(client.get("/account/contract/cancel/preview?wished_on=2027-02-30", headers=headers))
    assert "日付を" in html


def test_r_term_2_cancellation_form_sets_the_end_date(client, fresh):
    """Does filing a cancellation with a wished date record the rule's end date and show it?"""
    _logged_in(client, "fresh-contact")
    page = client.get("/account/contract")
    wished = today_jst() + timedelta(days=60)
    response = client.post(
        "/account/contract/cancel",
        data={"csrf_token": csrf_token_from(page), "wished_on": wished.isoformat(), "confirm": "y"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    end_on = terms.cancellation_end_date(today_jst(), wished)
    assert f"{format_date(end_on)}に終了します" in _text(response)
    db.session.expire_all()
    contract = db.session.get(Contract, fresh.contract.id)
    assert (contract.cancellation_arrived_on, contract.cancellation_wished_on, contract.ends_on) == (
        today_jst(), wished, end_on)


def test_r_term_2_cancellation_without_confirmation_keeps_the_input_and_says_why(client, fresh):
    """Without the confirmation ticked, is the form shown again (400) with the typed date kept and
    the error next to the field, and nothing recorded?"""
    _logged_in(client, "fresh-contact")
    page = client.get("/account/contract")
    wished = today_jst() + timedelta(days=60)
    response = client.post("/account/contract/cancel",
                           data={"csrf_token": csrf_token_from(page), "wished_on": wished.isoformat()})
    assert response.status_code == 400
    html = _text(response)
    assert f'value="{wished.isoformat()}"' in html
    assert "チェックを入れてください" in html
    assert format_date(terms.cancellation_end_date(today_jst(), wished)) in html  # the preview for that date
    db.session.expire_all()
    assert db.session.get(Contract, fresh.contract.id).cancellation_arrived_on is None


def test_r_term_2_forged_post_without_csrf_changes_nothing(client, fresh):
    """Is a cancellation without the CSRF token refused with 400?"""
    _logged_in(client, "fresh-contact")
    response = client.post("/account/contract/cancel", data={"confirm": "y"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Contract, fresh.contract.id).cancellation_arrived_on is None


def test_r_ret_3_ended_company_logs_in_read_only_and_sees_its_deletion_date(client, fresh, staff_user):
    """After termination, can the company's users still log in and read, see until when, and are
    their changes refused?"""
    contract = contracts.terminate(fresh, ["25-1-9"], "規約違反", staff_user)
    db.session.commit()
    response = _logged_in(client, "fresh-contact").get("/account/", follow_redirects=True)
    assert response.status_code == 200
    html = _text(response)
    assert format_date(contract.data_delete_on - timedelta(days=1)) in html
    assert format_date(contract.data_delete_on) in html
    assert client.get("/cases/").status_code == 200
    page = client.get("/account/contract")
    refused = client.post("/account/contract/cancel", data={"csrf_token": csrf_token_from(page), "confirm": "y"})
    assert refused.status_code == 403


def test_r_term_2_staff_see_cancellation_requests(client, fresh, staff_user):
    """Does the staff retention page list a filed cancellation with its end date?"""
    contract = fresh.contract
    contracts.request_cancellation(contract, fresh.users[0], None)
    db.session.commit()
    html = _text(_logged_in(client, "staff1").get("/admin/retention"))
    assert f'id="cancellation-{contract.id}"' in html
    assert format_date(contract.ends_on) in html


def test_r_adm_1_staff_terminate_from_the_company_page(client, fresh, staff_user):
    """Can staff terminate a contract on the company page with grounds and a note, and is a
    termination without grounds refused with the error next to the field?"""
    _logged_in(client, "staff1")
    page = client.get(f"/admin/companies/{fresh.id}")
    assert 'id="company-termination"' in _text(page)
    token = csrf_token_from(page)
    refused = client.post(f"/admin/companies/{fresh.id}/terminate", data={"csrf_token": token, "note": "x"})
    assert refused.status_code == 400 and "1つ以上選んでください" in _text(refused)
    done = client.post(
        f"/admin/companies/{fresh.id}/terminate",
        data={"csrf_token": token, "grounds": ["25-1-2", "25-1-9"], "note": "6か月の未払い"},
        follow_redirects=True,
    )
    assert done.status_code == 200
    db.session.expire_all()
    company = db.session.get(Company, fresh.id)
    assert company.status == "ended"
    assert company.contract.termination_grounds == ["25-1-2", "25-1-9"]
    assert re.search(r"第25条1項\(2\)", _text(done))
    assert db.session.scalar(select(Contract.end_reason).where(Contract.company_id == fresh.id)) == "terminated"
