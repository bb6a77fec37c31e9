"""Change requests (R-ACC-3): the contact person asks to change the contact person (第7条3項) or the
registered items (第17条); staff approve or reject; history is kept for both; a different 法人番号 is
refused with the 第8条 explanation."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import ChangeRequest, Company, User
from portal.services import change_requests
from portal.services.audit import Actor
from tests import factories
from tests.conftest import csrf_token_from
from tests.web.accounts_support import audit_actions, fresh, login, mails, make_client, post, text


@pytest.fixture
def client(app):
    return make_client(app)


@pytest.fixture
def staff_client(app, staff_user):
    staff = make_client(app)
    login(staff, "staff1")
    return staff


def _registration(company: Company, **changes) -> dict:
    data = {
        "corporate_number": company.corporate_number,
        "name": company.name,
        "name_kana": company.name_kana,
        "postal_code": company.postal_code,
        "address": company.address,
        "representative_title": company.representative_title,
        "representative_name": company.representative_name,
        "phone": company.phone,
        "license_number": company.license_number or "",
    }
    data.update(changes)
    return data


def _contact(user: User, **changes) -> dict:
    data = {"name": user.name, "department": user.department or "", "email": user.email, "phone": user.phone or ""}
    data.update(changes)
    return data


def _submit(client, kind: str, data: dict, **kwargs):
    return post(client, f"/account/changes/{kind}", data, page=f"/account/changes/{kind}", **kwargs)


def _requests() -> list[ChangeRequest]:
    db.session.expire_all()
    return list(db.session.scalars(select(ChangeRequest).order_by(ChangeRequest.id)))


def _contact_user() -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.login_id == "a-contact"))


# --- submitting ---------------------------------------------------------------------------------------


def test_r_acc_3_registration_change_is_recorded_pending_with_old_and_new(client, company_a):
    """Does a registration change become a pending request holding only the changed fields, old and new?"""
    login(client, "a-contact")
    response = _submit(
        client, "registration", _registration(company_a, address="大阪府大阪市北区梅田1-1", phone="06-1234-5678")
    )
    assert response.status_code == 303 and response.headers["Location"] == "/account/changes"
    [request] = _requests()
    assert request.kind == "registration" and request.status == "pending"
    assert request.changes == {
        "address": {"old": "東京都千代田区千代田1-1", "new": "大阪府大阪市北区梅田1-1"},
        "phone": {"old": "03-1234-5678", "new": "06-1234-5678"},
    }
    # Nothing is applied before staff approve.
    assert fresh(Company, company_a.id).address == "東京都千代田区千代田1-1"
    assert "change_request.submitted" in [e.action for e in audit_actions("change_request.")]


def test_r_acc_3_input_is_normalized_by_the_validators(client, company_a):
    """Are full-width digits, half-width kana and a licence number stored in their normalized form?"""
    login(client, "a-contact")
    _submit(
        client,
        "registration",
        _registration(
            company_a, postal_code="５３０００１２", name_kana="ｵｵｻｶｹﾝｾﾂ", license_number="大阪知事(般-3)第123号"
        ),
    )
    changes = _requests()[0].changes
    assert changes["postal_code"]["new"] == "530-0012"
    assert changes["name_kana"]["new"] == "オオサカケンセツ"
    assert changes["license_number"]["new"] == "大阪府知事許可（般-3）第000123号"


def test_r_acc_3_a_different_corporate_number_is_refused_with_article_8(client, company_a, company_b):
    """Is a valid but different 法人番号 refused with the 第8条 explanation, and no request recorded?"""
    login(client, "a-contact")
    response = _submit(client, "registration", _registration(company_a, corporate_number=company_b.corporate_number))
    assert response.status_code == 200
    body = text(response)
    assert "第8条" in body and "新たに利用申込" in body
    assert 'id="transfer-refusal"' in body
    assert _requests() == []
    assert fresh(Company, company_a.id).corporate_number != company_b.corporate_number


def test_r_acc_3_a_different_corporate_number_is_refused_even_with_other_valid_changes(ctx, company_a, company_b):
    """Does the service itself refuse the transfer, whatever else the request contains?"""
    contact = _contact_user()
    with pytest.raises(change_requests.TransferRefused, match="第8条"):
        change_requests.submit(
            company_a,
            contact,
            "registration",
            _registration(company_a, corporate_number=company_b.corporate_number, address="別の住所"),
            Actor(user_id=contact.id),
        )


def test_malformed_corporate_number_gets_the_validator_message(client, company_a):
    """Is a 法人番号 with a wrong check digit refused by the validator (not treated as a transfer)?"""
    login(client, "a-contact")
    wrong = ("1" if company_a.corporate_number[0] != "1" else "2") + company_a.corporate_number[1:]
    body = text(_submit(client, "registration", _registration(company_a, corporate_number=wrong)))
    assert "法人番号が正しくありません" in body
    assert _requests() == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name_kana": "おおさかけんせつ"}, "カタカナ"),
        ({"postal_code": "12-345"}, "郵便番号は7桁"),
        ({"phone": "12345"}, "電話番号"),
        ({"license_number": "知事許可 5号"}, "建設業許可番号の形式"),
        ({"name": ""}, "入力してください"),
        ({"address": "x" * 301}, "300文字以内"),
    ],
)
def test_r_acc_3_bad_registration_input_is_refused_next_to_the_field(client, company_a, changes, message):
    """Are malformed fields refused in Japanese, the input kept, and nothing recorded?"""
    login(client, "a-contact")
    response = _submit(client, "registration", _registration(company_a, **changes))
    assert response.status_code == 200
    assert message in text(response)
    assert _requests() == []


def test_r_acc_3_unchanged_form_is_refused(client, company_a):
    """Is a request that changes nothing refused with a message instead of recorded?"""
    login(client, "a-contact")
    response = _submit(client, "registration", _registration(company_a))
    assert "変更された項目がありません" in text(response)
    assert _requests() == []


def test_r_acc_3_a_second_pending_request_of_the_same_kind_waits(client, company_a):
    """While one registration change is pending, is another refused (the other kind still allowed)?"""
    login(client, "a-contact")
    _submit(client, "registration", _registration(company_a, address="大阪府大阪市北区梅田1-1"))
    second = _submit(client, "registration", _registration(company_a, address="京都府京都市1-1"))
    assert "審査中" in text(second)
    contact = _contact_user()
    assert _submit(client, "contact", _contact(contact, phone="090-1111-2222")).status_code == 303
    assert [r.kind for r in _requests()] == ["registration", "contact"]


def test_r_acc_3_only_the_contact_person_may_submit(client, company_a):
    """Is a member refused the change forms with 403?"""
    login(client, "a-member")
    assert client.get("/account/changes/registration").status_code == 403
    response = post(client, "/account/changes/registration", _registration(company_a, address="大阪府"))
    assert response.status_code == 403
    assert _requests() == []
    assert client.get("/account/changes").status_code == 200  # but may read the history


def test_unknown_kind_and_wrong_method(client, company_a):
    """Is an unknown change kind 404 and a DELETE 405?"""
    login(client, "a-contact")
    assert client.get("/account/changes/ownership").status_code == 404
    assert post(client, "/account/changes/ownership", {"name": "x"}).status_code == 404
    assert client.delete("/account/changes/registration").status_code == 405


def test_submit_without_csrf_is_refused(client, company_a):
    """Is a change request without CSRF token refused with 400, recording nothing?"""
    login(client, "a-contact")
    response = client.post("/account/changes/registration", data=_registration(company_a, address="大阪府"))
    assert response.status_code == 400
    assert _requests() == []


def test_read_only_company_cannot_submit(client, company_a):
    """While the company is suspended read-only, is a change request refused with 403?"""
    company_a.status, company_a.suspension_mode = "suspended", "readonly"
    db.session.commit()
    login(client, "a-contact")
    response = _submit(client, "registration", _registration(company_a, address="大阪府大阪市北区梅田1-1"))
    assert response.status_code == 403
    assert _requests() == []


# --- staff review ---------------------------------------------------------------------------------------


def _review(staff_client, request_id: int, action: str, note: str = ""):
    return post(
        staff_client,
        f"/admin/change-requests/{request_id}/{action}",
        {"note": note},
        page=f"/admin/change-requests/{request_id}",
    )


def test_r_acc_3_staff_approve_applies_registration_changes(client, staff_client, company_a):
    """Does approving apply the new values to the company, record the reviewer, and mail the requester?"""
    login(client, "a-contact")
    _submit(client, "registration", _registration(company_a, representative_name="鈴木 花子"))
    [request] = _requests()
    listing = text(staff_client.get("/admin/change-requests"))
    assert company_a.name in listing and "代表者の氏名" in listing
    assert _review(staff_client, request.id, "approve").status_code == 303
    assert fresh(Company, company_a.id).representative_name == "鈴木 花子"
    request = fresh(ChangeRequest, request.id)
    assert request.status == "approved" and request.reviewed_by_id is not None and request.reviewed_at
    mail = mails("change_request_reviewed")[0]
    assert mail.recipient == _contact_user().email and "承認" in mail.body and "鈴木 花子" in mail.body
    assert "change_request.approved" in [e.action for e in audit_actions("change_request.")]


def test_r_acc_3_staff_approve_applies_contact_person_changes_to_the_contact_user(client, staff_client, company_a):
    """Does an approved contact-person change update the contact user's name, department, email and phone?"""
    login(client, "a-contact")
    contact = _contact_user()
    new = {"name": "佐藤 次郎", "department": "工務部", "email": "sato@example.jp", "phone": "090-1234-5678"}
    _submit(client, "contact", _contact(contact, **new))
    _review(staff_client, _requests()[0].id, "approve")
    contact = _contact_user()
    assert (contact.name, contact.department, contact.email, contact.phone) == tuple(new.values())


