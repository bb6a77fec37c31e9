"""The company's account page, its users (managed by the contact person, 第7条) and change requests
(R-ACC-3: 利用変更申込 第7条3項, registration changes 第17条).

Other areas add a section to the account page by creating templates/account/_contract.html or
_certificate.html (included if present) and, for the data it needs, a `*_routes.py` module in this
package with `@bp.context_processor`."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from portal.blueprints.account import bp
from portal.blueprints.account.forms import CHANGE_FORMS, CreateUserForm
from portal.blueprints.auth.actor import request_actor
from portal.blueprints.guards import company_user_required, contact_required, writable_required
from portal.extensions import db
from portal.models import User
from portal.services import accounts, change_requests
from portal.services.errors import StateConflict


@bp.get("/")
@company_user_required
def index():
    """The company's account page: registered items, contact person, users, password, change history."""
    company = current_user.company
    return render_template(
        "account/index.html",
        company=company,
        users=accounts.company_users(company),
        change_history=change_requests.history(company)[:5],
        kinds=change_requests.KINDS,
        statuses=change_requests.STATUS_LABELS,
        password_state=accounts.password_state(current_user),
    )


# --- users ---------------------------------------------------------------------------------------


def _render_users(form: CreateUserForm, created=None, status: int = 200):
    company = current_user.company
    return (
        render_template(
            "account/users.html", form=form, users=accounts.company_users(company), created=created, company=company
        ),
        status,
    )


@bp.get("/users")
@contact_required
def users():
    """The company's users, with the form to add one (contact person only)."""
    return _render_users(CreateUserForm())


@bp.post("/users")
@contact_required
@writable_required
def create_user():
    """Add a user with a temporary password, shown once on the answer page (never stored in clear)."""
    form = CreateUserForm()
    if not form.validate_on_submit():
        return _render_users(form)
    try:
        user, password = accounts.create_company_user(
            current_user.company,
            name=form.name.data,
            email=form.email.data,
            role=form.role.data,
            login_id=form.login_id.data,
            department=form.department.data,
            notify_user=True,
            actor=request_actor(),
        )
    except accounts.InvalidFields as exc:
        db.session.rollback()
        for name, message in exc.errors.items():
            getattr(form, name).errors.append(message)
        return _render_users(form)
    db.session.commit()
    return _render_users(CreateUserForm(formdata=None), created=(user, password))


@bp.post("/users/<int:user_id>/disable")
@contact_required
@writable_required
def disable_user(user_id: int):
    """Disable a user of this company (404 for any other id; never the last active user)."""
    return _set_user_active(accounts.disable_user, user_id, "無効")


@bp.post("/users/<int:user_id>/enable")
@contact_required
@writable_required
def enable_user(user_id: int):
    """Re-enable a disabled user of this company (404 for any other id)."""
    return _set_user_active(accounts.enable_user, user_id, "有効")


def _set_user_active(change: Callable[..., User], user_id: int, state: str):
    """Apply accounts.disable_user or enable_user, flash the outcome, and go back to the user list."""
    try:
        user = change(current_user.company, user_id, request_actor())
    except StateConflict as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(f"{user.name}（{user.login_id}）を{state}にしました。", "success")
    return redirect(url_for("account.users"), code=303)


# --- change requests (R-ACC-3) ---------------------------------------------------------------------


@bp.get("/changes")
@company_user_required
def change_history():
    """Every change request of the company with its review result (history kept, 第17条)."""
    company = current_user.company
    return render_template(
        "account/changes.html",
        company=company,
        requests=change_requests.history(company),
        kinds=change_requests.KINDS,
        fields=change_requests.FIELDS,
        statuses=change_requests.STATUS_LABELS,
    )


def _change_form(kind: str):
    if kind not in CHANGE_FORMS:
        abort(404)
    return CHANGE_FORMS[kind]


def _render_change_form(kind: str, form, refusal: str | None = None):
    return render_template(
        "account/change_form.html",
        kind=kind,
        kind_label=change_requests.KINDS[kind],
        form=form,
        refusal=refusal,
        company=current_user.company,
    )


@bp.get("/changes/<kind>")
@contact_required
def new_change(kind: str):
    """The change form for `kind` (contact | registration), filled with what is registered now."""
    form_class = _change_form(kind)
    company = current_user.company
    values = change_requests.current_values(kind, company, current_user)
    if kind == "registration":
        values["corporate_number"] = company.corporate_number
    return _render_change_form(kind, form_class(formdata=None, data=values))


@bp.post("/changes/<kind>")
@contact_required
@writable_required
def submit_change(kind: str):
    """Submit a change request for staff review. A different 法人番号 is refused (第8条)."""
    form = _change_form(kind)()
    if not form.validate_on_submit():
        return _render_change_form(kind, form)
    data = {name: field.data for name, field in form._fields.items() if name != "csrf_token"}
    try:
        change_requests.submit(current_user.company, current_user, kind, data, request_actor())
    except change_requests.TransferRefused as exc:
        db.session.rollback()
        form.corporate_number.errors.append("法人番号は変更できません。")
        return _render_change_form(kind, form, refusal=exc.message)
    except accounts.InvalidFields as exc:
        db.session.rollback()
        for name, message in exc.errors.items():
            if name in form._fields:
                form._fields[name].errors.append(message)
            else:
                form.form_errors.append(message)
        return _render_change_form(kind, form)
    except StateConflict as exc:
        db.session.rollback()
        form.form_errors.append(exc.message)
        return _render_change_form(kind, form)
    db.session.commit()
    flash(f"{change_requests.KINDS[kind]}を申し込みました。運営事務局の審査の後に反映されます。", "success")
    return redirect(url_for("account.change_history"), code=303)
