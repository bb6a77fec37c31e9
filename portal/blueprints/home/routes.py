from flask import redirect, render_template, url_for
from flask_login import current_user

from portal.blueprints.home import bp


@bp.get("/")
def index():
    """Landing for visitors; the company home or the staff home once logged in."""
    if not current_user.is_authenticated:
        return render_template("home/landing.html")
    if current_user.is_staff:
        return redirect(url_for("admin.index"))
    return render_template("home/index.html")
