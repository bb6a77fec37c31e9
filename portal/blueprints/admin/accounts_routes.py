"""Staff views of accounts: review change requests (R-ACC-3) and lift password-expiry suspensions
(R-ACC-2, 第15条5項). Attached to the admin blueprint; imported automatically (*_routes.py)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from portal.blueprints.admin import bp
from portal.blueprints.admin.routes import company_section, index_section
from portal.blueprints.auth.actor import request_actor
from portal.blueprints.guards import staff_required
from portal.extensions import db
from portal.models import Company, User
from portal.services import accounts, change_requests


class ReviewForm(FlaskForm):
    note = TextAreaField(
        "コメント",
        description="却下するときは理由を必ず入力してください。申込者にメールと画面で伝わります。",
        validators=[Length(max=2000, message="2000文字以内で入力してください。")],
    )


def _labels() -> dict:
    return {
        "kinds": change_requests.KINDS,
        "fields": change_requests.FIELDS,
        "statuses": change_requests.STATUS_LABELS,
    }


@bp.get("/change-requests")
@staff_required
def change_requests_list():
    """Change requests by status (pending first, oldest first); ?status=approved|rejected|all."""
    status = request.args.get("status", "pending")
    if status not in (*change_requests.STATUS_LABELS, "all"):
        status = "pending"
    items = change_requests.for_review(None if status == "all" else status)
    return render_template("admin/change_requests.html", items=items, status=status, **_labels())


def _render_review(request_id: int, form: ReviewForm, status: int = 200):
    item = change_requests.get(request_id)
    history = [other for other in change_requests.history(item.company) if other.id != item.id]
    requester = db.session.get(User, item.requested_by_id)
    return (
        render_template(
            "admin/change_request.html", item=item, form=form, history=history, requester=requester, **_labels()
        ),
        status,
    )


@bp.get("/change-requests/<int:request_id>")
@staff_required
def change_request(request_id: int):
    """One change request with the company's earlier requests, and the approve / reject form. 404 if unknown."""
    return _render_review(request_id, ReviewForm())


def _review(request_id: int, action):
    form = ReviewForm()
    if not form.validate_on_submit():
        return _render_review(request_id, form)
    try:
        item = action(request_id, current_user, form.note.data, request_actor())
    except accounts.InvalidFields as exc:
        db.session.rollback()
        form.note.errors.append(exc.errors.get("note", exc.message))
        return _render_review(request_id, form)
    db.session.commit()
    flash(f"受付番号 {item.id} を{change_requests.STATUS_LABELS[item.status]}にしました。", "success")
    return redirect(url_for("admin.change_request", request_id=item.id), code=303)


@bp.post("/change-requests/<int:request_id>/approve")
@staff_required
def approve_change_request(request_id: int):
    """Approve: the requested values replace the registered ones. 409 if already reviewed."""
    return _review(request_id, change_requests.approve)


@bp.post("/change-requests/<int:request_id>/reject")
@staff_required
def reject_change_request(request_id: int):
    """Reject with a note the company sees. 409 if already reviewed."""
    return _review(request_id, change_requests.reject)


@bp.get("/users/suspended")
@staff_required
def suspended_users():
    """IDs suspended because their password stayed expired past the grace period."""
    return render_template("admin/suspended_users.html", users=accounts.suspended_users())


@bp.post("/users/<int:user_id>/lift-suspension")
@staff_required
def lift_user_suspension(user_id: int):
    """Lift a suspension: a set-password link goes to the user by email. 404 / 409 otherwise."""
    user = accounts.lift_suspension(user_id, request_actor())
    db.session.commit()
    flash(f"{user.name}（{user.login_id}）の停止を解除し、パスワード設定用のリンクをメールで送りました。", "success")
    back = request.form.get("next") or ""
    if not back.startswith("/admin/") or "//" in back or "\\" in back:
        back = url_for("admin.suspended_users")
    return redirect(back, code=303)


@company_section("admin/_company_accounts.html", order=40)
def company_accounts_section(company: Company) -> dict:
    """On the company's staff page: its suspended IDs (with the lift button) and its change requests."""
    return {
        "suspended": [user for user in accounts.company_users(company) if user.suspended_at is not None],
        "items": change_requests.history(company),
        **_labels(),
    }


@index_section("admin/_accounts_panel.html", order=40)
def accounts_panel() -> dict:
    """On the staff home: how many change requests wait and how many IDs are suspended."""
    return {"pending_changes": change_requests.pending_count(), "suspended": len(accounts.suspended_users())}
