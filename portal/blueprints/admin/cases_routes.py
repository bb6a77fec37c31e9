"""Staff view of cases (R-STORE-4): metadata for operations; reading a contract's content is logged."""
from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from portal.blueprints.admin import bp
from portal.blueprints.auth.actor import request_actor
from portal.blueprints.cases.forms import SearchForm
from portal.blueprints.downloads import pdf_response
from portal.blueprints.guards import staff_required
from portal.extensions import db, htmx
from portal.services import cases, search


@bp.get("/cases")
@staff_required
def cases_index():
    """Every case's number, parties, status and dates (no content)."""
    form = SearchForm(request.args)
    form.validate()
    page = search.search(form.to_query(), None, staff=True)
    if htmx and htmx.target == "case-results":
        return render_template("cases/_results.html", page=page, form=form, staff=True)
    return render_template("admin/cases.html", page=page, form=form, staff=True)


@bp.get("/cases/<int:case_id>")
@staff_required
def case_detail(case_id: int):
    """A case's metadata and document hashes; 404 if there is no such case."""
    case = cases.staff_get(case_id)
    return render_template("admin/case_detail.html", case=case, state=cases.signing_state(case, None))


@bp.get("/cases/<int:case_id>/documents/<int:document_id>")
@staff_required
def case_document(case_id: int, document_id: int):
    """A document's content for staff, recorded in the audit trail as "staff_viewed"."""
    doc, data = cases.staff_open_document(current_user, case_id, document_id, actor=request_actor())
    db.session.commit()
    return pdf_response(doc, data, as_attachment=False)
