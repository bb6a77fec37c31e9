"""Password expiry past the grace period (R-ACC-2, 第15条5項): the daily job suspends the ID, the
user cannot log in, and staff lift the suspension with a new temporary password."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from redis import Redis
from rq import Queue
from rq.cron import CronScheduler
from rq.serializers import JSONSerializer
from sqlalchemy import select

from portal.clock import now_utc
from portal.extensions import db
from portal.models import User
from portal.services import accounts
from portal.services.audit import Actor
from portal.services.errors import NotFound
from tests import factories
from tests.conftest import csrf_token_from
from tests.mail_tools import delivered_body, link_token
from tests.web.accounts_support import audit_actions, fresh, login, mails, make_client, post, text

TODAY = date(2027, 1, 31)


@pytest.fixture
def client(app):
    return make_client(app)


def _changed_days_before(user: User, days: int) -> None:
    """Password changed at 12:00 JST, `days` calendar days before TODAY."""
    day = TODAY - timedelta(days=days)
    user.password_changed_at = datetime(day.year, day.month, day.day, 3, 0, tzinfo=UTC)


@pytest.fixture
def aged(app, company_a):
    """a-contact within grace; a-member one day past grace; a staff user long expired."""
    max_age, grace = app.config["PASSWORD_MAX_AGE_DAYS"], app.config["PASSWORD_GRACE_DAYS"]
    users = {u.login_id: u for u in db.session.scalars(select(User))}
    _changed_days_before(users["a-contact"], max_age + grace - 1)  # last day of the grace period
    _changed_days_before(users["a-member"], max_age + grace)  # first day past it
    staff = factories.staff(login_id="staff-old")
    _changed_days_before(staff, max_age + grace + 100)
    db.session.commit()
    return users


def test_r_acc_2_job_suspends_only_ids_past_the_grace_period(ctx, aged):
    """On a given day, does the job suspend the ID past grace and leave the one still within grace?"""
    suspended = accounts.suspend_expired_passwords(today=TODAY)
    db.session.commit()
    assert suspended == [aged["a-member"].id]
    assert fresh(User, aged["a-member"].id).suspended_at is not None
    assert fresh(User, aged["a-contact"].id).suspended_at is None


def test_r_acc_2_job_never_suspends_staff(ctx, aged):
    """Are operator staff exempt from suspension (they would lock the operator out)?"""
    accounts.suspend_expired_passwords(today=TODAY)
    db.session.commit()
    staff = db.session.scalar(select(User).where(User.login_id == "staff-old"))
    assert staff.suspended_at is None


def test_r_acc_2_job_is_idempotent_and_mails_once(ctx, aged):
    """Does a second run the same night suspend nobody new and send no second mail?"""
    accounts.suspend_expired_passwords(today=TODAY)
    db.session.commit()
    assert accounts.suspend_expired_passwords(today=TODAY) == []
    db.session.commit()
    assert len(mails("user_suspended")) == 1
    assert len([e for e in audit_actions("user.suspended")]) == 1


def test_r_acc_2_the_next_day_catches_the_user_within_grace_today(ctx, aged):
    """Does the user on the last grace day today get suspended by the next day's run?"""
    accounts.suspend_expired_passwords(today=TODAY)
    assert aged["a-contact"].id in accounts.suspend_expired_passwords(today=TODAY + timedelta(days=1))


def test_r_acc_2_suspended_user_cannot_log_in_and_is_told_why(client, aged):
    """Is a suspended ID refused at login with the reason, but only after the right password?"""
    accounts.suspend_expired_passwords(today=TODAY)
    db.session.commit()
    body = text(login(client, "a-member"))
    assert "停止されています" in body
    assert "停止" not in text(login(client, "a-member", "wrong-password-123")).split("<main")[1].split("</main>")[0]


