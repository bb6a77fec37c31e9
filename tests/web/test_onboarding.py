"""The public application form (R-APP-1, 第6条2項, 第7条2項, 第33条) and its refusals (SPEC §6)."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Application, SentNotice, TermsVersion
from portal.services import onboarding, terms_versions
from tests import factories
from tests.conftest import csrf_token_from
from tests.mail_tools import body_of, mail_files

FIELDS = [
    "company_name", "company_name_kana", "corporate_number", "license_number", "postal_code", "address",
    "representative_title", "representative_name", "phone", "contact_name", "contact_department",
    "contact_email", "contact_phone", "plan", "antisocial_declared", "consent",
]  # fmt: skip


def open_form(client, path: str = "/apply") -> dict:
    """GET the form; returns the hidden fields the browser would send back (CSRF token, terms version)."""
    page = client.get(path)
    assert page.status_code == 200
    return hidden_fields(page)


def hidden_fields(page) -> dict:
    body = page.get_data(as_text=True)
    version = re.search(r'name="terms_version" type="hidden" value="([^"]*)"', body)
    return {"csrf_token": csrf_token_from(page), "terms_version": version.group(1) if version else ""}


def post_application(client, **overrides):
    return client.post("/apply", data={**factories.application_form(**overrides), **open_form(client)})


def field_html(body: str, name: str) -> str:
    """The wrapper the form macro renders for one field."""
    match = re.search(rf'<div class="field[^"]*" id="field-{name}".*?\n</div>', body, re.S)
    assert match, f"no wrapper for {name}"
    return match.group(0)


def count_applications() -> int:
    return db.session.scalar(select(func.count(Application.id)))


def test_r_app_1_form_has_every_field_of_the_application(client):
    """Does the form ask for every item of R-APP-1, each in its own wrapper with a Japanese label?"""
    body = client.get("/apply").get_data(as_text=True)
    for name in FIELDS:
        assert f'id="field-{name}"' in body, name
    assert "利用規約" in body and "反社会的勢力" in body
    assert 'hx-post="/apply/validate"' in body  # blur validation wired on the fields


def test_r_app_1_submission_gives_a_receipt_number_and_a_confirmation_mail(app, client, run_jobs):
    """Does a valid application get stored (normalized, with the terms version consented to), show its
    receipt number, and is the confirmation mail delivered by the mail job with its sent time?"""
    full_width = {"corporate_number": "７００００１２０５０００２", "postal_code": "１０００００１"}
    response = post_application(client, **full_width, company_name_kana="ﾔﾏﾀﾞｺｳﾑﾃﾝ")
    assert response.status_code == 302
    done = client.get(response.headers["Location"])
    body = done.get_data(as_text=True)
    with app.app_context():
        application = db.session.scalar(select(Application))
        assert application.status == "pending"
        assert application.corporate_number == "7000012050002"
        assert application.postal_code == "100-0001"
        assert application.company_name_kana == "ヤマダコウムテン"
        assert application.terms_version == db.session.scalar(select(TermsVersion.version))
        assert application.antisocial_declared is True and application.consented_at is not None
        receipt = application.receipt_number
        notice = db.session.scalar(select(SentNotice).where(SentNotice.kind == "application_received"))
        assert notice.recipient == "hanako@example.jp" and notice.sent_at is None
    assert receipt in body

    run_jobs()

    with app.app_context():
        assert db.session.get(SentNotice, notice.id).sent_at is not None
    [message] = mail_files(app)
    assert message["To"] == "hanako@example.jp"
    assert receipt in body_of(message)


BAD_VALUES = [
    ("company_name", "", "会社名を入力してください"),
    ("company_name", "株" * 201, "200文字以内"),
    ("company_name_kana", "やまだこうむてん", "カタカナで入力してください"),
    ("company_name_kana", "YAMADA", "カタカナで入力してください"),
    ("corporate_number", "", "法人番号を入力してください"),
    ("corporate_number", "12345", "法人番号は13桁です"),
    ("corporate_number", "8000012050002", "法人番号が正しくありません"),
    ("license_number", "東京都知事 第123号", "建設業許可番号の形式が正しくありません"),
    ("license_number", "火星知事許可（般-5）第012345号", "許可行政庁"),
    ("postal_code", "", "郵便番号を入力してください"),
    ("postal_code", "12-3456", "7桁"),
    ("address", "", "所在地を入力してください"),
    ("representative_title", "", "代表者の役職を入力してください"),
    ("representative_name", "", "代表者の氏名を入力してください"),
    ("phone", "", "電話番号を入力してください"),
    ("phone", "12345", "電話番号"),
    ("contact_name", "", "申請担当者の氏名を入力してください"),
    ("contact_department", "部" * 101, "100文字以内"),
    ("contact_email", "", "メールアドレスを入力してください"),
    ("contact_email", "hanako.example.jp", "「@」が含まれていません"),
    ("contact_email", "hanako@", "メールアドレスの形式が正しくありません"),
    ("contact_phone", "", "申請担当者の電話番号を入力してください"),
    ("contact_phone", "090-1234", "電話番号は10桁または11桁です"),
    ("plan", "gold", "一覧から選んでください"),
]


@pytest.mark.parametrize(
    ("name", "value", "message"), BAD_VALUES, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(BAD_VALUES)]
)
def test_r_app_1_each_bad_field_is_refused_next_to_the_field_with_the_input_kept(app, client, name, value, message):
    """Is a bad entry refused with a Japanese message inside that field's wrapper, what was typed kept
    in every field, and nothing stored?"""
    response = post_application(client, **{"company_name": "株式会社テスト&<建設>", name: value})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    wrapper = field_html(body, name)
    assert "has-error" in wrapper
    assert message in wrapper
    assert body.count('class="error"') == 1 + body.count('id="form-errors"')  # only this field complains
    if value and name != "plan":
        assert f'value="{html.escape(value)}"' in wrapper
    if name != "company_name":
        assert 'value="株式会社テスト&amp;&lt;建設&gt;"' in field_html(body, "company_name")
    with app.app_context():
        assert count_applications() == 0
        assert db.session.scalar(select(func.count(SentNotice.id))) == 0


def test_r_app_1_consent_and_antisocial_declaration_are_required(app, client):
    """Without the terms consent and the 第33条 declaration, is the application refused at both boxes?"""
    response = post_application(client, consent=None, antisocial_declared=None)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "利用規約への同意にチェックを入れてください" in field_html(body, "consent")
    assert "反社会的勢力に該当しないことの表明にチェックを入れてください" in field_html(body, "antisocial_declared")
    with app.app_context():
        assert count_applications() == 0


def test_r_app_1_consent_given_to_an_outdated_terms_version_is_asked_again(app, client):
    """If the terms version in force is not the one the form showed, must the applicant consent again?"""
    with app.app_context():
        current = terms_versions.ensure_initial().version
        db.session.commit()
    form = {**factories.application_form(), **open_form(client), "terms_version": "2025-01"}
    response = client.post("/apply", data=form)
    body = response.get_data(as_text=True)
    assert "利用規約が改定されました" in field_html(body, "consent")
    with app.app_context():
        assert count_applications() == 0
    assert f'name="terms_version" type="hidden" value="{current}"' in body


def test_r_app_1_htmx_blur_validation_returns_only_that_field(client):
    """Does POST /apply/validate answer with just the field's wrapper: the error for a bad check digit,
    and the normalized value without an error for a good one?"""
    headers = {"HX-Request": "true", "X-CSRFToken": open_form(client)["csrf_token"]}
    bad = client.post("/apply/validate", data={"_field": "corporate_number", "corporate_number": "8000012050002"},
                      headers=headers)  # fmt: skip
    body = bad.get_data(as_text=True)
    assert bad.status_code == 200
    assert body.lstrip().startswith('<div class="field has-error" id="field-corporate_number"')
    assert "<html" not in body and "<form" not in body
    assert "法人番号が正しくありません" in body
    typed = "７０００-０１２０-５０００２"
    form = {"_field": "corporate_number", "corporate_number": typed}
    good = client.post("/apply/validate", data=form, headers=headers)
    body = good.get_data(as_text=True)
    assert "has-error" not in body and 'value="7000012050002"' in body


def test_htmx_validation_only_judges_the_named_field(client):
    """Does checking one field leave the others silent, even when they are empty?"""
    form = {"_field": "postal_code", "postal_code": "1000001", **open_form(client)}
    response = client.post("/apply/validate", data=form)
    body = response.get_data(as_text=True)
    assert 'id="field-postal_code"' in body and 'value="100-0001"' in body
    assert 'class="error"' not in body and "field-company_name" not in body


def test_htmx_validation_refuses_an_unknown_field_name(client):
    """Is a field name the form does not have refused with 400?"""
    response = client.post("/apply/validate", data={"_field": "password_hash", **open_form(client)})
    assert response.status_code == 400


def test_htmx_validation_needs_the_csrf_token(client):
    """Is a blur check without the CSRF token refused with 400?"""
    client.get("/apply")
    response = client.post("/apply/validate", data={"_field": "postal_code", "postal_code": "1000001"},
                           headers={"HX-Request": "true"})  # fmt: skip
    assert response.status_code == 400


def test_missing_csrf_token_is_refused_and_nothing_stored(app, client):
    """Is an application posted without the CSRF token refused (400, Japanese) and nothing stored?"""
    client.get("/apply")
    response = client.post("/apply", data=factories.application_form())
    assert response.status_code == 400
    assert "不正な送信" in response.get_data(as_text=True)
    with app.app_context():
        assert count_applications() == 0


def test_wrong_csrf_token_is_refused(app, client):
    """Is a forged CSRF token refused the same way?"""
    client.get("/apply")
    response = client.post("/apply", data={**factories.application_form(), "csrf_token": "forged"})
    assert response.status_code == 400
    with app.app_context():
        assert count_applications() == 0


def test_oversized_body_is_refused_with_413(app, client, monkeypatch):
    """Is a request body over MAX_CONTENT_LENGTH refused with the Japanese 413 page, nothing stored?"""
    hidden = open_form(client)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    response = client.post("/apply", data={**factories.application_form(address="東" * 5000), **hidden})
    assert response.status_code == 413
    assert "上限を超えています" in response.get_data(as_text=True)
    with app.app_context():
        assert count_applications() == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/apply/validate"), ("put", "/apply"), ("delete", "/apply"), ("post", "/apply/done")],
)
def test_wrong_method_is_refused_with_405(client, method, path):
    """Is a method a route does not take refused with the Japanese 405 page?"""
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert "この方法では操作できません" in response.get_data(as_text=True)


def test_r_app_1_receipt_numbers_are_neither_guessable_nor_sequential(app, client):
    """Do successive applications get unrelated receipt numbers in the documented format?"""
    for _ in range(4):
        assert post_application(client).status_code == 302
    with app.app_context():
        receipts = db.session.scalars(select(Application.receipt_number).order_by(Application.id)).all()
    assert len(set(receipts)) == 4
    pattern = re.compile(rf"R-[{onboarding.RECEIPT_ALPHABET}]{{{onboarding.RECEIPT_LENGTH}}}")
    assert all(pattern.fullmatch(r) for r in receipts)
    for earlier, later in zip(receipts, receipts[1:], strict=False):
        shared = len(next((p for p in (earlier[:n] for n in range(12, 1, -1)) if later.startswith(p)), "R-"))
        assert shared < 8  # random: no long common prefix, as a counter would have


def test_apply_submissions_are_rate_limited_per_ip(app, client, monkeypatch):
    """Past APPLY_RATE_LIMIT, is the next submission refused with the Japanese 429 page, unstored?"""
    monkeypatch.setitem(app.config, "APPLY_RATE_LIMIT", "2 per hour")
    assert post_application(client).status_code == 302
    assert post_application(client).status_code == 302
    response = post_application(client)
    assert response.status_code == 429
    assert "しばらく時間をおいて" in response.get_data(as_text=True)
    with app.app_context():
        assert count_applications() == 2


def test_receipt_page_without_an_application_goes_back_to_the_form(client):
    """Does /apply/done without a submission in this browser lead back to the form?"""
    response = client.get("/apply/done")
    assert response.status_code == 302 and response.headers["Location"].endswith("/apply")


def test_terms_page_states_our_own_terms_with_the_articles_the_portal_cites(client):
    """Does /terms carry the articles the portal refers to (第3条 notices, 第6条 refusal grounds, 第11条
    renewal, 第11条の2 ten-year storage, 第24条 cancellation, 第28条 after termination, 第33条), with its version?"""
    body = client.get("/terms").get_data(as_text=True)
    for anchor in ("art-3", "art-6", "art-11", "art-11-2", "art-11-3", "art-24", "art-25", "art-28", "art-33"):
        assert f'id="{anchor}"' in body, anchor
    assert "版 2026-11" in body
    assert "10年間" in body and "30日前" in body and "7日後" in body and "3か月" in body and "年8.25％" in body


def test_privacy_page_says_what_is_collected_and_how_long_it_is_kept(client):
    """Does /privacy say what is collected, why, and for how long?"""
    body = client.get("/privacy").get_data(as_text=True)
    assert "取得する情報" in body and "利用目的" in body and "保存期間" in body and "10年間" in body
