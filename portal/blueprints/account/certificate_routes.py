"""The company's certificate on its account page (R-ACC-4): helpers for account/_certificate.html."""
from __future__ import annotations

from portal.blueprints.account import bp
from portal.clock import now_utc
from portal.services import certificates


@bp.app_context_processor
def _certificate_helpers() -> dict:
    return {
        "company_certificates": certificates.for_company,
        "certificate_expired": lambda cert: cert.not_after <= now_utc(),
    }
