from flask import redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from portal.blueprints.home import bp
from portal.extensions import db
from portal.models import Case, Party

RECENT_COMPLETED = 5


@bp.get("/")
def index():
    """Landing for visitors; the company home (what to do next) or the staff home once logged in."""
    if not current_user.is_authenticated:
        return render_template("home/landing.html")
    if current_user.is_staff:
        return redirect(url_for("admin.index"))
    return render_template("home/index.html", **_next_steps(current_user.company_id))


def _next_steps(company_id: int) -> dict:
    """Cases whose turn to sign is this company's, and the ones completed most recently."""
    mine = select(Party.case_id).where(Party.company_id == company_id)
    to_sign = db.session.scalars(
        select(Case)
        .join(Party, (Party.case_id == Case.id) & (Party.position == Case.current_position))
        .where(Case.status == "waiting", Party.company_id == company_id, Party.status == "pending")
        .order_by(Case.sent_at)
    ).all()
    completed = db.session.scalars(
        select(Case)
        .where(Case.status == "complete", Case.id.in_(mine))
        .order_by(Case.completed_at.desc())
        .limit(RECENT_COMPLETED)
    ).all()
    return {"to_sign": to_sign, "completed": completed}
