"""The contract lifecycle service (R-TERM-1, R-TERM-2, R-RET-3): terms, opt-out, cancellation, end."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, ContractTerm, SentNotice
from portal.services import contracts
from portal.services.errors import AccessDenied, StateConflict, ValidationFailed
from tests import factories


@pytest.fixture
def acme(ctx):
    """A company whose contract started on 1 April 2027, with its contact person and a member."""
    company = factories.company(name="甲建設株式会社", start_date=date(2027, 4, 1))
    factories.user(company, role="contact", login_id="acme-contact", email="contact@acme.example.jp")
    factories.user(company, role="member", login_id="acme-member")
    db.session.commit()
    return company


def _contact(company):
    return next(u for u in company.users if u.role == "contact")


def _terms(company):
    return [(t.start_date, t.end_date) for t in db.session.scalars(
        select(ContractTerm).where(ContractTerm.contract_id == company.contract.id).order_by(ContractTerm.start_date)
    )]


def test_r_term_1_summary_shows_term_renewal_date_and_opt_out_deadline(acme):
    """Does the account page's summary give the current term, the renewal date and the deadline?"""
    info = contracts.summary(acme.contract, date(2027, 6, 1))
    assert (info.term.start_date, info.term.end_date) == (date(2027, 4, 1), date(2028, 3, 31))
    assert info.renewal_on == date(2028, 4, 1)
    assert info.opt_out_deadline == date(2028, 3, 1)
    assert info.can_opt_out and info.can_cancel and not info.ended


def test_r_term_1_opt_out_on_the_deadline_stops_renewal_and_ends_after_the_term(acme):
    """Is an opt-out received on the deadline accepted, and does the contract end after the term?"""
    info = contracts.opt_out(acme.contract, _contact(acme), today=date(2028, 3, 1))
    assert info.opted_out and info.renewal_on is None and info.last_day == date(2028, 3, 31)
    assert contracts.renew_and_end(date(2028, 3, 31)) == {"ended": 0, "renewed": 0}
    assert acme.status == "active"
    assert contracts.renew_and_end(date(2028, 4, 1)) == {"ended": 1, "renewed": 0}
    contract = acme.contract
    assert (contract.ended_on, contract.end_reason) == (date(2028, 3, 31), "expired")
    assert contract.data_delete_on == date(2028, 7, 1)  # post_termination_delete_on(2028-03-31)
    assert acme.status == "ended" and acme.is_read_only
    assert _terms(acme) == [(date(2027, 4, 1), date(2028, 3, 31))]


def test_r_term_1_opt_out_the_day_after_the_deadline_is_refused_with_the_dates(acme):
    """Is an opt-out one day late refused, saying the deadline and the renewal date?"""
    with pytest.raises(ValidationFailed) as refused:
        contracts.opt_out(acme.contract, _contact(acme), today=date(2028, 3, 2))
    assert "2028年3月1日" in refused.value.message
    assert "2028年4月1日" in refused.value.message
    assert acme.contract.renewal_opted_out_at is None


def test_r_term_1_only_the_contact_person_may_opt_out(acme):
    """Can a member (not the 申請担当者) opt the company out? (It must not.)"""
    member = next(u for u in acme.users if u.role == "member")
    with pytest.raises(AccessDenied):
        contracts.opt_out(acme.contract, member, today=date(2027, 5, 1))


def test_r_term_1_an_opt_out_can_be_withdrawn_until_the_deadline(acme):
    """Does withdrawing an opt-out before the deadline restore the renewal, and is it refused after?"""
    contact = _contact(acme)
    contracts.opt_out(acme.contract, contact, today=date(2027, 5, 1))
    info = contracts.withdraw_opt_out(acme.contract, contact, today=date(2028, 3, 1))
    assert info.renewal_on == date(2028, 4, 1)
    contracts.opt_out(acme.contract, contact, today=date(2028, 3, 1))
    with pytest.raises(ValidationFailed):
        contracts.withdraw_opt_out(acme.contract, contact, today=date(2028, 3, 2))


