"""`flask portal seed-demo`: demo staff and two demo companies made through the real acceptance path,
idempotent, and their logins work."""
from __future__ import annotations

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Application, Case, Certificate, Company, Contract, OutboxItem, SentNotice, User
from portal.services import demo

MODELS = (User, Company, Contract, Application, Certificate, Case, SentNotice, OutboxItem)


def counts() -> dict[str, int]:
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model)) for model in MODELS}


def test_seed_demo_creates_staff_and_three_accepted_companies_once(app, ctx, runner, portal_pki):
    """Does seed-demo make the staff admin and three companies with everything acceptance gives (contract,
    certificate, acceptance notice), a case in every state, print the logins, and create nothing on a
    second run?"""
    first = runner.invoke(args=["portal", "seed-demo"])
    assert first.exit_code == 0, first.output
    db.session.expire_all()
    after_first = counts()
    assert after_first["Company"] == 3 and after_first["Contract"] == 3 and after_first["Certificate"] == 3
    statuses = sorted(db.session.scalars(select(Case.status)))
    assert statuses == ["complete", "draft", "returned", "waiting"]
    assert db.session.scalar(select(User.role).where(User.login_id == "staff")) == "staff_admin"
    for login in ("demo-a", "demo-b", "demo-c", "demo-a-member", "demo-b-member", "demo-c-member"):
        user = db.session.scalar(select(User).where(User.login_id == login))
        assert user is not None and user.company_id is not None and not user.must_change_password
    kinds = set(db.session.scalars(select(SentNotice.kind)))
    assert "acceptance" in kinds
    assert "demo-a / ukeoi-demo-2026" in first.output and "staff / ukeoi-demo-2026" in first.output

    second = runner.invoke(args=["portal", "seed-demo"])
    assert second.exit_code == 0, second.output
    db.session.expire_all()
    assert counts() == after_first
    assert second.output == first.output


def test_demo_logins_work_on_the_login_page(app, ctx, client, auth, portal_pki):
    """Can the demo contact person and the demo staff admin log in with the printed password?"""
    logins = demo.seed_demo()
    db.session.commit()
    contact = next(login for login in logins if login.login_id == "demo-a")
    response = auth.login(contact.login_id, contact.password)
    assert response.status_code == 302 and "/login" not in response.headers["Location"]
    auth.logout()
    response = auth.login("staff", demo.DEMO_PASSWORD, follow=True)
    assert "運営ホーム" in response.get_data(as_text=True)
