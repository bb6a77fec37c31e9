"""Suspending a company and lifting it (R-ADM-1), as a section of the company's staff page."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectChoice, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from portal.blueprints.admin import bp
from portal.blueprints.admin.routes import company_section
from portal.blueprints.auth.actor import request_actor
from portal.blueprints.fields import CheckboxesField, RadioChoiceField, Ticked
from portal.blueprints.guards import staff_required
from portal.extensions import db
from portal.models import Company
from portal.services import contracts, suspension


def _note(label: str) -> TextAreaField:
    return TextAreaField(label, validators=[DataRequired("経緯を入力してください"),
                                            Length(max=2000, message="2000文字以内で入力してください")],
                         description="監査記録に残ります（契約者へのメールには載りません）")  # fmt: skip


# Both forms sit on the company page beside the termination form: prefixes keep field names and ids apart.
class SuspendForm(FlaskForm):
    mode = RadioChoiceField(
        "停止中のご利用", choices=[SelectChoice(value, label) for value, label in suspension.MODES.items()],
        default="readonly", validators=[InputRequired("停止の種類を選んでください")], render_kw={"class": "choices"},
    )  # fmt: skip
    grounds = CheckboxesField(
        "停止の根拠",
        choices=[SelectChoice(code, label) for code, label in contracts.TERMINATION_GROUNDS.items()],
        validators=[Ticked("停止の根拠を1つ以上選んでください")],
        render_kw={"class": "choices"},
    )
    note = _note("記録（経緯など）")


class LiftForm(FlaskForm):
    note = _note("記録（解除の経緯）")


@company_section("admin/suspension_company.html", order=55)
def _suspension_section(company: Company) -> dict | None:
    if company.status not in ("active", "suspended"):
        return None  # ended or deleted: termination's section says what happened
    return _section(company, SuspendForm(formdata=None, prefix="suspend"), LiftForm(formdata=None, prefix="lift"))


def _section(company: Company, suspend_form: SuspendForm, lift_form: LiftForm) -> dict:
    return {"suspension": suspension.current(company), "modes": suspension.MODES,
            "suspend_form": suspend_form, "lift_form": lift_form}  # fmt: skip


def _company(company_id: int) -> Company:
    company = db.session.get(Company, company_id)
    if company is None:
        abort(404, "指定された契約者が見つかりません。")
    return company


def _refused(company: Company, suspend_form: SuspendForm, lift_form: LiftForm):
    page = render_template("admin/suspension_form.html", company=company,
                           **_section(company, suspend_form, lift_form))  # fmt: skip
    return page, 400


@bp.post("/companies/<int:company_id>/suspend")
@staff_required
def suspend_company(company_id: int):
    """Suspend the company (or change how it is suspended) with grounds and a note; its contact persons are
    told by mail. 409 once the contract has ended."""
    company = _company(company_id)
    form = SuspendForm(prefix="suspend")
    if not form.validate_on_submit():
        return _refused(company, form, LiftForm(formdata=None, prefix="lift"))
    suspension.suspend(company, form.mode.data, list(form.grounds.data), form.note.data, current_user,
                       actor=request_actor())  # fmt: skip
    db.session.commit()
    flash(f"{company.name} の利用を停止しました（{suspension.MODES[form.mode.data]}）。", "success")
    return redirect(url_for("admin.company_detail", company_id=company.id))


@bp.post("/companies/<int:company_id>/lift-suspension")
@staff_required
def lift_suspension(company_id: int):
    """End the company's suspension with a note; its contact persons are told by mail. 409 unless suspended."""
    company = _company(company_id)
    form = LiftForm(prefix="lift")
    if not form.validate_on_submit():
        return _refused(company, SuspendForm(formdata=None, prefix="suspend"), form)
    suspension.lift(company, form.note.data, current_user, actor=request_actor())
    db.session.commit()
    flash(f"{company.name} の利用停止を解除しました。", "success")
    return redirect(url_for("admin.company_detail", company_id=company.id))
