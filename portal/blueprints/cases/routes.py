"""Cases for company users: search, create/edit, documents, send, agree and sign, return, withdraw.

Every case view goes through `services.cases`, which answers 404 for a case the user's company is
not party to (R-STORE-4), 403 for a party that may not act, 409 for a stale or repeated action.
Views that change data are POST with CSRF and refuse read-only companies (writable_required).
"""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from portal.blueprints.auth.actor import request_actor
from portal.blueprints.cases import bp
from portal.blueprints.cases.forms import (
    AgreeForm,
    CaseForm,
    NewCaseForm,
    ReturnForm,
    SearchForm,
    UploadForm,
    VersionForm,
)
from portal.blueprints.downloads import pdf_response
from portal.blueprints.guards import company_user_required, writable_required
from portal.extensions import db, htmx
from portal.services import cases, search
from portal.services.errors import DomainError, ValidationFailed


def _version(form: VersionForm) -> int:
    number = form.version_number()
    if number is None:
        abort(400, "画面の情報が不足しています。画面を再読み込みしてやり直してください。")
    return number


def _detail_url(case_id: int) -> str:
    return url_for("cases.detail", case_id=case_id)


# ---------------------------------------------------------------------- list and search


@bp.get("/")
@company_user_required
def index():
    """The company's cases with search (R-STORE-2); htmx requests for the results get `_results.html` alone."""
    form = SearchForm(request.args)
    form.validate()
    page = search.search(form.to_query(), current_user.company_id)
    if htmx and htmx.target == "case-results":
        return render_template("cases/_results.html", page=page, form=form)
    return render_template("cases/index.html", page=page, form=form)


# ---------------------------------------------------------------------- create and edit


def _resolve_parties(form: CaseForm) -> list[int] | None:
    """Company ids of the filled party entries in order; None after putting errors on the entries."""
    ids: list[int] = []
    ok = True
    for entry in form.parties.entries:
        text = (entry.data or "").strip()
        if not text:
            continue
        try:
            ids.append(cases.resolve_company(text).id)
        except ValidationFailed as exc:
            entry.errors = [*entry.errors, exc.message]
            ok = False
    if ok and len(ids) < cases.MIN_PARTIES:
        form.parties.errors = ["当事者を2社以上入力してください。"]
        ok = False
    return ids if ok else None


def _grow_parties(form: CaseForm) -> None:
    if len(form.parties.entries) < cases.MAX_PARTIES:
        form.parties.append_entry("")


@bp.route("/new", methods=["GET", "POST"])
@company_user_required
@writable_required
def create():
    """Create a draft (契約文書登録 / ３社以上). Errors re-render the form with the input kept."""
    form = NewCaseForm()
    if request.method == "GET":
        form.parties.entries[0].data = current_user.company.corporate_number
    elif form.add_party.data:
        _grow_parties(form)
    else:
        valid = form.validate_on_submit()
        party_ids = _resolve_parties(form)  # so that every error shows at once
        if valid and party_ids is not None:
            try:
                case = cases.create_draft(current_user, form.case_fields(), party_ids, actor=request_actor())
            except ValidationFailed as exc:
                db.session.rollback()
                flash(exc.message, "error")
            else:
                db.session.commit()
                flash(f"案件 {case.number} を下書きとして保存しました。契約書を登録してください。", "success")
                return redirect(_detail_url(case.id))
    return render_template("cases/form.html", form=form, case=None)


@bp.route("/<int:case_id>/edit", methods=["GET", "POST"])
@company_user_required
@writable_required
def edit(case_id: int):
    """Edit a draft or returned case (originator). 404 for other companies; 409 if it changed meanwhile."""
    case = cases.get_for_edit(current_user, case_id)
    form = CaseForm()
    if request.method == "GET":
        form.fill_from(case)
    elif form.add_party.data:
        _grow_parties(form)
    else:
        valid = form.validate_on_submit()
        party_ids = _resolve_parties(form)  # so that every error shows at once
        if valid and party_ids is not None:
            try:
                cases.update_draft(current_user, case.id, _version(form), form.case_fields(), party_ids,
                                   actor=request_actor())
            except ValidationFailed as exc:
                db.session.rollback()
                flash(exc.message, "error")
            else:
                db.session.commit()
                flash("案件を保存しました。", "success")
                return redirect(_detail_url(case.id))
    return render_template("cases/form.html", form=form, case=case)


