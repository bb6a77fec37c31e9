from flask import abort, current_app, jsonify, redirect, render_template, request, session, url_for

from portal.blueprints.guards import may_read_health_details
from portal.blueprints.public import bp
from portal.blueprints.public.forms import ApplicationForm
from portal.extensions import db, limiter
from portal.services import health, onboarding, terms_versions
from portal.services.errors import DomainError


@bp.get("/terms")
def terms():
    """Our own terms of service (Japanese)."""
    return render_template("public/terms.html")


@bp.get("/privacy")
def privacy():
    """How personal information is handled."""
    return render_template("public/privacy.html")


@bp.get("/favicon.ico")
def favicon():
    """The site icon for clients that ask the conventional address (pages link the same SVG)."""
    return current_app.send_static_file("favicon.svg")


@bp.get("/healthz")
def healthz():
    """`{"ok": true}` with 200, or `{"ok": false}` with 503 when the database, Redis, the store, the worker
    heartbeat or the PKI fails; each check's details only for staff or a HEALTHZ_TOKEN bearer."""
    report = health.check()
    body = report if may_read_health_details() else {"ok": report["ok"]}
    return jsonify(body), 200 if report["ok"] else 503


def _apply_limit() -> str:
    """Submissions per client IP (ARCHITECTURE "Web": rate limits on apply)."""
    return current_app.config.get("APPLY_RATE_LIMIT", "10 per hour")


TERMS_CHANGED = "利用規約が改定されました。最新の規約をご確認のうえ、あらためて同意してください"
CORRECTION_LINK_INVALID = (
    "この訂正用リンクは既に使われたか、無効です。訂正済みの場合は審査結果のメールをお待ちください。"
    "ご不明な点は、受付番号を添えてお問い合わせください。"
)


@bp.route("/apply", methods=["GET", "POST"])
@limiter.limit(_apply_limit, methods=["POST"])
def apply():
    """The public application form (利用申込書, R-APP-1). A valid submission creates the application,
    queues the confirmation mail and redirects to the receipt page; errors re-render the form
    with messages next to each field (400 on a missing CSRF token, 429 past the rate limit, 409 when
    the same form — its one-time token — was already sent)."""
    form = ApplicationForm()
    if not form.is_submitted():
        form.submission_token.data = onboarding.new_submission_token()
    if _consented(form):
        try:
            application = onboarding.submit(
                form.applicant_data(), form.terms_version.data, antisocial_declared=form.antisocial_declared.data,
                submission_token=form.submission_token.data,
            )  # fmt: skip
        except DomainError as exc:  # the same form sent a second time (Back, then 申し込む)
            db.session.rollback()
            page = render_template("public/apply.html", form=form, action=url_for("public.apply"), refusal=exc.message)
            return page, exc.status
        db.session.commit()
        session["receipt_number"] = application.receipt_number
        return redirect(url_for("public.apply_done"))
    return render_template("public/apply.html", form=form, action=url_for("public.apply"))


@bp.post("/apply/validate")
@limiter.limit("600 per hour")
def apply_validate():
    """htmx: check the one field named by `_field` when it loses focus; returns that field's
    wrapper (public/_apply_field.html). 400 for an unknown field name or a missing CSRF token."""
    form = ApplicationForm()
    name = request.form.get("_field", "")
    if name not in ApplicationForm.CHECKABLE:
        abort(400, "確認する項目の指定が正しくありません。")
    form.validate_field(name)
    return render_template("public/_apply_field.html", f=form[name])


@bp.get("/apply/done")
def apply_done():
    """The receipt number of the application just submitted in this browser."""
    receipt_number = session.get("receipt_number")
    if not receipt_number:
        return redirect(url_for("public.apply"))
    return render_template("public/apply_done.html", receipt_number=receipt_number)


@bp.route("/apply/correct/<token>", methods=["GET", "POST"])
@limiter.limit(_apply_limit, methods=["POST"])
def correction(token: str):
    """The correction link from the mail: the same application, prefilled, to fix and send again.
    404 once the link was used (or never existed); 409 if staff acted on it meanwhile."""
    application = onboarding.find_for_correction(token)
    if application is None:
        abort(404, CORRECTION_LINK_INVALID)
    form = ApplicationForm()
    if request.method == "GET":
        form.fill_from(onboarding.ApplicantData.from_application(application))
    if _consented(form):
        onboarding.resubmit(
            application,
            token,
            form.applicant_data(),
            form.terms_version.data,
            antisocial_declared=form.antisocial_declared.data,
        )
        db.session.commit()
        session["receipt_number"] = application.receipt_number
        return redirect(url_for("public.apply_done"))
    response = current_app.make_response(
        render_template(
            "public/apply.html",
            form=form,
            application=application,
            action=url_for("public.correction", token=token),
        )
    )
    response.headers["Cache-Control"] = "no-store"  # the page's address is the secret link
    return response


def _consented(form: ApplicationForm) -> bool:
    """Validate the submission, and require consent to the terms version in force now: if it changed
    while the form was open, the applicant must read and consent again (第2条)."""
    current = terms_versions.current().version
    if not form.is_submitted():
        form.terms_version.data = current
        return False
    valid = form.validate()
    if form.terms_version.data != current:
        form.terms_version.data = current
        form.consent.data = False
        form.consent.errors = [*form.consent.errors, TERMS_CHANGED]
        return False
    return valid
