"""The staff mail page: every recorded notice (第3条) with its body and delivery state — for staff
administrators only, and never with a secret: a reset, set-password or correction link is stored
and shown masked, its token minted when the mail is sent."""
from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import OutboxItem, SentNotice
from portal.services import notify
from tests.conftest import AuthActions, csrf_token_from
from tests.mail_tools import delivered_body, link_token


@pytest.fixture
def notices(ctx, company_a, run_jobs):
    """One delivered notice and one still queued; returns their ids."""
    sent = notify.queue("notice_test", "taro@example.jp", "保守作業のお知らせ", "12月1日 2時から4時まで停止します。",
                        company_id=company_a.id)  # fmt: skip
    db.session.commit()
    run_jobs()
    waiting = notify.queue("notice_test", "jiro@example.jp", "料金改定のお知らせ", "来年4月から改定します。")
    db.session.commit()
    return {"sent": sent.id, "waiting": waiting.id}


def test_staff_see_every_notice_with_its_state(client, auth, staff_admin, notices):
    """Does the mail page list both notices, the sent one with its time and the other as waiting,
    and name the file backend?"""
    auth.login("admin1")
    body = client.get("/admin/mail").get_data(as_text=True)
    assert "【Ukeoi】保守作業のお知らせ" in body and "【Ukeoi】料金改定のお知らせ" in body
    assert "送信待ち" in body
    assert "ファイル保存" in body


def test_staff_read_a_notice_body_and_its_sent_time(client, auth, staff_admin, notices, company_a):
    """Does a notice's page show recipient, body and the time it was sent?"""
    auth.login("admin1")
    page = client.get(f"/admin/mail/{notices['sent']}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "taro@example.jp" in body and "12月1日 2時から4時まで停止します。" in body
    assert 'id="mail-sent-at">20' in body  # a date, not 未送信
    assert company_a.name in body


def test_mail_list_filters_by_state_and_word(client, auth, staff_admin, notices):
    """Do the state and search filters narrow the list?"""
    auth.login("admin1")
    body = client.get("/admin/mail?state=unsent").get_data(as_text=True)
    assert "料金改定" in body and "保守作業" not in body
    body = client.get("/admin/mail?q=taro@").get_data(as_text=True)
    assert "保守作業" in body and "料金改定" not in body


def test_mail_pages_refuse_company_users(client, auth, company_a, notices):
    """Is a company's user refused (403) on the mail list and on a notice, even one sent to them?"""
    auth.login("a-contact")
    assert client.get("/admin/mail").status_code == 403
    assert client.get(f"/admin/mail/{notices['sent']}").status_code == 403


def test_mail_pages_send_anonymous_visitors_to_login(client, notices):
    """Is an anonymous visitor sent to the login page?"""
    response = client.get(f"/admin/mail/{notices['sent']}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_unknown_notice_is_404(client, auth, staff_admin):
    """Is a notice id that does not exist a Japanese 404?"""
    auth.login("admin1")
    response = client.get("/admin/mail/999999")
    assert response.status_code == 404 and "メールが見つかりません" in response.get_data(as_text=True)


def test_a_failed_notice_shows_its_error(client, auth, staff_admin, ctx):
    """Is the reason a delivery failed shown to staff?"""
    error = "SMTPRecipientsRefused: 550"
    notice = SentNotice(kind="x", recipient="a@example.jp", subject="件名", body="本文", error=error)
    db.session.add(notice)
    db.session.commit()
    auth.login("admin1")
    body = client.get(f"/admin/mail/{notice.id}").get_data(as_text=True)
    assert "SMTPRecipientsRefused: 550" in body
    listed = client.get("/admin/mail?state=error").get_data(as_text=True)
    assert f"/admin/mail/{notice.id}" in listed and "エラー" in listed


def test_plain_staff_are_refused_the_mail_pages(client, auth, staff_user, notices):
    """Is a staff member who is not an administrator refused (403) on the mail list and on a notice,
    and is the menu entry not offered to them?"""
    auth.login("staff1")
    assert client.get("/admin/mail").status_code == 403
    assert client.get(f"/admin/mail/{notices['sent']}").status_code == 403
    assert "/admin/mail" not in client.get("/admin/").get_data(as_text=True)


def test_staff_cannot_take_over_a_company_account_from_a_reset_mail(
    app, client, auth, company_a, staff_user, staff_admin, run_jobs
):
    """The reported takeover: anyone asks a reset for a company user, a staff member opens the mail.
    Is plain staff refused (403); does a staff administrator see the record (to whom, what, when) with
    the link masked; is the mailed token nowhere in the page or the database, and does the masked link
    open nothing — while the user's own mailed link still works?"""
    visitor = app.test_client()
    form = visitor.get("/password/forgot")
    visitor.post("/password/forgot", data={"identifier": "a-contact", "csrf_token": csrf_token_from(form)})
    run_jobs()
    notice = db.session.scalar(select(SentNotice).where(SentNotice.kind == "password_reset"))
    mailed = link_token(delivered_body(app, "password_reset"))

    staff = app.test_client()
    AuthActions(staff).login("staff1")
    assert staff.get(f"/admin/mail/{notice.id}").status_code == 403

    auth.login("admin1")
    page = client.get(f"/admin/mail/{notice.id}").get_data(as_text=True)
    assert notice.recipient in page and "パスワード再設定のご案内" in page and 'id="mail-sent-at">20' in page
    assert "http://localhost/password/reset/••••" in page
    assert mailed not in page
    stored = [notice.body, *(str(item.payload) for item in db.session.scalars(select(OutboxItem)))]
    assert all(mailed not in text for text in stored)
    assert visitor.get("/password/reset/" + quote("••••")).status_code == 400
    assert visitor.get(f"/password/reset/{mailed}").status_code == 200


def test_kinds_show_as_japanese_labels_in_the_list_and_the_detail(client, auth, staff_admin, ctx, run_jobs):
    """Do the list and a notice's page name the kind in Japanese (利用受諾通知, not "acceptance"), and
    does a search for the label find it?"""
    notice = notify.queue("case_completed", "taro@example.jp", "署名がそろいました", "本文")
    db.session.commit()
    auth.login("admin1")
    listed = client.get("/admin/mail").get_data(as_text=True)
    assert "契約の締結" in listed and "case_completed" not in listed
    detail = client.get(f"/admin/mail/{notice.id}").get_data(as_text=True)
    assert 'id="mail-kind">契約の締結<' in detail
    assert "署名がそろいました" in client.get("/admin/mail?q=締結").get_data(as_text=True)  # the label, not the subject
    assert notify.kind_label("acceptance") == "利用受諾通知"
