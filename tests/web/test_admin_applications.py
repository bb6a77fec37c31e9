"""Staff review of applications (R-APP-2, R-APP-3): list and filters, the prior-default / duplicate
check, rejection with 第6条3項 grounds, acceptance (第6条2項, 第11条), and who may see these pages."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.clock import today_jst
from portal.extensions import db
from portal.models import Application, Certificate, Company, Contract, ContractTerm, SentNotice, User
from portal.rules import terms
from portal.services import accounts, onboarding
from tests import factories
from tests.conftest import csrf_token_from
from tests.mail_tools import body_of, link_token, mail_files


@pytest.fixture
def pending(ctx):
    """A pending application, committed; returns its id."""
    application = factories.application(company_name="株式会社審査テスト建設")
    db.session.commit()
    return application.id


def staff_page(client, auth, path: str):
    auth.login("staff1")
    page = client.get(path)
    assert page.status_code == 200
    return page


# --- who may see these pages ------------------------------------------------------------------------

STAFF_PAGES = [
    "/admin/",
    "/admin/applications",
    "/admin/applications/{application}",
    "/admin/companies",
    "/admin/companies/{company}",
    "/admin/mail",
    "/admin/mail/{notice}",
]
STAFF_ACTIONS = [
    "/admin/applications/{application}/correction",
    "/admin/applications/{application}/reject",
    "/admin/applications/{application}/accept",
]


@pytest.fixture
def ids(ctx, company_a, pending):
    notice = db.session.scalar(select(SentNotice.id))
    return {"application": pending, "company": company_a.id, "notice": notice}


@pytest.mark.parametrize("path", STAFF_PAGES + STAFF_ACTIONS)
def test_staff_pages_send_anonymous_visitors_to_login(client, ids, path):
    """Is an anonymous visitor sent to the login page from every staff page and action?"""
    url = path.format(**ids)
    response = client.post(url) if path in STAFF_ACTIONS else client.get(url)
    if path in STAFF_ACTIONS and response.status_code == 400:
        return  # CSRF refuses an anonymous POST before the login check; either way nothing happens
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", STAFF_PAGES + STAFF_ACTIONS)
def test_staff_pages_refuse_company_users_with_403(app, client, auth, ids, path):
    """Is a company's user refused (403) on every staff page and action, with nothing changed?"""
    auth.login("a-contact")
    url = path.format(**ids)
    if path in STAFF_ACTIONS:
        token = csrf_token_from(client.get("/"))
        response = client.post(url, data={"csrf_token": token, "note": "x", "grounds": "7", "start_date": "2030-01-01"})
    else:
        response = client.get(url)
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(Application, ids["application"]).status == "pending"


# --- list and filters --------------------------------------------------------------------------------


def test_r_app_2_list_shows_open_applications_and_filters_by_status_and_word(app, client, auth, staff_user):
    """Does the list show open applications by default, and filter by status and by a search word?"""
    with app.app_context():
        factories.application(company_name="株式会社アルファ建設", company_name_kana="アルファケンセツ")
        factories.application(company_name="株式会社ベータ工務店", company_name_kana="ベータコウムテン")
        factories.application(company_name="株式会社ガンマ組", company_name_kana="ガンマグミ", status="rejected")
        db.session.commit()
    body = staff_page(client, auth, "/admin/applications").get_data(as_text=True)
    assert "アルファ" in body and "ベータ" in body and "ガンマ" not in body

    body = client.get("/admin/applications?status=rejected").get_data(as_text=True)
    assert "ガンマ" in body and "アルファ" not in body

    body = client.get("/admin/applications?status=all&q=ベータ").get_data(as_text=True)
    assert "ベータ" in body and "アルファ" not in body

    partial = client.get("/admin/applications?q=アルファ", headers={"HX-Request": "true"})
    text = partial.get_data(as_text=True)
    assert text.lstrip().startswith('<div id="applications-table"') and "<html" not in text
    assert "アルファ" in text and "ベータ" not in text


def test_staff_home_counts_what_waits(app, client, auth, staff_user, pending):
    """Does the staff home count pending applications and unsent mail?"""
    body = staff_page(client, auth, "/admin/").get_data(as_text=True)
    assert re.search(r'id="count-pending">1<', body)
    assert re.search(r'id="count-mail-unsent">1<', body)