def test_r_acc_3_reject_needs_a_note_and_changes_nothing(client, staff_client, company_a):
    """Is a rejection without a note refused, and a rejection with one recorded without applying anything?"""
    login(client, "a-contact")
    _submit(client, "registration", _registration(company_a, address="大阪府大阪市北区梅田1-1"))
    request_id = _requests()[0].id
    refused = _review(staff_client, request_id, "reject")
    assert "却下の理由を入力してください" in text(refused)
    assert fresh(ChangeRequest, request_id).status == "pending"
    _review(staff_client, request_id, "reject", note="登記事項証明書で確認できませんでした。")
    assert fresh(ChangeRequest, request_id).status == "rejected"
    assert fresh(Company, company_a.id).address == "東京都千代田区千代田1-1"
    assert "登記事項証明書" in mails("change_request_reviewed")[0].body


def test_r_acc_3_history_is_kept_and_shown_to_both_sides(client, staff_client, company_a):
    """After one rejection and one approval, do the company and staff both see both requests with the note?"""
    login(client, "a-contact")
    _submit(client, "registration", _registration(company_a, address="大阪府大阪市北区梅田1-1"))
    first = _requests()[0].id
    _review(staff_client, first, "reject", note="所在地の表記をご確認ください。")
    _submit(client, "registration", _registration(company_a, address="大阪府大阪市北区梅田一丁目1番"))
    second = _requests()[1].id
    _review(staff_client, second, "approve")
    company_view = text(client.get("/account/changes"))
    for request_id in (first, second):
        assert f'id="change-request-{request_id}"' in company_view
    assert "所在地の表記をご確認ください。" in company_view and "却下" in company_view and "承認済み" in company_view
    staff_view = text(staff_client.get(f"/admin/change-requests/{second}"))
    assert f'id="change-request-{first}"' in staff_view  # the company's earlier request beside this one
    assert "所在地の表記をご確認ください。" in staff_view
    all_view = text(staff_client.get("/admin/change-requests?status=all"))
    assert all_view.count("/admin/change-requests/") >= 2


