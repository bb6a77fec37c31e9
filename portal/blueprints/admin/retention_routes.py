"""Staff pages for retention and the purge (R-RET-1, R-RET-4, R-TERM-2, R-ADM-1):

- /admin/purge: what the next run would delete (which rule, why), past runs with their counts and
  errors, and legal hold / release;
- /admin/retention: continued-storage requests waiting for payment, and cancellation requests;
- a section on each company's page to terminate its contract with grounds (第25条1項, 第19条1項);
- a panel on the staff home with the counts.
"""
from __future__ import annotations

from datetime import date
from itertools import islice

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import SelectChoice, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.blueprints.admin import bp
from portal.blueprints.admin.routes import company_section, index_section
from portal.blueprints.auth.actor import request_actor
from portal.blueprints.fields import CheckboxesField, Ticked
from portal.blueprints.guards import staff_required
from portal.clock import today_jst
from portal.extensions import db
from portal.models import Case, Company, ContinuedStorage, PurgeRecord, PurgeRun
from portal.services import contracts, purge, retention
from portal.services.errors import DomainError

PLAN_LIMIT = 200
RUNS_SHOWN = 30


def _max(length: int) -> Length:
    return Length(max=length, message=f"{length}文字以内で入力してください")


def _reason() -> TextAreaField:
    return TextAreaField("理由", validators=[DataRequired("理由を入力してください"), _max(500)],
                         description="監査記録に残ります")


class HoldForm(FlaskForm):
    case_number = StringField("案件番号", validators=[DataRequired("案件番号を入力してください"), _max(20)])
    reason = _reason()


class ReleaseForm(FlaskForm):
    reason = _reason()


class PaidForm(FlaskForm):
    note = TextAreaField("メモ（任意）", validators=[Optional(), _max(500)])


class TerminateForm(FlaskForm):
    grounds = CheckboxesField(
        "解除の根拠",
        choices=[SelectChoice(code, label) for code, label in contracts.TERMINATION_GROUNDS.items()],
        validators=[Ticked("解除の根拠を1つ以上選んでください")],
        render_kw={"class": "choices"},
    )
    note = TextAreaField(
        "記録（経緯など）",
        validators=[DataRequired("経緯を入力してください"), _max(2000)],
    )


# --- the purge ------------------------------------------------------------------------------------


def _plan_day() -> date:
    text = request.args.get("on", "")
    if not text:
        return today_jst()
    try:
        return date.fromisoformat(text)
    except ValueError:
        abort(400, "日付を「2026-11-25」の形で指定してください。")


def _render_purge(hold_form: HoldForm | None = None, status: int = 200):
    day = _plan_day()
    items = list(islice(purge.plan(day), PLAN_LIMIT + 1))
    db.session.rollback()  # the plan only reads
    runs = list(db.session.scalars(select(PurgeRun).order_by(PurgeRun.id.desc()).limit(RUNS_SHOWN)))
    held = list(db.session.scalars(select(Case).where(Case.legal_hold.is_(True)).order_by(Case.number)))
    return (
        render_template(
            "admin/purge.html",
            day=day,
            items=items[:PLAN_LIMIT],
            more=len(items) > PLAN_LIMIT,
            runs=runs,
            held=held,
            hold_form=hold_form or HoldForm(formdata=None),
            release_form=ReleaseForm(formdata=None),
            rules=retention.RULES,
        ),
        status,
    )


@bp.get("/purge")
@staff_required
def purge_overview():
    """The next run's dry-run list for ?on=YYYY-MM-DD (default today), past runs, held cases."""
    return _render_purge()


@bp.get("/purge/runs/<int:run_id>")
@staff_required
def purge_run_detail(run_id: int):
    """One run: its counts, errors and tombstones (case number, parties, rule, dates — no content)."""
    run = db.session.get(PurgeRun, run_id)
    if run is None:
        abort(404, "指定された削除処理の記録が見つかりません。")
    page = db.paginate(
        select(PurgeRecord).where(PurgeRecord.run_id == run_id).order_by(PurgeRecord.id), per_page=100, error_out=False
    )
    return render_template("admin/purge_run.html", run=run, page=page, rules=retention.RULES, explain=purge.explain)


@bp.post("/purge/hold")
@staff_required
def purge_hold():
    """Put a case on legal hold (never deleted while held); audited with the reason."""
    form = HoldForm()
    if not form.validate_on_submit():
        return _render_purge(hold_form=form, status=400)
    case = db.session.scalar(select(Case).where(Case.number == form.case_number.data.strip()))
    if case is None:
        form.case_number.errors = ["この案件番号の案件はありません（削除済みの可能性があります）"]
        return _render_purge(hold_form=form, status=404)
    try:
        retention.set_legal_hold(case, current_user, True, form.reason.data, actor=request_actor())
    except DomainError as exc:
        db.session.rollback()
        form.case_number.errors = [exc.message]
        return _render_purge(hold_form=form, status=exc.status)
    db.session.commit()
    flash(f"案件 {case.number} を保全しました。保全中は削除されません。", "success")
    return redirect(url_for("admin.purge_overview"))


