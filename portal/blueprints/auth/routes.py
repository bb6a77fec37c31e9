"""Login, logout, password change and the emailed reset link (R-ACC-1, R-ACC-2, 第15条)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, g, has_request_context, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from portal.blueprints.auth import bp
from portal.blueprints.auth.actor import request_actor
from portal.blueprints.auth.forms import ChangePasswordForm, ForgotPasswordForm, LoginForm, ResetPasswordForm
from portal.extensions import client_ip, db, limiter
from portal.services import accounts, login_throttle

GENERIC_FAILURE = "ユーザーIDまたはパスワードが正しくありません。"
# While a password must be changed, only these endpoints (and the public blueprint) stay reachable.
OPEN_WHILE_CHANGE_REQUIRED = {
    "static",
    "auth.change_password",
    "auth.logout",
    "auth.forgot_password",
    "auth.reset_password",
}


def _config_value(name: str):
    return lambda: current_app.config[name]


def _identifier_key() -> str:
    return "reset:" + ((request.form.get("identifier") or "").strip().casefold()[:254] or "-")


def _ip_key() -> str:
    return "ip:" + client_ip()


def _fresh_session() -> None:
    """Forget everything the browser's session held: whatever was planted in it before a login
    (session fixation) and Flask-WTF's CSRF secret, so a form token issued before the login or
    logout is refused after it; the next page gets a new one."""
    session.clear()
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def _safe_next(target: str | None) -> str | None:
    """A same-site path from ?next=, never another host (open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with user ID and password; on success a new server-side session, and the browser's
    session (with its CSRF token) starts empty.

    A wrong ID or password gives one generic message; too many wrong passwords for one ID from one
    address, or from one address overall, give 429 (login_throttle). An ID that may not log in
    (disabled, suspended, company blocked) is told so, but only once the password was right."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            with login_throttle.counted(form.login_id.data, client_ip()):
                user = accounts.authenticate(form.login_id.data, form.password.data, request_actor())
        except accounts.LoginFailed:
            db.session.commit()  # the audit record of the failure
            form.form_errors.append(GENERIC_FAILURE)
        except accounts.LoginRefused as exc:
            db.session.commit()
            form.form_errors.append(exc.message)
        else:
            next_url = _safe_next(request.args.get("next"))
            accounts.start_session(user, client_ip(), request.user_agent.string)
            db.session.commit()
            _fresh_session()
            login_user(user)
            if accounts.password_change_reason(user):
                return redirect(url_for("auth.change_password"))
            return redirect(next_url or url_for("home.index"))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    """End the server-side session, so the old cookie is worthless, and empty the browser's session
    (a CSRF token from before is refused from now on)."""
    accounts.end_session(current_user.login_session.id)
    db.session.commit()
    _fresh_session()
    logout_user()
    flash("ログアウトしました。", "success")
    return redirect(url_for("auth.login"))


@bp.route("/password/change", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password (forced after a temporary password or expiry); other sessions end."""
    reason = accounts.password_change_reason(current_user)
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(
                current_user,
                form.current_password.data,
                form.new_password.data,
                keep_session=current_user.login_session.id,
                actor=request_actor(),
            )
        except accounts.PasswordRejected as exc:
            db.session.rollback()
            getattr(form, exc.field).errors.extend(exc.problems)
        else:
            db.session.commit()
            flash("パスワードを変更しました。ほかの端末でのログインは終了しました。", "success")
            return redirect(url_for("home.index"))
    state = accounts.password_state(current_user) if not current_user.must_change_password else None
    return render_template("auth/change_password.html", form=form, reason=reason, state=state)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_config_value("PASSWORD_RESET_LIMIT_PER_ACCOUNT"), key_func=_identifier_key, methods=["POST"])
@limiter.limit(_config_value("PASSWORD_RESET_LIMIT_PER_IP"), key_func=_ip_key, methods=["POST"])
def forgot_password():
    """Ask for a reset link by user ID or email. The answer is the same whether or not it exists."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        accounts.request_password_reset(form.identifier.data, request_actor())
        db.session.commit()
        return render_template("auth/forgot_sent.html", minutes=current_app.config["PASSWORD_RESET_MINUTES"])
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_config_value("PASSWORD_RESET_LIMIT_PER_IP"), key_func=_ip_key, methods=["POST"])
def reset_password(token: str):
    """Set a new password through an emailed link: single use, expiring; every session ends.

    An unknown, used or expired link gets a 400 page saying so, and nothing changes."""
    try:
        user = accounts.reset_link_user(token)
    except accounts.ResetLinkInvalid as exc:
        return render_template("auth/reset_invalid.html", message=exc.message), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.reset_password(token, form.new_password.data, request_actor())
        except accounts.PasswordRejected as exc:
            db.session.rollback()
            form.new_password.errors.extend(exc.problems)
        except accounts.ResetLinkInvalid as exc:
            return render_template("auth/reset_invalid.html", message=exc.message), 400
        else:
            db.session.commit()
            _fresh_session()
            logout_user()
            flash("新しいパスワードを設定しました。新しいパスワードでログインしてください。", "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form, user=user, token=token)


@bp.before_app_request
def require_password_change():
    """App-wide: a user with a temporary or expired password goes to the change page first."""
    if request.endpoint in OPEN_WHILE_CHANGE_REQUIRED or request.blueprint == "public" or request.endpoint is None:
        return None
    if current_user.is_authenticated and accounts.password_change_reason(current_user):
        return redirect(url_for("auth.change_password"))
    return None


@bp.app_context_processor
def password_expiry_notice():
    """`password_warning` for the banner in base.html: the state while the password expires soon."""

    def warning():
        if not has_request_context() or not current_user.is_authenticated:
            return None
        return accounts.expiry_warning(current_user)

    return {"password_warning": warning}
