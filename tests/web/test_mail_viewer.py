"""The staff mail page: every recorded notice (第3条) with its body and delivery state, so that the
demo is usable with the file backend and no mail server; staff only."""
from __future__ import annotations

import pytest

from portal.extensions import db
from portal.services import notify


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


def test_staff_see_every_notice_with_its_state(client, auth, staff_user, notices):
    """Does the mail page list both notices, the sent one with its time and the other as waiting,
    and name the file backend?"""
    auth.login("staff1")
    body = client.get("/admin/mail").get_data(as_text=True)
    assert "【Ukeoi】保守作業のお知らせ" in body and "【Ukeoi】料金改定のお知らせ" in body
    assert "送信待ち" in body
    assert "ファイル保存" in body


def test_staff_read_a_notice_body_and_its_sent_time(client, auth, staff_user, notices, company_a):
    """Does a notice's page show recipient, body and the time it was sent?"""
    auth.login("staff1")
    page = client.get(f"/admin/mail/{notices['sent']}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "taro@example.jp" in body and "12月1日 2時から4時まで停止します。" in body
    assert 'id="mail-sent-at">20' in body  # a date, not 未送信
    assert company_a.name in body


def test_mail_list_filters_by_state_and_word(client, auth, staff_user, notices):
    """Do the state and search filters narrow the list?"""
    auth.login("staff1")
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


def test_unknown_notice_is_404(client, auth, staff_user):
    """Is a notice id that does not exist a Japanese 404?"""
    auth.login("staff1")
    response = client.get("/admin/mail/999999")
    assert response.status_code == 404 and "メールが見つかりません" in response.get_data(as_text=True)


def test_a_failed_notice_shows_its_error(client, auth, staff_user, ctx):
    """Is the reason a delivery failed shown to staff?"""
    from portal.models import SentNotice

    error = "SMTPRecipientsRefused: 550"
    notice = SentNotice(kind="x", recipient="a@example.jp", subject="件名", body="本文", error=error)
    db.session.add(notice)
    db.session.commit()
    auth.login("staff1")
    body = client.get(f"/admin/mail/{notice.id}").get_data(as_text=True)
    assert "SMTPRecipientsRefused: 550" in body
    listed = client.get("/admin/mail?state=error").get_data(as_text=True)
    assert f"/admin/mail/{notice.id}" in listed and "エラー" in listed
