from flask import jsonify, render_template

from portal.blueprints.public import bp
from portal.services import health


@bp.get("/terms")
def terms():
    """Our own terms of service (Japanese)."""
    return render_template("public/terms.html")


@bp.get("/privacy")
def privacy():
    """How personal information is handled."""
    return render_template("public/privacy.html")


@bp.get("/healthz")
def healthz():
    """JSON status of the database, Redis, the store and the worker heartbeat; 503 when one is down."""
    report = health.check()
    return jsonify(report), 200 if report["ok"] else 503


@bp.get("/apply")
def apply():
    """The public application form (利用申込)."""
    return render_template("public/terms.html")


@bp.get("/verify")
def verify():
    """Public verification of a signed PDF."""
    return render_template("public/terms.html")
