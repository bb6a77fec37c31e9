from flask import render_template

from portal.blueprints.cases import bp
from portal.blueprints.guards import company_user_required


@bp.get("/")
@company_user_required
def index():
    """The company's cases."""
    return render_template("cases/index.html")
