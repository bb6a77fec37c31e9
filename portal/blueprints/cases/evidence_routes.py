"""Evidence of a completed case (R-CASE-4): the verification report page, the evidence package (zip) and
the report as PDF. Only the parties' users get them (anyone else: 404); every download is audited.
The signed PDF itself is `cases.signed_download`."""
from __future__ import annotations

from flask import render_template
from flask_login import current_user

from portal.blueprints.auth.actor import request_actor
from portal.blueprints.cases import bp
from portal.blueprints.downloads import file_response
from portal.blueprints.guards import company_user_required
from portal.extensions import db
from portal.services import evidence


@bp.get("/<int:case_id>/evidence")
@company_user_required
def evidence_page(case_id: int):
    """The verification report of the signed contract with the downloads; 404 unless the case is complete
    and the user's company is a party."""
    case = evidence.completed_case_for(current_user, case_id)
    final, view = evidence.case_report(case)
    return render_template("cases/evidence.html", case=case, final=final, rv=view,
                           root_fingerprint=evidence.root_fingerprint())


@bp.get("/<int:case_id>/evidence.zip")
@company_user_required
def evidence_package(case_id: int):
    """The evidence package (signed PDF, report HTML/PDF, audit trail, CA certificates, README); audited
    as "downloaded". 404 as the report page."""
    name, data = evidence.package_for_user(current_user, case_id, request_actor())
    db.session.commit()
    return file_response(data, name, "application/zip")


@bp.get("/<int:case_id>/evidence/report.pdf")
@company_user_required
def evidence_report_pdf(case_id: int):
    """The verification report as PDF; audited as "downloaded". 404 as the report page."""
    name, data = evidence.report_pdf_for_user(current_user, case_id, request_actor())
    db.session.commit()
    return file_response(data, name, "application/pdf")
