"""The first password of a new contact person (R-ACC-1, 第7条1項, 第15条): the 利用受諾通知 carries no
password but a single-use set-password link, hashed and expiring, whose token the mail job mints when
it sends the mail — so a retried delivery still sends a working link and the database never holds one."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import jobs
from portal.clock import now_utc, today_jst
from portal.extensions import db
from portal.models import OutboxItem, PasswordReset, SentNotice, User
from portal.services import accounts, onboarding
from tests import factories
from tests.conftest import csrf_token_from
from tests.mail_tools import closed_port, delivered_body, link_token, mail_files
from tests.web.accounts_support import audit_actions, login, make_client, text

NEW_PASSWORD = "my own first passphrase"  # noqa: S105 (test data)


@pytest.fixture
def accepted(ctx, staff_user, portal_pki):
    """An accepted application: its contact person's id and login ID (the mail not yet delivered)."""
    application = factories.application()
    db.session.commit()
    result = onboarding.accept(application, today_jst(), staff_user)
    db.session.commit()
    return {"user_id": result.user.id, "login_id": result.user.login_id, "notice_id": result.notice.id}


def _set_password(client, token: str, password: str = NEW_PASSWORD):
    form = client.get(f"/password/reset/{token}")
    assert form.status_code == 200, text(form)
    return client.post(
        f"/password/reset/{token}",
        data={"new_password": password, "new_password_confirm": password, "csrf_token": csrf_token_from(form)},
    )


def test_r_acc_1_new_contact_sets_the_first_password_through_the_link_once(app, accepted, run_jobs):
    """Can the new contact person log in only after setting a password through the mailed link — with
    no change forced afterwards — and is the link refused on replay, changing nothing?"""
    client = make_client(app)
    assert login(client, accepted["login_id"], "anything at all 2026").status_code == 200  # no usable password yet
    run_jobs()
    token = link_token(delivered_body(app, "acceptance"))

    assert _set_password(client, token).status_code == 302
    assert login(client, accepted["login_id"], NEW_PASSWORD).headers["Location"] == "/"
    assert "password.set" in [event.action for event in audit_actions("password.")]

    replay = make_client(app)
    assert replay.get(f"/password/reset/{token}").status_code == 400
    other_form = replay.get("/password/forgot")
    refused = replay.post(
        f"/password/reset/{token}",
        data={"new_password": "a replayed passphrase", "new_password_confirm": "a replayed passphrase",
              "csrf_token": csrf_token_from(other_form)},
    )  # fmt: skip
    assert refused.status_code == 400 and "使用済みか、有効期限が切れています" in text(refused)
    db.session.expire_all()
    assert accounts.verify_password(db.session.get(User, accepted["user_id"]), NEW_PASSWORD)


def test_r_acc_1_setup_link_lives_the_configured_hours_from_delivery_then_is_refused(app, accepted, run_jobs):
    """Does the link expire PASSWORD_SETUP_HOURS after its mail was sent, and is an expired one
    refused with the Japanese explanation, the password unchanged?"""
    run_jobs()
    token = link_token(delivered_body(app, "acceptance"))
    link = db.session.scalar(select(PasswordReset).where(PasswordReset.user_id == accepted["user_id"]))
    sent_at = db.session.get(SentNotice, accepted["notice_id"]).sent_at
    assert link.purpose == "setup"
    assert link.expires_at - sent_at == timedelta(hours=app.config["PASSWORD_SETUP_HOURS"])

    link.expires_at = now_utc() - timedelta(seconds=1)
    db.session.commit()
    before = db.session.get(User, accepted["user_id"]).password_hash
    page = make_client(app).get(f"/password/reset/{token}")
    assert page.status_code == 400 and "有効期限が切れています" in text(page)
    db.session.expire_all()
    assert db.session.get(User, accepted["user_id"]).password_hash == before


def test_r_acc_1_a_failed_delivery_stores_no_token_and_the_retry_mails_a_working_link(
    app, accepted, run_jobs, monkeypatch
):
    """When the mail server refuses the 利用受諾通知 first, is no token left anywhere in the database —
    and does RQ's retry still deliver a link that works?"""
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", closed_port())
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 2)
    run_jobs()
    db.session.expire_all()
    assert db.session.get(SentNotice, accepted["notice_id"]).error
    assert db.session.scalar(select(PasswordReset.token_hash)) is None  # the failed attempt's hash rolled back
    assert mail_files(app) == []

    monkeypatch.setitem(app.config, "MAIL_BACKEND", "file")
    item_id = db.session.scalar(select(OutboxItem.id).where(OutboxItem.ref_id == accepted["notice_id"]))
    jobs.send_mail(item_id)  # what RQ's retry runs

    token = link_token(delivered_body(app, "acceptance"))
    db.session.expire_all()
    notice = db.session.get(SentNotice, accepted["notice_id"])
    assert notice.sent_at is not None and token not in notice.body
    assert all(token not in str(item.payload) for item in db.session.scalars(select(OutboxItem)))
    assert _set_password(make_client(app), token).status_code == 302


def test_r_acc_1_after_an_expired_setup_link_a_reset_link_still_opens_the_account(app, accepted, run_jobs):
    """If the contact person lets the set-password link expire, can they still get in through the
    forgotten-password link (the way the expiry message points to)?"""
    run_jobs()
    link = db.session.scalar(select(PasswordReset))
    link.expires_at = now_utc() - timedelta(seconds=1)
    db.session.commit()
    client = make_client(app)
    form = client.get("/password/forgot")
    client.post("/password/forgot", data={"identifier": accepted["login_id"], "csrf_token": csrf_token_from(form)})
    run_jobs()
    token = link_token(delivered_body(app, "password_reset"))
    assert _set_password(client, token).status_code == 302
    assert login(client, accepted["login_id"], NEW_PASSWORD).headers["Location"] == "/"