# --- R-APP-3 -----------------------------------------------------------------------------------------


def test_r_app_3_detail_shows_a_prior_termination_for_the_same_corporate_number(app, client, auth, staff_user):
    """When a company with the same 法人番号 had its contract terminated by us (non-payment), does the
    review page say so, with the grounds — and list another open application with the same number?"""
    number = factories.corporate_number()
    with app.app_context():
        old = factories.company(name="旧・株式会社滞納建設", corporate_number=number, status="ended")
        contract = db.session.scalar(select(Contract).where(Contract.company_id == old.id))
        contract.ended_on = date(2025, 3, 31)
        contract.end_reason = "terminated"
        contract.termination_grounds = ["第25条第1項第2号"]
        contract.termination_note = "6か月間の料金不払い"
        application = factories.application(corporate_number=number)
        other = factories.application(corporate_number=number, company_name="株式会社重複申込")
        db.session.commit()
        application_id, other_receipt = application.id, other.receipt_number

    body = staff_page(client, auth, f"/admin/applications/{application_id}").get_data(as_text=True)
    check = re.search(r'<section class="card alert" id="review-check">.*?</section>', body, re.S).group(0)
    assert "当社による契約解除の履歴があります" in check
    assert "旧・株式会社滞納建設" in check and "第25条第1項第2号" in check and "6か月間の料金不払い" in check
    assert other_receipt in check


def test_r_app_3_detail_says_when_the_number_is_clean(client, auth, staff_user, pending):
    """With no other record of the 法人番号, does the check say so plainly?"""
    body = staff_page(client, auth, f"/admin/applications/{pending}").get_data(as_text=True)
    assert 'id="review-check-clear"' in body and "当社による契約解除の履歴" not in body


def test_r_app_3_an_active_company_with_the_same_number_is_flagged(app, client, auth, staff_user):
    """Is a company still under contract with the same 法人番号 shown as a possible duplicate?"""
    number = factories.corporate_number()
    with app.app_context():
        factories.company(name="株式会社既存契約", corporate_number=number)
        application_id = factories.application(corporate_number=number).id
        db.session.commit()
    body = staff_page(client, auth, f"/admin/applications/{application_id}").get_data(as_text=True)
    assert 'id="existing-companies"' in body and "株式会社既存契約" in body


# --- reject ------------------------------------------------------------------------------------------


def test_r_app_2_reject_without_grounds_is_refused_and_nothing_changes(app, client, auth, staff_user, pending):
    """Is a rejection without any 第6条3項 ground refused next to the field, the application unchanged
    and no mail queued?"""
    token = csrf_token_from(staff_page(client, auth, f"/admin/applications/{pending}"))
    response = client.post(f"/admin/applications/{pending}/reject", data={"note": "理由なし", "csrf_token": token})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "お断りの理由を1つ以上選んでください" in re.search(r'id="field-grounds".*?</div>', body, re.S).group(0)
    assert "理由なし" in body  # the note typed is kept
    with app.app_context():
        assert db.session.get(Application, pending).status == "pending"
        rejections = select(func.count(SentNotice.id)).where(SentNotice.kind == "application_rejected")
        assert db.session.scalar(rejections) == 0


def test_r_app_2_reject_with_an_unknown_ground_is_refused(app, client, auth, staff_user, pending):
    """Is a ground outside (1)-(7) refused?"""
    token = csrf_token_from(staff_page(client, auth, f"/admin/applications/{pending}"))
    response = client.post(f"/admin/applications/{pending}/reject", data={"grounds": "8", "csrf_token": token})
    assert response.status_code == 200 and "一覧にない値" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Application, pending).status == "pending"


def test_r_app_2_reject_records_the_grounds_and_mails_them_in_plain_words(
    app, client, auth, staff_user, pending, run_jobs
):
    """Are the chosen grounds and note stored, and does the applicant's mail state each ground in words?"""
    token = csrf_token_from(staff_page(client, auth, f"/admin/applications/{pending}"))
    response = client.post(
        f"/admin/applications/{pending}/reject",
        data={"grounds": ["2", "7"], "note": "登記簿で所在地を確認できませんでした。", "csrf_token": token},
    )
    assert response.status_code == 302
    run_jobs()
    with app.app_context():
        application = db.session.get(Application, pending)
        assert application.status == "rejected"
        assert application.rejection_grounds == [2, 7]
        assert application.rejection_note == "登記簿で所在地を確認できませんでした。"
        assert application.decided_at is not None
        assert application.reviewed_by_id == db.session.scalar(select(User.id).where(User.login_id == "staff1"))
    message = next(m for m in mail_files(app) if m["X-Ukeoi-Kind"] == "application_rejected")
    body = body_of(message)
    assert onboarding.REJECTION_GROUNDS[2] in body and onboarding.REJECTION_GROUNDS[7] in body
    assert "第6条第3項第2号" in body and "登記簿で所在地を確認できませんでした。" in body
    assert onboarding.REJECTION_GROUNDS[1] not in body


