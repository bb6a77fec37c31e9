"""Staff: a company's signing certificates (第16条, R-ACC-4) — see them, revoke one with a reason, reissue."""
from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField
from wtforms.validators import DataRequired

from portal.blueprints.admin import bp
from portal.blueprints.admin.routes import company_section
from portal.blueprints.auth.actor import request_actor
from portal.blueprints.guards import staff_required
from portal.extensions import db
from portal.models import Certificate, Company
from portal.services import certificates

REASON_LABELS = {
    "key_compromise": "鍵の危殆化（漏えいのおそれ）",
    "affiliation_changed": "登録内容の変更（商号・所在地など）",
    "superseded": "再発行による置き換え",
    "cessation_of_operation": "利用契約の終了",
    "unspecified": "その他",
}
STATUS_LABELS = {"valid": "有効", "revoked": "失効"}


class RevokeForm(FlaskForm):
    reason = SelectField(
        "失効の理由",
        choices=[SelectChoice(code, label) for code, label in REASON_LABELS.items()],
        validators=[DataRequired("失効の理由を選択してください。")],
    )


class ReissueForm(FlaskForm):
    pass


@company_section("admin/_company_certificates.html", order=20)
def _certificates_section(company: Company) -> dict:
    return {
        "certificates": certificates.for_company(company.id),
        "active_certificate": certificates.active_for(company.id),
        "revoke_form": RevokeForm(formdata=None),
        "reissue_form": ReissueForm(formdata=None),
        "reason_labels": REASON_LABELS,
        "certificate_status_labels": STATUS_LABELS,
    }


def _company(company_id: int) -> Company:
    company = db.session.get(Company, company_id)
    if company is None:
        abort(404, "指定された契約者が見つかりません。")
    return company


def _back(company_id: int):
    return redirect(url_for("admin.company_detail", company_id=company_id) + "#company-certificates")


@bp.post("/companies/<int:company_id>/certificates/<int:certificate_id>/revoke")
@staff_required
def revoke_certificate(company_id: int, certificate_id: int):
    """Revoke one certificate of the company (reason recorded, CRL rewritten). 404 for a wrong pair, 409 if
    it is already revoked."""
    company = _company(company_id)
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None or certificate.company_id != company.id:
        abort(404, "指定された証明書が見つかりません。")
    form = RevokeForm()
    if not form.validate_on_submit():
        abort(400, "失効の理由を選択してください。")
    certificates.revoke(certificate, form.reason.data, current_user, actor=request_actor())
    db.session.commit()
    flash(f"証明書（シリアル {certificate.serial}）を失効させました。", "success")
    return _back(company.id)


@bp.post("/companies/<int:company_id>/certificates/reissue")
@staff_required
def reissue_certificate(company_id: int):
    """Issue a new certificate to the company; its valid ones are revoked as superseded."""
    company = _company(company_id)
    if company.status not in ("active", "suspended"):
        abort(409, "利用中でない契約者には証明書を発行できません。")
    if not ReissueForm().validate_on_submit():
        abort(400, "フォームの有効期限が切れたか、不正な送信です。")
    new = certificates.reissue(company, current_user, actor=request_actor())
    db.session.commit()
    flash(f"証明書を再発行しました（シリアル {new.serial}）。", "success")
    return _back(company.id)