def test_reviewing_twice_is_409_and_changes_nothing(client, staff_client, company_a):
    """Is approving an already rejected request refused with 409, the company left as it was?"""
    login(client, "a-contact")
    _submit(client, "registration", _registration(company_a, address="大阪府大阪市北区梅田1-1"))
    request_id = _requests()[0].id
    _review(staff_client, request_id, "reject", note="不備があります。")
    response = _review(staff_client, request_id, "approve")
    assert response.status_code == 409
    assert fresh(ChangeRequest, request_id).status == "rejected"
    assert fresh(Company, company_a.id).address == "東京都千代田区千代田1-1"


def test_unknown_request_id_is_404_for_staff(staff_client):
    """Is a made-up change request id a 404 on the detail page and on the actions?"""
    assert staff_client.get("/admin/change-requests/999999").status_code == 404
    page = staff_client.get("/admin/change-requests")
    response = staff_client.post("/admin/change-requests/999999/approve", data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 404


def test_company_users_cannot_review(client, company_a, company_b):
    """Can a contact person approve a change request by posting to the staff URL? (403, nothing applied.)"""
    login(client, "a-contact")
    _submit(client, "registration", _registration(company_a, address="大阪府大阪市北区梅田1-1"))
    request_id = _requests()[0].id
    response = post(client, f"/admin/change-requests/{request_id}/approve", {"note": ""})
    assert response.status_code == 403
    assert fresh(ChangeRequest, request_id).status == "pending"


def test_another_companys_history_is_not_shown(client, company_a, company_b):
    """Does a company's history page show only its own requests?"""
    login(client, "b-contact")
    _submit(client, "registration", _registration(company_b, address="北海道札幌市1-1"))
    post(client, "/logout", page="/")
    login(client, "a-contact")
    assert "北海道札幌市1-1" not in text(client.get("/account/changes"))
    assert db.session.scalar(select(func.count()).select_from(ChangeRequest)) == 1


def test_factories_password_is_unchanged_by_contact_changes(client, staff_client, company_a):
    """Does an approved contact change leave the contact user's login (ID and password) as it was?"""
    login(client, "a-contact")
    _submit(client, "contact", _contact(_contact_user(), email="new-contact@example.jp", phone="03-5555-6666"))
    _review(staff_client, _requests()[0].id, "approve")
    other = make_client(client.application)
    assert login(other, "a-contact", factories.PASSWORD).status_code == 302


def test_fields_left_as_registered_are_not_re_judged(client, company_a):
    """If a registered value predates today's input rules, can the company still change other fields?"""
    company_a.name_kana = "テストケンセツ1"  # digits: today's kana rule would refuse it
    db.session.commit()
    login(client, "a-contact")
    response = _submit(client, "registration", _registration(company_a, address="大阪府大阪市北区梅田1-1"))
    assert response.status_code == 303
    assert list(_requests()[0].changes) == ["address"]


def test_staff_company_page_and_home_show_change_requests(client, staff_client, company_a):
    """Does the company's staff page list its change requests, and the staff home count the pending ones?"""
    login(client, "a-contact")
    _submit(client, "registration", _registration(company_a, address="大阪府大阪市北区梅田1-1"))
    request_id = _requests()[0].id
    page = text(staff_client.get(f"/admin/companies/{company_a.id}"))
    assert 'id="company-accounts"' in page
    assert f"/admin/change-requests/{request_id}" in page
    home = text(staff_client.get("/admin/"))
    assert "審査待ちの変更の申込</a>：1件" in home
