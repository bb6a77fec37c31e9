from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from portal.blueprints.auth import bp
from portal.blueprints.auth.forms import LoginForm
from portal.extensions import db
from portal.models import User
from portal.services import accounts

GENERIC_FAILURE = "ユーザーIDまたはパスワードが正しくありません。"


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with user ID and password. A failure never says whether the ID exists."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.login_id == form.login_id.data))
        if accounts.verify_password(user, form.password.data) and user.active and user.suspended_at is None:
            accounts.start_session(user, request.remote_addr, request.user_agent.string)
            db.session.commit()
            login_user(user)
            return redirect(url_for("home.index"))
        form.password.errors.append(GENERIC_FAILURE)
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    """End the server-side session, so the old cookie is worthless."""
    accounts.end_session(current_user.login_session.id)
    db.session.commit()
    logout_user()
    flash("ログアウトしました。", "success")
    return redirect(url_for("auth.login"))