def test_a_decided_application_cannot_be_decided_again(app, client, auth, staff_user, pending):
    """After a rejection, is an acceptance of the same application refused with 409 and no company made?"""
    token = csrf_token_from(staff_page(client, auth, f"/admin/applications/{pending}"))
    client.post(f"/admin/applications/{pending}/reject", data={"grounds": "7", "csrf_token": token})
    response = client.post(
        f"/admin/applications/{pending}/accept", data={"start_date": today_jst().isoformat(), "csrf_token": token}
    )
    assert response.status_code == 409
    with app.app_context():
        assert db.session.scalar(select(func.count(Company.id))) == 0
        assert db.session.get(Application, pending).status == "rejected"


# --- accept -----------------------------------------------------------------------------------------


def test_r_app_2_accept_creates_company_contract_term_user_and_sends_the_acceptance_notice(
    app, client, auth, staff_user, pending, run_jobs, portal_pki
):
    """Does acceptance create the company, its contract from the start date with the first term
    (rules.terms.term_end), its signing certificate, the contact person's user with no usable password
    yet — and is the 利用受諾通知 sent with a set-password link, its time recorded on the contract (第3条)?"""
    start = today_jst() + timedelta(days=7)
    token = csrf_token_from(staff_page(client, auth, f"/admin/applications/{pending}"))
    response = client.post(
        f"/admin/applications/{pending}/accept", data={"start_date": start.isoformat(), "csrf_token": token}
    )
    assert response.status_code == 302
    with app.app_context():
        application = db.session.get(Application, pending)
        company = db.session.get(Company, application.company_id)
        assert application.status == "accepted" and application.start_date == start
        assert company.name == "株式会社審査テスト建設" and company.status == "active"
        assert company.corporate_number == application.corporate_number
        assert company.terms_version == application.terms_version
        contract = company.contract
        assert contract.start_date == start and contract.acceptance_notified_at is None  # not sent yet
        [term] = db.session.scalars(select(ContractTerm).where(ContractTerm.contract_id == contract.id)).all()
        assert (term.start_date, term.end_date) == (start, terms.term_end(start))
        [user] = company.users
        assert user.role == "contact" and user.must_change_password
        assert re.fullmatch(r"u\d{7}", user.login_id)
        assert user.email == application.contact_email and user.name == application.contact_name
        [certificate] = db.session.scalars(select(Certificate).where(Certificate.company_id == company.id)).all()
        assert certificate.status == "valid" and company.corporate_number in certificate.subject
        login_id = user.login_id
    assert response.headers["Location"].endswith(f"/admin/companies/{company.id}")

    run_jobs()

    with app.app_context():
        notice = db.session.scalar(select(SentNotice).where(SentNotice.kind == "acceptance"))
        contract = db.session.scalar(select(Contract).where(Contract.company_id == company.id))
        assert notice.sent_at is not None
        assert contract.acceptance_notified_at == notice.sent_at
        user = db.session.scalar(select(User).where(User.login_id == login_id))
        message = next(m for m in mail_files(app) if m["X-Ukeoi-Kind"] == "acceptance")
        body = body_of(message)
        assert "利用受諾通知" in body and login_id in body
        assert "仮パスワード" not in body
        setup_token = link_token(body)
        assert accounts.reset_link_user(setup_token).id == user.id
    page = client.get(f"/admin/companies/{company.id}").get_data(as_text=True)
    assert login_id in page and 'id="acceptance-notified"' in page and "未送信" not in page


