"""Asking an applicant to correct an application (R-APP-2): a single-use mailed link to the same
application, prefilled; resubmitting puts it back to review, and a replayed link is refused. The
link's token is minted when the mail is sent; the stored mail shows it masked."""
from __future__ import annotations

import re

from sqlalchemy import select

from portal.extensions import db
from portal.models import Application, SentNotice
from portal.services import onboarding
from tests import factories
from tests.conftest import csrf_token_from
from tests.mail_tools import body_of, delivered_body, link_token, mail_files
from tests.web.test_onboarding import hidden_fields

NOTE = "法人番号と所在地が登記と異なります。登記どおりに直してください。"


def ask_for_correction(app, staff_user, run_jobs, note=NOTE):
    """An application for which staff asked a correction, its mail delivered; returns (application id,
    the token the applicant received)."""
    with app.app_context():
        application = factories.application(address="東京都千代田区千代田9-9")
        db.session.commit()
        onboarding.request_correction(application, note, db.session.merge(staff_user))
        db.session.commit()
        application_id = application.id
    run_jobs()
    return application_id, link_token(delivered_body(app, "correction_requested"), "/apply/correct/")


def test_r_app_2_correction_mail_carries_a_link_that_opens_the_same_application_prefilled(
    app, client, staff_user, run_jobs
):
    """Does the applicant get a mail with the staff's note and a link, and does the link open the
    application with what they entered and the note?"""
    application_id, token = ask_for_correction(app, staff_user, run_jobs)
    correction = next(m for m in mail_files(app) if m["X-Ukeoi-Kind"] == "correction_requested")
    body = body_of(correction)
    assert "登記どおりに直してください" in body
    link = re.search(r"http://localhost(/apply/correct/\S+)", body).group(1)
    assert link == f"/apply/correct/{token}"

    page = client.get(link)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "登記どおりに直してください" in html
    assert 'value="東京都千代田区千代田9-9"' in html
    assert page.headers["Cache-Control"] == "no-store"
    with app.app_context():
        stored = db.session.get(Application, application_id)
        assert stored.status == "correction_requested"
        assert stored.correction_token_hash != token and len(stored.correction_token_hash) == 64
        notice = db.session.scalar(select(SentNotice).where(SentNotice.kind == "correction_requested"))
        assert token not in notice.body and "http://localhost/apply/correct/••••" in notice.body


def test_r_app_2_resubmitting_updates_the_same_application_and_the_link_then_refuses(app, client, staff_user, run_jobs):
    """Does the corrected form update the same application back to pending — and is a replay of the link
    (GET or POST) refused with a clear Japanese message, changing nothing?"""
    application_id, token = ask_for_correction(app, staff_user, run_jobs)
    path = f"/apply/correct/{token}"
    form = {**factories.application_form(address="東京都千代田区丸の内1-1"), **hidden_fields(client.get(path))}
    response = client.post(path, data=form)
    assert response.status_code == 302, re.findall(r'<p class="error"[^>]*>([^<]*)', response.get_data(as_text=True))
    with app.app_context():
        stored = db.session.get(Application, application_id)
        assert stored.status == "pending"
        assert stored.address == "東京都千代田区丸の内1-1"
        assert stored.correction_token_hash is None
        assert db.session.scalar(select(Application.id).where(Application.id != application_id)) is None
        kinds = db.session.scalars(select(SentNotice.kind).order_by(SentNotice.id)).all()
        assert kinds[-1] == "application_resubmitted"

    replay = client.get(path)
    assert replay.status_code == 404
    assert "既に使われたか、無効です" in replay.get_data(as_text=True)
    again = client.post(path, data={**factories.application_form(address="書き換え"), **form, "address": "書き換え"})
    assert again.status_code == 404
    with app.app_context():
        assert db.session.get(Application, application_id).address == "東京都千代田区丸の内1-1"


def test_r_app_2_resubmission_with_errors_keeps_the_link_usable(app, client, staff_user, run_jobs):
    """If the corrected form still has an error, is it shown next to the field and the link still valid?"""
    application_id, token = ask_for_correction(app, staff_user, run_jobs)
    path = f"/apply/correct/{token}"
    form = {**factories.application_form(postal_code="abc"), **hidden_fields(client.get(path))}
    response = client.post(path, data=form)
    assert response.status_code == 200
    assert "郵便番号は7桁" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Application, application_id).status == "correction_requested"
    assert client.get(path).status_code == 200


def test_an_unknown_correction_token_is_refused(client):
    """Is a made-up correction link refused with 404 and the Japanese explanation?"""
    response = client.get("/apply/correct/not-a-real-token")
    assert response.status_code == 404
    assert "訂正用リンク" in response.get_data(as_text=True)


def test_r_app_2_staff_correction_request_from_the_review_page(app, client, auth, staff_user, run_jobs):
    """Can staff ask for a correction from the application page, and is an empty note refused?"""
    with app.app_context():
        application = factories.application()
        db.session.commit()
        application_id = application.id
    auth.login("staff1")
    page = client.get(f"/admin/applications/{application_id}")
    token = csrf_token_from(page)
    empty = client.post(f"/admin/applications/{application_id}/correction", data={"note": "", "csrf_token": token})
    assert empty.status_code == 200
    assert "訂正していただく内容を入力してください" in empty.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Application, application_id).status == "pending"

    note = "代表者の役職を記入してください。"
    done = client.post(f"/admin/applications/{application_id}/correction", data={"note": note, "csrf_token": token})
    assert done.status_code == 302
    run_jobs()
    with app.app_context():
        stored = db.session.get(Application, application_id)
        assert stored.status == "correction_requested" and stored.correction_note == note
        notice = db.session.scalar(select(SentNotice).where(SentNotice.kind == "correction_requested"))
        assert notice.sent_at is not None and note in notice.body


def test_r_app_2_a_masked_looking_note_does_not_take_the_place_of_the_link(app, staff_user, run_jobs, client):
    """If the staff note itself contains the mask (••••), does the applicant still get the note as
    written and a working link?"""
    note = "電話番号の••••の部分を記入してください。"
    _application_id, token = ask_for_correction(app, staff_user, run_jobs, note=note)
    assert note in delivered_body(app, "correction_requested")
    assert client.get(f"/apply/correct/{token}").status_code == 200
