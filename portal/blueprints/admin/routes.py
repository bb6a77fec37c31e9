"""Staff pages: home, applications and their review (R-APP-2, R-APP-3), companies, sent mail.

Other areas add their own views in admin/<area>_routes.py, and extend two pages without editing
them: `@company_section(template)` adds a section to a company's page, `@index_section(template)`
a panel to the staff home. A provider returns the section template's context, or None to skip it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import func, or_, select

from portal.blueprints.admin import bp
from portal.blueprints.admin.forms import (
    COMPANY_STATUS_LABELS,
    AcceptForm,
    ApplicationFilterForm,
    CompanyFilterForm,
    CorrectionForm,
    MailFilterForm,
    RejectForm,
)
from portal.blueprints.guards import staff_admin_required, staff_required
from portal.extensions import db, htmx
from portal.models import Application, Company, SentNotice, User
from portal.services import notify, onboarding
from portal.services.accounts import ROLE_LABELS

PER_PAGE = 50


# --- extension points for other areas -------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    template: str
    provider: Callable[..., dict[str, Any] | None]
    order: int


COMPANY_SECTIONS: list[Section] = []
INDEX_SECTIONS: list[Section] = []


def company_section(template: str, order: int = 100) -> Callable:
    """Register `provider(company) -> dict | None`; its template is rendered on the company page
    with `company` and the returned dict (lower `order` first; ours are 10-30)."""

    def register(provider: Callable[..., dict[str, Any] | None]) -> Callable:
        COMPANY_SECTIONS.append(Section(template, provider, order))
        COMPANY_SECTIONS.sort(key=lambda s: s.order)
        return provider

    return register


def index_section(template: str, order: int = 100) -> Callable:
    """Register `provider() -> dict | None`; its template is rendered as a panel on the staff home."""

    def register(provider: Callable[..., dict[str, Any] | None]) -> Callable:
        INDEX_SECTIONS.append(Section(template, provider, order))
        INDEX_SECTIONS.sort(key=lambda s: s.order)
        return provider

    return register


def _render_sections(sections: list[Section], *args: Any, **base: Any) -> list[Markup]:
    rendered = []
    for section in sections:
        context = section.provider(*args)
        if context is not None:
            # render_template autoescapes the section, so its output is safe to embed as is.
            rendered.append(Markup(render_template(section.template, **base, **context)))  # nosec B704  # noqa: S704
    return rendered


# --- home ---------------------------------------------------------------------------------------


@bp.get("/")
@staff_required
def index():
    """Staff home: what waits for review, how many companies, the state of the mail."""
    counts = dict(
        db.session.execute(select(Application.status, func.count()).group_by(Application.status)).tuples().all()
    )
    companies = dict(db.session.execute(select(Company.status, func.count()).group_by(Company.status)).tuples().all())
    unsent = select(func.count(SentNotice.id)).where(SentNotice.sent_at.is_(None))
    mail = {
        "unsent": db.session.scalar(unsent.where(SentNotice.error.is_(None))),
        "failed": db.session.scalar(unsent.where(SentNotice.error.is_not(None))),
    }
    return render_template(
        "admin/index.html",
        application_counts=counts,
        company_counts=companies,
        mail_counts=mail,
        company_status_labels=COMPANY_STATUS_LABELS,
        sections=_render_sections(INDEX_SECTIONS),
    )


# --- applications (R-APP-2, R-APP-3) ------------------------------------------------------------------


@bp.get("/applications")
@staff_required
def applications():
    """Applications, filtered by status (open ones by default, oldest first) and a search word.
    An htmx request from the filter form gets only the table (admin/_applications_table.html)."""
    form = ApplicationFilterForm(request.args)
    query = select(Application)
    status = form.status.data or "open"
    if status == "open":
        query = query.where(Application.status.in_(onboarding.OPEN_STATUSES)).order_by(Application.submitted_at)
    else:
        if status in onboarding.STATUS_LABELS:
            query = query.where(Application.status == status)
        query = query.order_by(Application.submitted_at.desc())
    if form.validate() and form.q.data:
        like = f"%{_escape_like(form.q.data.strip())}%"
        query = query.where(
            or_(
                Application.company_name.ilike(like, escape="\\"),
                Application.company_name_kana.ilike(like, escape="\\"),
                Application.corporate_number.ilike(like, escape="\\"),
                Application.receipt_number.ilike(like, escape="\\"),
                Application.contact_email.ilike(like, escape="\\"),
            )
        )
    page = db.paginate(query, page=_page(), per_page=PER_PAGE, error_out=False)
    template = "admin/_applications_table.html" if _table_only() else "admin/applications.html"
    duplicates = onboarding.duplicate_numbers(page.items)
    return render_template(template, form=form, page=page, status_labels=onboarding.STATUS_LABELS,
                           duplicates=duplicates)  # fmt: skip


@bp.get("/applications/<int:application_id>")
@staff_required
def application_detail(application_id: int):
    """One application with the R-APP-3 check and the review actions. 404 for an unknown id."""
    return _render_application(_application(application_id))


@bp.post("/applications/<int:application_id>/correction")
@staff_required
def application_correction(application_id: int):
    """Ask the applicant for a correction (mails a single-use link). 409 once decided."""
    application = _application(application_id)
    form = CorrectionForm()
    if not form.validate():
        return _render_application(application, correction_form=form)
    onboarding.request_correction(application, form.note.data, current_user)
    db.session.commit()
    flash("訂正依頼をメールで送りました。申込者が訂正して送信すると、再び審査待ちになります。", "success")
    return redirect(url_for("admin.application_detail", application_id=application.id))


@bp.post("/applications/<int:application_id>/reject")
@staff_required
def application_reject(application_id: int):
    """Refuse on one or more grounds of 第6条3項 (required); the applicant is told by mail. 409 once decided."""
    application = _application(application_id)
    form = RejectForm()
    if not form.validate():
        return _render_application(application, reject_form=form)
    onboarding.reject(application, form.grounds.data, form.note.data, current_user)
    db.session.commit()
    flash("お断りの通知をメールで送りました。", "success")
    return redirect(url_for("admin.application_detail", application_id=application.id))


@bp.post("/applications/<int:application_id>/accept")
@staff_required
def application_accept(application_id: int):
    """Accept: company, contract, first user and the 利用受諾通知 (第6条2項, 第11条). 409 unless pending."""
    application = _application(application_id)
    form = AcceptForm()
    if not form.validate():
        return _render_application(application, accept_form=form)
    result = onboarding.accept(application, form.start_date.data, current_user)
    db.session.commit()
    flash(
        f"利用を受諾しました。利用受諾通知（ユーザーID {result.user.login_id}）をメールで送ります。",
        "success",
    )
    return redirect(url_for("admin.company_detail", company_id=result.company.id))


def _application(application_id: int) -> Application:
    application = db.session.get(Application, application_id)
    if application is None:
        abort(404, "指定された利用申込が見つかりません。")
    return application


def _render_application(application: Application, **forms: Any):
    correction_form = forms.get("correction_form") or CorrectionForm(formdata=None)
    reject_form = forms.get("reject_form") or RejectForm(formdata=None)
    accept_form = forms.get("accept_form") or AcceptForm(formdata=None)
    notices = db.session.scalars(
        select(SentNotice)
        .where(SentNotice.recipient == application.contact_email, SentNotice.kind.in_(APPLICANT_MAIL_KINDS))
        .order_by(SentNotice.created_at.desc())
        .limit(20)
    ).all()
    return render_template(
        "admin/application_detail.html",
        application=application,
        findings=onboarding.review_findings(application),
        correction_form=correction_form,
        reject_form=reject_form,
        accept_form=accept_form,
        status_labels=onboarding.STATUS_LABELS,
        plans=onboarding.PLANS,
        grounds=onboarding.REJECTION_GROUNDS,
        company_status_labels=COMPANY_STATUS_LABELS,
        notices=notices,
        reviewer=db.session.get(User, application.reviewed_by_id) if application.reviewed_by_id else None,
    )


APPLICANT_MAIL_KINDS = (
    "application_received",
    "application_resubmitted",
    "correction_requested",
    "application_rejected",
    "acceptance",
)


# --- companies ----------------------------------------------------------------------------------------


@bp.get("/companies")
@staff_required
def companies():
    """Contractors, filtered by status and a search word (name, kana, 法人番号)."""
    form = CompanyFilterForm(request.args)
    query = select(Company).order_by(Company.name_kana, Company.id)
    if form.status.data in COMPANY_STATUS_LABELS:
        query = query.where(Company.status == form.status.data)
    if form.validate() and form.q.data:
        like = f"%{_escape_like(form.q.data.strip())}%"
        query = query.where(
            or_(
                Company.name.ilike(like, escape="\\"),
                Company.name_kana.ilike(like, escape="\\"),
                Company.corporate_number.ilike(like, escape="\\"),
            )
        )
    page = db.paginate(query, page=_page(), per_page=PER_PAGE, error_out=False)
    template = "admin/_companies_table.html" if _table_only() else "admin/companies.html"
    return render_template(template, form=form, page=page, company_status_labels=COMPANY_STATUS_LABELS)


@bp.get("/companies/<int:company_id>")
@staff_required
def company_detail(company_id: int):
    """A contractor: registered items, contract and terms, users; then the sections other areas
    registered with @company_section (certificate, suspension, billing, …). 404 for an unknown id."""
    company = db.session.get(Company, company_id)
    if company is None:
        abort(404, "指定された契約者が見つかりません。")
    application = db.session.get(Application, company.application_id) if company.application_id else None
    return render_template(
        "admin/company_detail.html",
        company=company,
        contract=company.contract,
        application=application,
        users=company.users,
        role_labels=ROLE_LABELS,
        plans=onboarding.PLANS,
        company_status_labels=COMPANY_STATUS_LABELS,
        sections=_render_sections(COMPANY_SECTIONS, company, company=company),
    )


# --- mail viewer ----------------------------------------------------------------------------------


@bp.get("/mail")
@staff_admin_required
def mail_outbox():
    """Every notice the portal recorded (第3条), newest first, with its delivery state; staff
    administrators only (403 for other staff). A search word also matches the kinds' Japanese labels.
    Secret links show masked: the mail itself (SMTP, or the file backend's folder) is the only copy."""
    form = MailFilterForm(request.args)
    query = select(SentNotice).order_by(SentNotice.created_at.desc(), SentNotice.id.desc())
    state = form.state.data
    if state == "sent":
        query = query.where(SentNotice.sent_at.is_not(None))
    elif state == "unsent":
        query = query.where(SentNotice.sent_at.is_(None))
    elif state == "error":
        query = query.where(SentNotice.error.is_not(None))
    if form.validate() and form.q.data:
        word = form.q.data.strip()
        like = f"%{_escape_like(word)}%"
        labelled = [kind for kind, label in notify.KIND_LABELS.items() if word in label]
        query = query.where(
            or_(
                SentNotice.recipient.ilike(like, escape="\\"),
                SentNotice.subject.ilike(like, escape="\\"),
                SentNotice.kind.ilike(like, escape="\\"),
                SentNotice.kind.in_(labelled),
            )
        )
    page = db.paginate(query, page=_page(), per_page=PER_PAGE, error_out=False)
    template = "admin/_mail_table.html" if _table_only() else "admin/mail.html"
    return render_template(template, form=form, page=page, backend=_mail_backend())


@bp.get("/mail/<int:notice_id>")
@staff_admin_required
def mail_detail(notice_id: int):
    """One notice: recipient, subject, body (secret links masked), when it was sent or why not.
    403 for staff who are not administrators, 404 for an unknown id."""
    notice = db.session.get(SentNotice, notice_id)
    if notice is None:
        abort(404, "指定されたメールが見つかりません。")
    company = db.session.get(Company, notice.company_id) if notice.company_id else None
    return render_template("admin/mail_detail.html", notice=notice, company=company, backend=_mail_backend())


def _mail_backend() -> dict[str, str]:
    config = current_app.config
    if notify.backend_name() == "smtp":
        return {"name": "smtp", "label": f"SMTP（{config['MAIL_SERVER']}:{config['MAIL_PORT']}）"}
    return {"name": "file", "label": f"ファイル保存（開発用・実際には送信されません）: {config['MAIL_FILE_PATH']}"}


# --- helpers --------------------------------------------------------------------------------------


def _page() -> int:
    try:
        return max(1, min(int(request.args.get("page", 1)), 10_000))
    except ValueError:
        return 1


def _table_only() -> bool:
    """An htmx request from a filter form (not a boosted page load) gets the table partial only."""
    return bool(htmx) and not htmx.boosted


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