def test_r_term_1_auto_renewal_adds_one_term_per_year_and_is_idempotent(acme):
    """Does renewal add the next term on its first day only, once, and catch up after missed days?"""
    assert contracts.renew_contracts(date(2028, 3, 31)) == 0
    assert contracts.renew_contracts(date(2028, 4, 1)) == 1
    assert contracts.renew_contracts(date(2028, 4, 1)) == 0
    assert contracts.renew_contracts(date(2028, 4, 2)) == 0
    db.session.commit()
    assert contracts.renew_contracts(date(2030, 5, 1)) == 2  # the job was down for two years
    assert _terms(acme) == [
        (date(2027, 4, 1), date(2028, 3, 31)),
        (date(2028, 4, 1), date(2029, 3, 31)),
        (date(2029, 4, 1), date(2030, 3, 31)),
        (date(2030, 4, 1), date(2031, 3, 31)),
    ]
    assert contracts.current_term(acme.contract, date(2030, 5, 1)).start_date == date(2030, 4, 1)


def test_r_term_1_a_term_starting_on_29_february_renews_on_1_march(ctx):
    """Does a contract started on 29 Feb 2028 end its term on 28 Feb 2029 and renew on 1 Mar 2029?"""
    company = factories.company(start_date=date(2028, 2, 29))
    assert contracts.renew_contracts(date(2029, 2, 28)) == 0
    assert contracts.renew_contracts(date(2029, 3, 1)) == 1
    assert _terms(company) == [(date(2028, 2, 29), date(2029, 2, 28)), (date(2029, 3, 1), date(2030, 2, 28))]


@pytest.mark.parametrize(
    ("arrived", "wished", "end_on"),
    [
        (date(2027, 6, 10), date(2027, 8, 15), date(2027, 8, 31)),  # ≥ 30 days: the wished month's end
        (date(2027, 6, 10), date(2027, 7, 10), date(2027, 7, 31)),  # exactly 30 days counts
        (date(2027, 6, 10), date(2027, 7, 9), date(2027, 6, 30)),  # 29 days: arrival + 7 = 17 June
        (date(2027, 6, 25), None, date(2027, 7, 31)),  # no wish: 25 June + 7 = 2 July
        (date(2028, 2, 22), None, date(2028, 2, 29)),  # leap February
    ],
)
def test_r_term_2_cancellation_ends_on_the_rules_date(acme, arrived, wished, end_on):
    """Does a mid-term cancellation set the end date 第24条1項 gives, and end the day after it?"""
    preview = contracts.request_cancellation(acme.contract, _contact(acme), wished, arrived=arrived)
    assert preview.end_on == end_on == acme.contract.ends_on
    assert contracts.end_contracts(end_on) == 0
    assert acme.status == "active"
    assert contracts.end_contracts(date.fromordinal(end_on.toordinal() + 1)) == 1
    assert (acme.contract.ended_on, acme.contract.end_reason) == (end_on, "cancelled")
    assert acme.status == "ended"


def test_r_term_2_preview_explains_which_branch_applied():
    """Does the preview say why: wished date honoured, too close, or missing?"""
    honoured = contracts.cancellation_preview(date(2027, 6, 10), date(2027, 8, 15))
    assert "30日以上先" in honoured.reason and "2027年8月31日" in honoured.reason
    too_close = contracts.cancellation_preview(date(2027, 6, 10), date(2027, 7, 1))
    assert "30日未満" in too_close.reason and too_close.deemed_wished == date(2027, 6, 17)
    missing = contracts.cancellation_preview(date(2027, 6, 25), None)
    assert "記載がない" in missing.reason and missing.end_on == date(2027, 7, 31)
    with pytest.raises(ValidationFailed):
        contracts.cancellation_preview(date(2027, 6, 10), date(2027, 6, 9))


