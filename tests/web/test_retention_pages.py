"""Retention through the web (R-RET-1, R-RET-3, R-RET-4): the case's retention section, continued
storage, deletion agreement, and the staff purge page with legal hold."""
from __future__ import annotations

from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.clock import today_jst
from portal.extensions import db
from portal.models import AuditEvent, Case, ContinuedStorage, PurgeRecord, PurgeRun
from portal.rules.retention import completed_case_delete_on
from portal.services import purge
from portal.web import format_date
from tests import factories
from tests.conftest import AuthActions, csrf_token_from


@pytest.fixture
def shared(company_a, company_b):
    """A completed case between A and B (completed 2020-01-10: its retention ends 2030-01-10)."""
    case = factories.case([company_a, company_b], status="complete", completed_on=date(2020, 1, 10))
    db.session.commit()
    return case


class _OwnContextClient(FlaskClient):
    """Each request in its own app context, as in production, so two clients do not share `g`."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def _login(client, login_id: str):
    AuthActions(client).login(login_id)
    return client


def _client(app, login_id: str):
    return _login(_OwnContextClient(app, app.response_class, use_cookies=True), login_id)


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_r_ret_1_case_retention_section_shows_the_deletion_date(client, shared):
    """Does the retention section show the last day of retention and the deletion day for a party?"""
    html = _text(_login(client, "b-contact").get(f"/cases/{shared.id}/retention"))
    assert 'id="case-retention"' in html
    assert format_date(date(2030, 1, 10)) in html and format_date(date(2030, 1, 11)) in html
    assert "第11条の2" in html


def test_r_store_4_another_company_cannot_see_the_retention_section(client, shared, ctx):
    """Is a company that is not party to the case answered 404?"""
    other = factories.company()
    factories.user(other, role="contact", login_id="c-contact")
    db.session.commit()
    assert _login(client, "c-contact").get(f"/cases/{shared.id}/retention").status_code == 404


def test_r_ret_1_continued_storage_request_then_staff_payment_moves_the_date(app, shared, staff_user):
    """Does a party's request show as pending, and once staff record payment does the case show the
    new deletion date?"""
    party = _client(app, "a-contact")
    page = party.get(f"/cases/{shared.id}/retention")
    response = party.post(f"/cases/{shared.id}/retention/storage",
                          data={"csrf_token": csrf_token_from(page), "years": "3"}, follow_redirects=True)
    assert response.status_code == 200
    request = db.session.scalar(select(ContinuedStorage))
    assert (request.years, request.fee, request.paid_at) == (3, 3000, None)
    assert "お支払いの確認後" in _text(party.get(f"/cases/{shared.id}/retention"))

    staff = _client(app, "staff1")
    listing = staff.get("/admin/retention")
    assert f'id="storage-{request.id}"' in _text(listing)
    paid = staff.post(f"/admin/retention/storage/{request.id}/paid",
                      data={"csrf_token": csrf_token_from(listing), "note": "振込確認"}, follow_redirects=True)
    assert paid.status_code == 200
    db.session.expire_all()
    case = db.session.get(Case, shared.id)
    assert case.extended_until == date(2033, 1, 10)
    assert case.purge_due_on == completed_case_delete_on(date(2020, 1, 10), date(2033, 1, 10)) == date(2033, 1, 11)
    html = _text(party.get(f"/cases/{shared.id}/retention"))
    assert format_date(date(2033, 1, 11)) in html and "継続保管により延長" in html


def test_r_ret_1_an_invalid_period_is_refused_next_to_the_field(client, shared):
    """Is a period outside the list refused (400) with the message shown, and nothing recorded?"""
    _login(client, "a-contact")
    page = client.get(f"/cases/{shared.id}/retention")
    response = client.post(f"/cases/{shared.id}/retention/storage", data={"csrf_token": csrf_token_from(page),
                                                                          "years": "25"})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(ContinuedStorage)) == 0


def test_r_ret_3_deletion_agreement_through_htmx_and_withdrawal(app, shared):
    """Does each party's agreement (htmx: the section comes back) record it, and after both agree and
    one withdraws, is the case kept by the next run?"""
    headers = {"HX-Request": "true", "HX-Target": "case-retention"}
    clients = {}
    for login in ("a-contact", "b-contact"):
        clients[login] = _client(app, login)
        page = clients[login].get(f"/cases/{shared.id}/retention")
        response = clients[login].post(f"/cases/{shared.id}/retention/agree",
                                       data={"csrf_token": csrf_token_from(page), "confirm": "y"}, headers=headers)
        assert response.status_code == 200
        assert _text(response).lstrip().startswith('<section class="card" id="case-retention">')
    db.session.expire_all()
    assert db.session.get(Case, shared.id).purge_due_on == today_jst()
    page = clients["b-contact"].get(f"/cases/{shared.id}/retention")
    assert "削除への合意を取り下げる" in _text(page)
    clients["b-contact"].post(f"/cases/{shared.id}/retention/withdraw", data={"csrf_token": csrf_token_from(page)})
    db.session.expire_all()
    assert db.session.get(Case, shared.id).purge_due_on == date(2030, 1, 11)
    purge.run()
    assert db.session.get(Case, shared.id) is not None


def test_r_ret_3_agreement_needs_the_confirmation(client, shared):
    """Without the confirmation ticked, is the agreement refused with the message next to it?"""
    _login(client, "a-contact")
    page = client.get(f"/cases/{shared.id}/retention")
    response = client.post(f"/cases/{shared.id}/retention/agree", data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 400 and "チェックを入れてください" in _text(response)


def test_r_ret_4_staff_purge_page_lists_what_the_next_run_deletes_with_rule_and_reason(client, shared, staff_user):
    """Does the staff page's dry-run list show the due case with its rule and reason, change nothing,
    and show past runs with their counts?"""
    number = shared.number
    _login(client, "staff1")
    html = _text(client.get("/admin/purge?on=2030-01-11"))
    assert f'id="plan-case-{shared.id}"' in html
    assert "第11条の2" in html and "2030年1月10日に満了" in html
    assert 'id="plan-case-' not in _text(client.get("/admin/purge?on=2030-01-10"))
    assert db.session.get(Case, shared.id) is not None
    assert db.session.scalar(select(func.count()).select_from(PurgeRun)) == 0
    purge.run(today=date(2030, 1, 11))
    runs = _text(client.get("/admin/purge"))
    assert 'id="run-1"' in runs and "2030年1月11日" in runs
    detail = _text(client.get("/admin/purge/runs/1"))
    assert number in detail and "第11条の2" in detail
    assert db.session.scalar(select(func.count()).select_from(PurgeRecord)) == 1


def test_r_ret_4_staff_hold_and_release_a_case_through_the_page(client, shared, staff_user):
    """Can staff hold a case by its number (then the dry run no longer lists it) and release it, each
    with a reason in the audit trail; is an unknown number refused next to the field?"""
    _login(client, "staff1")
    page = client.get("/admin/purge?on=2030-01-11")
    token = csrf_token_from(page)
    unknown = client.post("/admin/purge/hold", data={"csrf_token": token, "case_number": "NOPE", "reason": "x"})
    assert unknown.status_code == 404 and "この案件番号の案件はありません" in _text(unknown)
    held = client.post("/admin/purge/hold", data={"csrf_token": token, "case_number": shared.number,
                                                  "reason": "訴訟対応"}, follow_redirects=True)
    assert held.status_code == 200 and f'id="held-{shared.id}"' in _text(held)
    assert f'id="plan-case-{shared.id}"' not in _text(client.get("/admin/purge?on=2030-01-11"))
    released = client.post(f"/admin/purge/{shared.id}/release", data={"csrf_token": token, "reason": "訴訟終了"},
                           follow_redirects=True)
    assert released.status_code == 200
    assert f'id="plan-case-{shared.id}"' in _text(client.get("/admin/purge?on=2030-01-11"))
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.case_id == shared.id)).all()
    assert actions == ["case.legal_hold", "case.legal_release"]


def test_r_ret_4_staff_home_shows_the_retention_panel(client, shared, staff_user, company_a):
    """Does the staff home show how many cases are due today (one completed in 2015, not the 2020 one)?"""
    factories.case([company_a], status="complete", completed_on=date(2015, 1, 10))
    db.session.commit()
    _login(client, "staff1")
    html = _text(client.get("/admin/"))
    assert 'id="panel-retention"' in html and 'id="count-purge-due">1<' in html


def test_r_ret_1_the_case_page_includes_the_retention_section(client, shared):
    """Does the case page itself show the retention section with the deletion day?"""
    html = _text(_login(client, "a-contact").get(f"/cases/{shared.id}"))
    assert 'id="case-retention"' in html and format_date(date(2030, 1, 11)) in html