# ---------------------------------------------------------------------- detail and documents


def _detail_context(case, **forms):
    state = cases.signing_state(case, current_user.company_id)
    shown = cases.documents_shown_to(case, current_user.company_id)
    context = dict(
        case=case,
        state=state,
        main=shown.main,
        attachments=shown.attachments,
        contract=shown.contract,
        final=shown.final,
        is_originator=case.originator_company_id == current_user.company_id,
        consent_text=cases.consent_text(),
        checklist_items=cases.ARTICLE19_ITEMS,
        consent_version=cases.CONSENT_VERSION,
        agree_form=forms.get("agree_form") or AgreeForm(formdata=None),
        return_form=forms.get("return_form") or ReturnForm(formdata=None),
        upload_form=forms.get("upload_form") or UploadForm(formdata=None),
        action_form=VersionForm(formdata=None),
        error=forms.get("error"),
    )
    return context


@bp.get("/<int:case_id>")
@company_user_required
def detail(case_id: int):
    """The case: fields, parties and progress, documents in the browser, and the actions open to the user."""
    case = cases.get_for_user(current_user, case_id)
    return render_template("cases/detail.html", **_detail_context(case))


@bp.get("/<int:case_id>/progress")
@company_user_required
def progress(case_id: int):
    """The signing-progress component alone (it polls this URL while a job works); others get the page."""
    case = cases.get_for_user(current_user, case_id)
    if not htmx:
        return redirect(_detail_url(case.id))
    return render_template("cases/_progress.html", **_detail_context(case))


@bp.get("/<int:case_id>/documents/<int:document_id>/view")
@company_user_required
def document_inline(case_id: int, document_id: int):
    """The PDF inline (Content-Disposition: inline) for the in-browser view; recorded as "viewed"."""
    doc, data = cases.open_document(current_user, case_id, document_id, disposition="inline", actor=request_actor())
    db.session.commit()
    return pdf_response(doc, data, as_attachment=False)


@bp.get("/<int:case_id>/documents/<int:document_id>/download")
@company_user_required
def document_download(case_id: int, document_id: int):
    """The PDF as a download; recorded as "downloaded"."""
    doc, data = cases.open_document(current_user, case_id, document_id, disposition="attachment",
                                    actor=request_actor())
    db.session.commit()
    return pdf_response(doc, data, as_attachment=True)


@bp.get("/<int:case_id>/signed.pdf")
@company_user_required
def signed_download(case_id: int):
    """The signed contract PDF (the B-LTA file once complete, else the newest signed revision)."""
    case = cases.get_for_user(current_user, case_id)
    doc = cases.documents_shown_to(case, current_user.company_id).contract
    if doc is None or doc.role not in ("signed", "sealed"):
        abort(404, "署名済みのPDFはまだありません。")
    return document_download(case.id, doc.id)


@bp.post("/<int:case_id>/documents")
@company_user_required
@writable_required
def upload(case_id: int):
    """Add the main contract PDF or an attachment; a bad file is refused and nothing is stored."""
    case = cases.get_for_user(current_user, case_id)
    form = UploadForm()
    if form.validate_on_submit():
        storage = form.file.data
        data = storage.read(current_app.config["UPLOAD_MAX_BYTES"] + 1)
        try:
            doc = cases.attach_document(current_user, case.id, _version(form), data, storage.filename,
                                        kind=form.kind.data, label=form.label.data, actor=request_actor())
        except ValidationFailed as exc:
            db.session.rollback()
            form.file.errors = [exc.message]
        else:
            db.session.commit()
            flash(f"{doc.label}「{doc.filename}」を登録しました（{doc.page_count}ページ）。", "success")
            return redirect(_detail_url(case.id))
    return render_template("cases/detail.html", **_detail_context(case, upload_form=form)), 400


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(exc: RequestEntityTooLarge):
    """A file over the limit is refused before the form is read (so before CSRF and the view): the case
    page again with the message at the file field, like any other refused file (413). Anyone else, or
    another URL of this area, gets the 413 error page."""
    case_id = (request.view_args or {}).get("case_id")
    if request.endpoint != "cases.upload" or not current_user.is_authenticated or current_user.is_staff:
        return _too_large_page()
    try:
        case = cases.get_for_user(current_user, case_id)
    except (HTTPException, DomainError):
        return _too_large_page()
    form = UploadForm(formdata=None)
    limit_mb = current_app.config["UPLOAD_MAX_BYTES"] // 1048576
    form.file.errors = [f"ファイルが大きすぎます。{limit_mb}MBまでのPDFを選んでください。"]
    return render_template("cases/detail.html", **_detail_context(case, upload_form=form)), 413