def test_r_acc_2_suspension_ends_live_sessions(app, client, aged):
    """Is a user logged in at the time of the nightly run logged out by it?"""
    login(client, "a-member")
    accounts.suspend_expired_passwords(today=TODAY)
    db.session.commit()
    response = client.get("/account/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_r_acc_2_the_rq_job_runs_on_a_real_worker(app, ctx, run_jobs, company_a):
    """Does portal.jobs.suspend_expired_passwords run through RQ (JSON serializer) and commit?"""
    member = db.session.scalar(select(User).where(User.login_id == "a-member"))
    member.password_changed_at = now_utc() - timedelta(days=400)
    db.session.commit()
    queue = Queue("maintenance", connection=Redis.from_url(app.config["REDIS_URL"]), serializer=JSONSerializer)
    job = queue.enqueue("portal.jobs.suspend_expired_passwords")
    run_jobs()
    assert job.get_status(refresh=True) == "finished"
    assert fresh(User, member.id).suspended_at is not None


def test_r_acc_2_cron_registers_the_daily_job(app):
    """Does rq cron, loading portal.cron, schedule the suspension job daily at 03:15 on the maintenance queue?"""
    scheduler = CronScheduler(connection=Redis.from_url(app.config["REDIS_URL"]))
    scheduler.load_config_from_file("portal.cron")
    jobs = {job.func_name: job for job in scheduler.get_jobs()}
    job = jobs["portal.jobs.suspend_expired_passwords"]
    assert job.cron == "15 3 * * *"
    assert job.queue_name == "maintenance"


# --- staff lift the suspension ---------------------------------------------------------------------


def test_r_acc_2_staff_lift_mails_a_set_password_link_not_a_password(app, client, aged, staff_user, run_jobs):
    """Does lifting clear the suspension, stop the expired password, and mail a single-use set-password
    link (the stored mail holding it masked, and no password) with which the user sets a new one?"""
    accounts.suspend_expired_passwords(today=TODAY)
    db.session.commit()
    member_id = aged["a-member"].id
    login(client, "staff1")
    page = client.get("/admin/users/suspended")
    assert "a-member" in text(page)
    response = post(client, f"/admin/users/{member_id}/lift-suspension", page="/admin/users/suspended")
    assert response.status_code == 303
    member = fresh(User, member_id)
    assert member.suspended_at is None and member.must_change_password is True
    assert not accounts.verify_password(member, factories.PASSWORD)
    mail = mails("user_suspension_lifted")[0]
    assert "/password/reset/••••" in mail.body and "仮パスワード" not in mail.body
    assert "user.suspension_lifted" in [e.action for e in audit_actions("user.")]
    assert audit_actions("user.suspension_lifted")[0].user_id == staff_user.id
    # The lifted user is not suspended again by the next run: the password age restarted.
    assert accounts.suspend_expired_passwords() == []

    run_jobs()
    token = link_token(delivered_body(app, "user_suspension_lifted"))
    assert token not in mails("user_suspension_lifted")[0].body
    user_client = make_client(app)
    form = user_client.get(f"/password/reset/{token}")
    new_password = "after the lift 2027 spring"
    done = user_client.post(
        f"/password/reset/{token}",
        data={"new_password": new_password, "new_password_confirm": new_password, "csrf_token": csrf_token_from(form)},
    )
    assert done.status_code == 302
    assert login(user_client, "a-member", new_password).headers["Location"] == "/"


def test_lifting_an_id_that_is_not_suspended_is_409(client, company_a, staff_user):
    """Is lifting a non-suspended ID refused with 409, changing nothing?"""
    login(client, "staff1")
    member = db.session.scalar(select(User).where(User.login_id == "a-member"))
    response = post(client, f"/admin/users/{member.id}/lift-suspension", page="/admin/users/suspended")
    assert response.status_code == 409
    assert accounts.verify_password(fresh(User, member.id), factories.PASSWORD)


def test_lifting_unknown_or_staff_ids_is_404(ctx, staff_user):
    """Is a made-up id or a staff id unknown to the lift action?"""
    for user_id in (999999, staff_user.id):
        with pytest.raises(NotFound):
            accounts.lift_suspension(user_id, Actor(user_id=staff_user.id))


def test_company_users_cannot_lift_suspensions(client, aged):
    """Is a company user refused the staff lift action with 403?"""
    accounts.suspend_expired_passwords(today=TODAY)
    db.session.commit()
    login(client, "a-contact")
    response = post(client, f"/admin/users/{aged['a-member'].id}/lift-suspension")
    assert response.status_code == 403
    assert fresh(User, aged["a-member"].id).suspended_at is not None


def test_company_page_and_staff_home_show_suspended_ids_with_the_lift_action(client, aged, staff_user):
    """Do staff see a company's suspended ID with the lift button on its page, and a count on their home?"""
    accounts.suspend_expired_passwords(today=TODAY)
    db.session.commit()
    company_id = aged["a-member"].company_id
    login(client, "staff1")
    home = text(client.get("/admin/"))
    assert 'id="panel-accounts"' in home and "停止中のユーザーID" in home
    page = text(client.get(f"/admin/companies/{company_id}"))
    assert f'id="company-suspended-{aged["a-member"].id}"' in page
    assert f"/admin/users/{aged['a-member'].id}/lift-suspension" in page
    back = post(
        client,
        f"/admin/users/{aged['a-member'].id}/lift-suspension",
        {"next": f"/admin/companies/{company_id}"},
        page=f"/admin/companies/{company_id}",
    )
    assert back.headers["Location"] == f"/admin/companies/{company_id}"
    assert fresh(User, aged["a-member"].id).suspended_at is None