@bp.post("/purge/<int:case_id>/release")
@staff_required
def purge_release(case_id: int):
    """Release a legal hold; the case is deleted by the next run if it is due. Audited."""
    case = db.session.get(Case, case_id)
    if case is None:
        abort(404, "指定された案件が見つかりません。")
    form = ReleaseForm()
    if not form.validate_on_submit():
        flash("保全を解除する理由を入力してください。", "error")
        return redirect(url_for("admin.purge_overview"))
    retention.set_legal_hold(case, current_user, False, form.reason.data, actor=request_actor())
    db.session.commit()
    flash(f"案件 {case.number} の保全を解除しました。", "success")
    return redirect(url_for("admin.purge_overview"))


# --- continued storage and cancellations ----------------------------------------------------------


@bp.get("/retention")
@staff_required
def retention_requests():
    """Continued-storage requests waiting for payment, and filed cancellations (soonest end first)."""
    pending = retention.pending_continued_storage()
    case_ids = {r.case_id for r in pending}
    company_ids = {r.company_id for r in pending}
    return render_template(
        "admin/retention.html",
        pending=pending,
        cases_by_id={c.id: c for c in db.session.scalars(select(Case).where(Case.id.in_(case_ids)))},
        # only the requesting companies, not every company of the portal
        companies={c.id: c for c in db.session.scalars(select(Company).where(Company.id.in_(company_ids)))},
        cancellations=contracts.cancellation_requests(),
        paid_form=PaidForm(formdata=None),
    )


@bp.post("/retention/storage/<int:request_id>/paid")
@staff_required
def retention_storage_paid(request_id: int):
    """Record the continued-storage fee as paid: the case's retention moves (R-RET-1)."""
    storage = db.session.get(ContinuedStorage, request_id)
    if storage is None:
        abort(404, "指定されたお申込みが見つかりません。")
    form = PaidForm()
    if not form.validate_on_submit():
        abort(400, "入力内容を確認してください。")
    retention.record_continued_storage_paid(storage, current_user, note=form.note.data, actor=request_actor())
    db.session.commit()
    flash(f"入金を記録しました。保管期限は{storage.extended_until:%Y-%m-%d}まで延長されました。", "success")
    return redirect(url_for("admin.retention_requests"))


# --- termination (第25条) ---------------------------------------------------------------------------


@company_section("admin/retention_company.html", order=60)
def _termination_section(company: Company) -> dict | None:
    if company.contract is None:
        return None
    return {"terminate_form": TerminateForm(formdata=None), "grounds": contracts.TERMINATION_GROUNDS}


@bp.post("/companies/<int:company_id>/terminate")
@staff_required
def terminate_contract(company_id: int):
    """Terminate a company's contract today with grounds and a note; it turns read-only for three
    months, then its data is purged (R-ADM-1, R-RET-3). 409 if it already ended."""
    company = db.session.get(Company, company_id)
    if company is None:
        abort(404, "指定された契約者が見つかりません。")
    form = TerminateForm()
    if not form.validate_on_submit():
        return render_template(
            "admin/retention_terminate.html", company=company, terminate_form=form,
            grounds=contracts.TERMINATION_GROUNDS,
        ), 400
    contract = contracts.terminate(company, list(form.grounds.data), form.note.data, current_user,
                                   actor=request_actor())
    db.session.commit()
    flash(f"{company.name} の利用契約を解除しました。{contract.data_delete_on:%Y-%m-%d} にデータを削除します。",
          "success")
    return redirect(url_for("admin.company_detail", company_id=company.id))


# --- staff home panel ------------------------------------------------------------------------------


@index_section("admin/retention_panel.html", order=60)
def _retention_panel() -> dict:
    today = today_jst()
    due = db.session.scalar(
        select(func.count()).select_from(Case).where(Case.purge_due_on <= today, Case.legal_hold.is_(False))
    )
    last = db.session.scalar(select(PurgeRun).order_by(PurgeRun.id.desc()).limit(1))
    return {
        "due_cases": due or 0,
        "held_cases": db.session.scalar(select(func.count()).select_from(Case).where(Case.legal_hold.is_(True))) or 0,
        "pending_storage": len(retention.pending_continued_storage()),
        "pending_cancellations": len(contracts.cancellation_requests()),
        "last_run": last,
    }
