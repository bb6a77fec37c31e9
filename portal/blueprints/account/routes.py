from flask import render_template

from portal.blueprints.account import bp
from portal.blueprints.guards import company_user_required


@bp.get("/")
@company_user_required
def index():
    """The company's account page: registered items, contract, certificate, users."""
    return render_template("account/index.html")