def _too_large_page():
    """The app's 413 page (portal.web renders the same for every other area)."""
    template = "errors/_error.html" if htmx else "errors/error.html"
    message = "送信されたデータが上限を超えています。ファイルの大きさを確認してください。"
    return render_template(template, status=413, title="ファイルが大きすぎます", message=message), 413


def _simple_post(case_id: int, action, success: str, **kwargs):
    form = VersionForm()
    if not form.validate_on_submit():
        abort(400, "画面の情報が不足しています。画面を再読み込みしてやり直してください。")
    action(current_user, case_id, _version(form), actor=request_actor(), **kwargs)
    db.session.commit()
    flash(success, "success")
    return redirect(_detail_url(case_id))


@bp.post("/<int:case_id>/documents/<int:document_id>/remove")
@company_user_required
@writable_required
def remove_document(case_id: int, document_id: int):
    """Take a document off a draft."""
    return _simple_post(case_id, cases.remove_document, "書類を外しました。", document_id=document_id)


@bp.post("/<int:case_id>/generate")
@company_user_required
@writable_required
def generate(case_id: int):
    """Write the 工事請負契約書 from the fields and use it as the main contract PDF."""
    return _simple_post(case_id, cases.generate_contract_document, "入力内容から契約書PDFを作成しました。")


@bp.post("/<int:case_id>/send")
@company_user_required
@writable_required
def send(case_id: int):
    """Send the case to the parties (draft/returned → waiting); party 1 is notified."""
    return _simple_post(case_id, cases.send, "案件を送信しました。署名順の1番目の当事者に通知しました。")


@bp.post("/<int:case_id>/withdraw")
@company_user_required
@writable_required
def withdraw(case_id: int):
    """Withdraw (取消) before completion; the parties are notified."""
    return _simple_post(case_id, cases.withdraw, "案件を取り消しました。")


@bp.post("/<int:case_id>/return")
@company_user_required
@writable_required
def return_case(case_id: int):
    """Return (差戻し) with a reason; earlier signatures become void; everyone is notified."""
    case = cases.get_for_user(current_user, case_id)
    form = ReturnForm()
    if not form.validate_on_submit():
        return render_template("cases/detail.html", **_detail_context(case, return_form=form)), 400
    cases.return_case(current_user, case.id, _version(form), form.reason.data, actor=request_actor())
    db.session.commit()
    flash("案件を差し戻しました。", "success")
    return redirect(_detail_url(case.id))


@bp.post("/<int:case_id>/agree")
@company_user_required
@writable_required
def agree(case_id: int):
    """The current party agrees and signs: the job is queued and the progress component polls for it.

    htmx gets the component back (with the error inside when refused); a plain POST is redirected to
    the page, or gets the 409/400 error page.
    """
    case = cases.get_for_user(current_user, case_id)
    form = AgreeForm()
    if not form.validate_on_submit():
        template = "cases/_progress.html" if htmx else "cases/detail.html"
        return render_template(template, **_detail_context(case, agree_form=form)), 200 if htmx else 400
    try:
        cases.agree_and_sign(current_user, case.id, _version(form), form.consent_version.data, actor=request_actor())
    except DomainError as exc:
        if not htmx:
            raise
        db.session.rollback()
        case = cases.get_for_user(current_user, case_id)
        return render_template("cases/_progress.html", **_detail_context(case, error=exc.message))
    db.session.commit()
    if htmx:
        return render_template("cases/_progress.html", **_detail_context(case))
    flash("署名を受け付けました。処理が終わるまでお待ちください。", "success")
    return redirect(_detail_url(case.id))