def test_r_app_2_accept_refuses_a_start_date_in_the_past(app, client, auth, staff_user, pending):
    """Is a start date before today refused next to the field, with nothing created?"""
    token = csrf_token_from(staff_page(client, auth, f"/admin/applications/{pending}"))
    yesterday = (today_jst() - timedelta(days=1)).isoformat()
    response = client.post(f"/admin/applications/{pending}/accept", data={"start_date": yesterday, "csrf_token": token})
    assert response.status_code == 200
    assert "過去の日付は指定できません" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(Company.id))) == 0


def test_r_app_2_accept_refuses_a_malformed_date_in_japanese(app, client, auth, staff_user, pending):
    """Is a start date that is not a date refused with a Japanese message?"""
    token = csrf_token_from(staff_page(client, auth, f"/admin/applications/{pending}"))
    response = client.post(f"/admin/applications/{pending}/accept", data={"start_date": "来週", "csrf_token": token})
    assert response.status_code == 200
    assert "日付を「2026-11-25」の形で入力してください" in response.get_data(as_text=True)


def test_accepting_twice_makes_one_company(app, client, auth, staff_user, pending, portal_pki):
    """Does a second acceptance (double click, second staff member) get 409 and leave one company?"""
    token = csrf_token_from(staff_page(client, auth, f"/admin/applications/{pending}"))
    data = {"start_date": today_jst().isoformat(), "csrf_token": token}
    assert client.post(f"/admin/applications/{pending}/accept", data=data).status_code == 302
    assert client.post(f"/admin/applications/{pending}/accept", data=data).status_code == 409
    with app.app_context():
        assert db.session.scalar(select(func.count(Company.id))) == 1
        assert db.session.scalar(select(func.count(SentNotice.id)).where(SentNotice.kind == "acceptance")) == 1


def test_the_default_start_date_is_today_in_japan(client, auth, staff_user, pending):
    """Does the accept form offer today's JST date as the start date?"""
    body = staff_page(client, auth, f"/admin/applications/{pending}").get_data(as_text=True)
    assert f'value="{today_jst().isoformat()}"' in body


def test_staff_action_without_csrf_is_refused(app, client, auth, staff_user, pending):
    """Is a staff acceptance without the CSRF token refused (400) with nothing created?"""
    staff_page(client, auth, f"/admin/applications/{pending}")
    response = client.post(f"/admin/applications/{pending}/accept", data={"start_date": today_jst().isoformat()})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count(Company.id))) == 0


def test_unknown_application_is_404(client, auth, staff_user):
    """Is an application id that does not exist a Japanese 404?"""
    staff_page(client, auth, "/admin/")
    response = client.get("/admin/applications/999999")
    assert response.status_code == 404
    assert "利用申込が見つかりません" in response.get_data(as_text=True)


# --- companies ---------------------------------------------------------------------------------------


def test_companies_list_and_detail_show_registration_contract_and_users(
    app, client, auth, staff_user, company_a, company_b
):
    """Does the companies list filter by a word, and the detail page show registration, contract and users?"""
    body = staff_page(client, auth, "/admin/companies?q=甲建設").get_data(as_text=True)
    assert "甲建設株式会社" in body and "乙工務店株式会社" not in body
    body = client.get(f"/admin/companies/{company_a.id}").get_data(as_text=True)
    for section in ("company-registration", "company-contract", "company-users"):
        assert f'id="{section}"' in body
    assert "a-contact" in body and "a-member" in body and "申請担当者" in body
    assert "2027年3月31日" in body  # the first term of a contract starting 2026-04-01


def test_r_acc_1_the_acceptance_notice_holds_no_password_whatever_the_mail_backend(
    app, ctx, staff_user, portal_pki, run_jobs
):
    """Does the stored 利用受諾通知 hold the login ID and a masked set-password link, and no password or
    token — before delivery and after it, with the file backend a demo uses as much as with SMTP?"""
    application = factories.application()
    db.session.commit()
    result = onboarding.accept(application, today_jst(), staff_user)
    db.session.commit()
    notice_id, login_id = result.notice.id, result.user.login_id
    assert "http://localhost/password/reset/••••" in result.notice.body
    assert "仮パスワード" not in result.notice.body and login_id in result.notice.body

    run_jobs()

    token = link_token(body_of(next(m for m in mail_files(app) if m["X-Ukeoi-Kind"] == "acceptance")))
    db.session.expire_all()
    stored = db.session.get(SentNotice, notice_id)
    assert stored.sent_at is not None and token not in stored.body
    assert "/password/reset/••••" in stored.body
