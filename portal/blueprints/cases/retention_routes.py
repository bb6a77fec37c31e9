"""The retention section of a case page (R-RET-1, R-RET-3): deletion date, continued storage
(継続保管) and deletion agreement (削除合意).

The case page shows it with `{% include "cases/_retention.html" %}` (with `case` in the context);
the `retention_panel(case)` helper below gives the template what it needs. htmx posts get the
section back; plain posts are redirected to the case page.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField
from wtforms.validators import DataRequired

from portal.blueprints.auth.actor import request_actor
from portal.blueprints.cases import bp
from portal.blueprints.guards import company_user_required, writable_required
from portal.extensions import db, htmx
from portal.services import cases, retention
from portal.services.errors import DomainError


class ContinuedStorageForm(FlaskForm):
    years = SelectField(
        "継続保管の期間",
        choices=[SelectChoice(str(n), f"{n}年") for n in retention.CONTINUED_STORAGE_YEARS],
        validators=[DataRequired("期間を選択してください")],
    )


class DeletionAgreementForm(FlaskForm):
    confirm = BooleanField(
        "すべての当事者が合意すると、保管期間の満了を待たずにこの案件と契約書が削除され、元に戻せないことを確認しました",
        validators=[DataRequired("内容を確認のうえ、チェックを入れてください")],
    )


def retention_panel(case, storage_form=None, agreement_form=None, error=None) -> dict:
    """What cases/_retention.html shows for the logged-in user's company."""
    return dict(
        retention=retention.panel(case, current_user),
        storage_form=storage_form or ContinuedStorageForm(formdata=None),
        agreement_form=agreement_form or DeletionAgreementForm(formdata=None),
        retention_error=error,
    )


@bp.app_context_processor
def _retention_helpers():
    return {"retention_panel": retention_panel}


def _respond(case, message: str | None = None, status: int = 200, **forms):
    if htmx and not htmx.boosted:
        return render_template("cases/_retention.html", case=case, **retention_panel(case, **forms)), status
    if status >= 400:
        return render_template("cases/retention.html", case=case, **retention_panel(case, **forms)), status
    if message:
        flash(message, "success")
    return redirect(url_for("cases.detail", case_id=case.id) + "#case-retention")


@bp.get("/<int:case_id>/retention")
@company_user_required
def retention_section(case_id: int):
    """The retention section alone (htmx) or on its own page; 404 for a case the company cannot see."""
    case = cases.get_for_user(current_user, case_id)
    template = "cases/_retention.html" if htmx and not htmx.boosted else "cases/retention.html"
    return render_template(template, case=case, **retention_panel(case))


@bp.post("/<int:case_id>/retention/storage")
@company_user_required
@writable_required
def request_storage(case_id: int):
    """Ask for continued storage (第11条の2); effective once staff record the fee as paid."""
    case = cases.get_for_user(current_user, case_id)
    form = ContinuedStorageForm()
    if not form.validate_on_submit():
        return _respond(case, status=400, storage_form=form)
    try:
        request = retention.request_continued_storage(case, current_user, int(form.years.data), actor=request_actor())
    except DomainError as exc:
        db.session.rollback()
        form.years.errors = [exc.message]
        return _respond(case, status=exc.status, storage_form=form)
    db.session.commit()
    return _respond(case, f"継続保管（{request.years}年、¥{request.fee:,}（税抜））を申し込みました。"
                          "お支払いの確認後に保管期限が延長されます。")


@bp.post("/<int:case_id>/retention/agree")
@company_user_required
@writable_required
def agree_deletion(case_id: int):
    """Agree to delete a completed case before its retention ends (第28条3項)."""
    case = cases.get_for_user(current_user, case_id)
    form = DeletionAgreementForm()
    if not form.validate_on_submit():
        return _respond(case, status=400, agreement_form=form)
    try:
        everyone = retention.agree_deletion(case, current_user, actor=request_actor())
    except DomainError as exc:
        db.session.rollback()
        form.confirm.errors = [exc.message]
        return _respond(case, status=exc.status, agreement_form=form)
    db.session.commit()
    message = (
        "すべての当事者が合意しました。次回の削除処理でこの案件は削除されます。"
        if everyone
        else "削除に合意しました。ほかの当事者に合意をお願いする通知を送りました。"
    )
    return _respond(case, message)


@bp.post("/<int:case_id>/retention/withdraw")
@company_user_required
@writable_required
def withdraw_deletion(case_id: int):
    """Take back the company's agreement to delete (possible until the purge has run)."""
    case = cases.get_for_user(current_user, case_id)
    retention.withdraw_deletion(case, current_user, actor=request_actor())
    db.session.commit()
    return _respond(case, "削除への合意を取り下げました。")