def test_r_term_2_a_second_cancellation_is_refused(acme):
    """Is a repeated cancellation refused instead of moving the end date?"""
    contracts.request_cancellation(acme.contract, _contact(acme), None, arrived=date(2027, 6, 10))
    with pytest.raises(StateConflict):
        contracts.request_cancellation(acme.contract, _contact(acme), date(2027, 12, 1), arrived=date(2027, 6, 11))
    assert acme.contract.ends_on == date(2027, 6, 30)


def test_r_term_2_cancellation_in_the_next_term_lets_the_term_renew_first(acme):
    """When the end date falls after the current term, does the contract renew and then end?"""
    contracts.request_cancellation(acme.contract, _contact(acme), date(2028, 5, 10), arrived=date(2028, 3, 20))
    assert acme.contract.ends_on == date(2028, 5, 31)
    assert contracts.renew_and_end(date(2028, 4, 1)) == {"ended": 0, "renewed": 1}
    assert contracts.renew_and_end(date(2028, 6, 1)) == {"ended": 1, "renewed": 0}
    assert acme.contract.ended_on == date(2028, 5, 31)


def test_r_ret_3_a_late_end_job_keeps_the_contracts_real_end_date(acme):
    """If the end job runs days late, are ended_on and the deletion date still the contract's?"""
    contracts.opt_out(acme.contract, _contact(acme), today=date(2027, 5, 1))
    contracts.end_contracts(date(2028, 4, 20))
    assert acme.contract.ended_on == date(2028, 3, 31)
    assert acme.contract.data_delete_on == date(2028, 7, 1)


def test_r_adm_1_staff_terminate_with_grounds_and_the_company_turns_read_only(acme, staff_user):
    """Does termination by staff record grounds and note, end today, and start the three months?"""
    contract = contracts.terminate(acme, ["25-1-2", "25-1-9"], "6か月の未払い", staff_user, today=date(2027, 11, 30))
    assert (contract.ended_on, contract.end_reason) == (date(2027, 11, 30), "terminated")
    assert contract.termination_grounds == ["25-1-2", "25-1-9"]
    assert contract.data_delete_on == date(2028, 3, 1)
    assert acme.status == "ended"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "contract.ended"))
    assert event.user_id == staff_user.id and event.detail["grounds"] == ["25-1-2", "25-1-9"]
    notice = db.session.scalar(select(SentNotice).where(SentNotice.kind == "contract_ended"))
    assert notice.recipient == "contact@acme.example.jp" and "2028年3月1日" in notice.body
    with pytest.raises(StateConflict):
        contracts.terminate(acme, ["25-1-9"], "", staff_user, today=date(2027, 12, 1))


def test_r_adm_1_termination_needs_known_grounds(acme, staff_user):
    """Is a termination without grounds, or with an unknown one, refused?"""
    with pytest.raises(ValidationFailed):
        contracts.terminate(acme, [], "", staff_user, today=date(2027, 11, 30))
    with pytest.raises(ValidationFailed):
        contracts.terminate(acme, ["99"], "", staff_user, today=date(2027, 11, 30))
    assert acme.status == "active"


def test_r_term_1_an_ended_contract_is_not_renewed(acme, staff_user):
    """Does renewal skip a contract that ended (here: terminated)?"""
    contracts.terminate(acme, ["25-1-9"], "", staff_user, today=date(2028, 1, 10))
    assert contracts.renew_contracts(date(2028, 4, 1)) == 0
    assert len(_terms(acme)) == 1


def test_r_term_1_opt_out_instant_is_recorded(acme):
    """Is the moment the opt-out arrived kept (the proof it was in time)?"""
    when = datetime(2028, 2, 29, 14, 0, tzinfo=UTC)
    contracts.opt_out(acme.contract, _contact(acme), today=date(2028, 2, 29), now=when)
    assert acme.contract.renewal_opted_out_at == when
