from flask import render_template

from portal.blueprints.admin import bp
from portal.blueprints.guards import staff_required


@bp.get("/")
@staff_required
def index():
    """Staff home."""
    return render_template("admin/index.html")


@bp.get("/applications")
@staff_required
def applications():
    """Pending applications."""
    return render_template("admin/index.html")


@bp.get("/companies")
@staff_required
def companies():
    """Contractors."""
    return render_template("admin/index.html")


@bp.get("/mail")
@staff_required
def mail_outbox():
    """Mail written by the file backend."""
    return render_template("admin/index.html")
