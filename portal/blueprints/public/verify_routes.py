"""The public verification page (R-CASE-4): anyone uploads a PDF and learns whether it is an original the
portal issued (by SHA-256: only the case number and dates are shown) and whether every signature in it
is valid, with the same report as the evidence package. The file is not stored. Rate limited per IP."""
from __future__ import annotations

from flask import current_app, render_template
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from portal.blueprints.public import bp
from portal.extensions import htmx, limiter
from portal.services import evidence
from portal.services.signing import InvalidPdf


class VerifyForm(FlaskForm):
    file = FileField("検証するPDFファイル", validators=[FileRequired("PDFファイルを選択してください。")],
                     render_kw={"accept": "application/pdf,.pdf"})


def _verify_limit() -> str:
    return current_app.config.get("VERIFY_RATE_LIMIT", "20 per hour")


@bp.route("/verify", methods=["GET", "POST"])
@limiter.limit(_verify_limit, methods=["POST"])
def verify():
    """GET: the upload form. POST: the result below the form (htmx: `_verify_result.html` alone); 400 with the
    reason for a missing, non-PDF, encrypted, broken or oversized file; 429 past the rate limit."""
    form = VerifyForm()
    result = error = filename = None
    status = 200
    if form.validate_on_submit():
        storage = form.file.data
        filename = storage.filename
        max_bytes = current_app.config["UPLOAD_MAX_BYTES"]
        try:
            result = evidence.check_upload(storage.read(max_bytes + 1), max_bytes)
        except InvalidPdf as exc:
            error, status = exc.message, 400
    elif form.is_submitted():
        error, status = " ".join(form.file.errors) or "PDFファイルを選択してください。", 400
    template = "public/_verify_result.html" if htmx else "public/verify.html"
    return render_template(template, form=form, result=result, error=error, filename=filename), status
