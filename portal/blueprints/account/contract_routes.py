"""The contract section of the account page (R-TERM-1, R-TERM-2): current term, renewal date,
opt-out deadline, opt-out, and mid-term cancellation with a live preview of its end date.

`account/_contract.html` is included by the account page; the `contract_panel()` helper below
gives it what it needs, so the account view does not have to know about contracts.
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField
from wtforms.validators import DataRequired, Optional

from portal.blueprints.account import bp
from portal.blueprints.auth.actor import request_actor
from portal.blueprints.guards import company_user_required, contact_required, writable_required
from portal.clock import japanese_date, today_jst
from portal.extensions import db, htmx
from portal.services import contracts
from portal.services.errors import DomainError


class _JapaneseDateField(DateField):
    def process_formdata(self, valuelist: list[str]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError("日付を「2027-06-30」の形で入力してください") from None


class CancellationForm(FlaskForm):
    wished_on = _JapaneseDateField(
        "中途解約のご希望日（任意）",
        validators=[Optional()],
        description="届出日から30日以上先の日付を書くと、その月の末日に終了します。空欄や30日未満の場合は届出日の7日後の月末です。",
    )
    confirm = BooleanField(
        "表示された終了日で中途解約を届け出ます",
        validators=[DataRequired("内容を確認のうえ、チェックを入れてください")],
    )


class OptOutForm(FlaskForm):
    confirm = BooleanField(
        "現在の契約期間の満了をもって契約を終了し、自動更新しません",
        validators=[DataRequired("内容を確認のうえ、チェックを入れてください")],
    )


def contract_section(
    cancel_form: CancellationForm | None = None, opt_out_form: OptOutForm | None = None
) -> dict | None:
    """What account/_contract.html shows for the logged-in user's company (None: no contract)."""
    company = current_user.company if current_user.is_authenticated else None
    if company is None or company.contract is None or not company.contract.terms:
        return None
    return dict(
        info=contracts.summary(company.contract),
        cancel_form=cancel_form or CancellationForm(formdata=None),
        opt_out_form=opt_out_form or OptOutForm(formdata=None),
        preview=contracts.cancellation_preview(today_jst(), None),
        preview_error=None,
    )


@bp.app_context_processor
def _contract_helpers():
    return {"contract_section": contract_section}


def _render(cancel_form: CancellationForm | None = None, opt_out_form: OptOutForm | None = None, status: int = 200):
    section = contract_section(cancel_form, opt_out_form)
    if section is None:
        abort(404, "ご利用契約の記録が見つかりません。")
    if cancel_form is not None and cancel_form.wished_on.data and not cancel_form.wished_on.errors:
        try:
            section["preview"] = contracts.cancellation_preview(today_jst(), cancel_form.wished_on.data)
        except DomainError as exc:
            section["preview"], section["preview_error"] = None, exc.message
    partial = htmx and not htmx.boosted
    return render_template("account/_contract.html" if partial else "account/contract.html", **section), status


@bp.get("/contract")
@company_user_required
def contract():
    """The contract page: term, renewal, deadline and the forms (the same section as on the account page)."""
    return _render()


@bp.post("/contract/opt-out")
@contact_required
@writable_required
def contract_opt_out():
    """Opt out of renewal (第11条); refused after the deadline with the dates explained (400)."""
    form = OptOutForm()
    if not form.validate_on_submit():
        return _render(opt_out_form=form, status=400)
    try:
        contracts.opt_out(current_user.company.contract, current_user, actor=request_actor())
    except DomainError as exc:
        db.session.rollback()
        form.confirm.errors = [exc.message]
        return _render(opt_out_form=form, status=exc.status)
    db.session.commit()
    flash("自動更新をしない旨のお届けを受け付けました。", "success")
    return _after_change()


@bp.post("/contract/opt-out/withdraw")
@contact_required
@writable_required
def contract_withdraw_opt_out():
    """Take back an opt-out before the deadline (the contract renews again); CSRF is checked globally."""
    contracts.withdraw_opt_out(current_user.company.contract, current_user, actor=request_actor())
    db.session.commit()
    flash("自動更新の停止を取り下げました。契約は自動更新されます。", "success")
    return _after_change()


@bp.get("/contract/cancel/preview")
@contact_required
def contract_cancel_preview():
    """The end date 第24条1項 gives for the wished date typed so far, and why (htmx partial)."""
    form = CancellationForm(request.args, meta={"csrf": False})
    preview, error = None, None
    form.wished_on.validate(form)
    if form.wished_on.errors:
        error = form.wished_on.errors[0]
    else:
        try:
            preview = contracts.cancellation_preview(today_jst(), form.wished_on.data)
        except DomainError as exc:
            error = exc.message
    return render_template("account/_contract_preview.html", preview=preview, preview_error=error)


@bp.post("/contract/cancel")
@contact_required
@writable_required
def contract_cancel():
    """File a mid-term cancellation (第24条1項); errors re-render the form next to the field (400)."""
    form = CancellationForm()
    if not form.validate_on_submit():
        return _render(cancel_form=form, status=400)
    try:
        preview = contracts.request_cancellation(
            current_user.company.contract, current_user, form.wished_on.data, actor=request_actor()
        )
    except DomainError as exc:
        db.session.rollback()
        form.wished_on.errors = [exc.message]
        return _render(cancel_form=form, status=exc.status)
    db.session.commit()
    flash(f"中途解約のお届けを受け付けました。契約は{japanese_date(preview.end_on)}に終了します。", "success")
    return _after_change()


def _after_change():
    if htmx and not htmx.boosted:
        return _render()
    return redirect(url_for("account.contract"))
