"""Who is acting in this request, for the audit trail (services take an Actor, never the request)."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from portal.extensions import client_ip
from portal.services.audit import Actor


def request_actor() -> Actor:
    """The logged-in user (if any), their company, the client's IP and user agent."""
    user_id = company_id = None
    if current_user.is_authenticated:
        user_id, company_id = current_user.id, current_user.company_id
    return Actor(user_id=user_id, company_id=company_id, ip=client_ip(), user_agent=request.user_agent.string or None)
