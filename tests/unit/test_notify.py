"""services/notify.py: every mail is a SentNotice first; the file backend really writes it; the mail
job (real RQ SimpleWorker on the real Redis) delivers queued notices and records when (第3条)."""
from __future__ import annotations

import pytest
from redis import Redis
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from sqlalchemy import func, select

from portal import jobs
from portal.extensions import db
from portal.models import OutboxItem, SentNotice
from portal.services import notify
from tests.mail_tools import body_of, closed_port, mail_files


def test_send_writes_the_message_and_records_sent_at(app, ctx):
    """Does send() deliver through the file backend and record the time it was sent?"""
    notice = notify.send("test", "taro@example.jp", "お知らせ", "本文です。\n二行目。", company_id=None)
    db.session.commit()
    assert notice.sent_at is not None and notice.error is None
    [message] = mail_files(app)
    assert message["To"] == "taro@example.jp"
    assert message["Subject"] == "【Ukeoi】お知らせ"
    assert message["X-Ukeoi-Notice"] == str(notice.id)
    assert "本文です。" in body_of(message)


def test_same_dedupe_key_returns_the_existing_notice_and_sends_nothing(app, ctx):
    """Does a second send() with the same dedupe_key return the first notice without another mail?"""
    first = notify.send("warning", "a@example.jp", "期限のお知らせ", "一回目", dedupe_key="warn:1:90")
    second = notify.send("warning", "a@example.jp", "期限のお知らせ", "二回目", dedupe_key="warn:1:90")
    db.session.commit()
    assert second.id == first.id
    assert db.session.scalar(select(func.count(SentNotice.id))) == 1
    assert len(mail_files(app)) == 1


def test_queue_records_without_sending_and_the_mail_job_delivers(app, ctx, run_jobs):
    """Does queue() only record (web requests never send), and does the RQ job send it and set sent_at?"""
    notice = notify.queue("test", "hanako@example.jp", "受付のお知らせ", "受け付けました。")
    db.session.commit()
    notice_id = notice.id
    assert notice.sent_at is None
    assert mail_files(app) == []
    item = db.session.scalar(select(OutboxItem).where(OutboxItem.kind == "mail", OutboxItem.ref_id == notice_id))
    assert item is not None and item.status == "pending"

    run_jobs()

    db.session.expire_all()
    notice = db.session.get(SentNotice, notice_id)
    assert notice.sent_at is not None
    assert db.session.get(OutboxItem, item.id).status == "done"
    [message] = mail_files(app)
    assert message["X-Ukeoi-Notice"] == str(notice_id)
    assert "受け付けました。" in body_of(message)


def test_queue_with_a_used_dedupe_key_queues_nothing(app, ctx):
    """Does queue() with a key already used return that notice and add no second outbox item?"""
    first = notify.queue("test", "a@example.jp", "件名", "本文", dedupe_key="once")
    second = notify.queue("test", "a@example.jp", "件名", "本文", dedupe_key="once")
    db.session.commit()
    assert first.id == second.id
    assert db.session.scalar(select(func.count(OutboxItem.id)).where(OutboxItem.kind == "mail")) == 1


def test_a_refused_delivery_records_the_error_and_the_job_retries_later(app, ctx, run_jobs, monkeypatch):
    """When the SMTP server cannot be reached, is the error recorded, sent_at left empty, the outbox item
    put back for RQ's retry — and does a later run deliver it?"""
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", closed_port())
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 2)
    notice = notify.queue("test", "a@example.jp", "件名", "本文")
    db.session.commit()
    notice_id = notice.id
    item_id, item_job_id = db.session.execute(
        select(OutboxItem.id, OutboxItem.job_id).where(OutboxItem.ref_id == notice_id)
    ).one()

    run_jobs()

    db.session.expire_all()
    job = Job.fetch(item_job_id, connection=Redis.from_url(app.config["REDIS_URL"]), serializer=JSONSerializer)
    assert job.get_status() == JobStatus.SCHEDULED  # RQ will retry it, not given up
    notice = db.session.get(SentNotice, notice_id)
    assert notice.sent_at is None
    assert "ConnectionRefused" in notice.error
    assert db.session.get(OutboxItem, item_id).status == "pending"

    monkeypatch.setitem(app.config, "MAIL_BACKEND", "file")
    jobs.send_mail(item_id)  # what RQ's retry runs

    db.session.expire_all()
    notice = db.session.get(SentNotice, notice_id)
    assert notice.sent_at is not None and notice.error is None
    assert db.session.get(OutboxItem, item_id).status == "done"
    assert len(mail_files(app)) == 1


def test_send_hands_a_refused_mail_to_the_mail_job(app, ctx, monkeypatch):
    """Does send() that cannot reach the server keep the notice and queue it for the retrying job?"""
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", closed_port())
    notice = notify.send("test", "a@example.jp", "件名", "本文")
    db.session.commit()
    assert notice.sent_at is None and notice.error
    assert db.session.scalar(select(OutboxItem.status).where(OutboxItem.ref_id == notice.id)) == "pending"


def test_a_replayed_mail_job_sends_nothing_twice(app, ctx, run_jobs):
    """If the mail job runs again for a delivered notice, is no second message written?"""
    notice = notify.queue("test", "a@example.jp", "件名", "本文")
    db.session.commit()
    item_id = db.session.scalar(select(OutboxItem.id).where(OutboxItem.ref_id == notice.id))
    run_jobs()
    jobs.send_mail(item_id)
    notify.deliver(db.session.get(SentNotice, notice.id))
    assert len(mail_files(app)) == 1


def test_mail_templates_are_plain_text_without_html_escaping(app, ctx):
    """Are .txt mail templates left unescaped (a company name with & and < arrives as typed)?"""
    from types import SimpleNamespace

    application = SimpleNamespace(
        contact_name="山田 花子", receipt_number="R-ABCDEFGHJK", company_name="山田&<工務店>",
        company_name_kana="ヤマダ",
        corporate_number="7000012050002", license_number=None, postal_code="100-0001", address="東京都",
        representative_title="代表取締役", representative_name="山田 太郎", phone="03-1234-5678",
        contact_department=None, contact_email="h@example.jp", contact_phone="090-1234-5678", terms_version="2026-11",
    )  # fmt: skip
    body = notify.render("application_received.txt", application=application, plan_label="スタンダード")
    assert "山田&<工務店>" in body
    assert "&amp;" not in body
    assert "送信専用" in body  # the common footer is appended


def test_links_in_mail_use_the_public_base_url(app, ctx, monkeypatch):
    """Are links in mail absolute, on PUBLIC_BASE_URL, with no request needed?"""
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://portal.example.jp/ukeoi")
    assert notify.public_url("public.correction", token="abc") == "https://portal.example.jp/ukeoi/apply/correct/abc"


def test_a_secret_link_must_show_masked_in_the_body_it_is_queued_with(app, ctx):
    """Is a notice refused (nothing recorded) when its body does not carry the masked link that
    delivery is to fill — so no caller can put the real link in the stored body by mistake?"""
    link = notify.SecretLink("password", 1)
    with pytest.raises(ValueError, match="masked_url"):
        notify.queue("password_reset", "a@example.jp", "件名", "http://localhost/password/reset/tok", secret_link=link)
    db.session.rollback()
    assert db.session.scalar(select(func.count(SentNotice.id))) == 0
