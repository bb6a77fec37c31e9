"""Access decorators. Each view states who may call it; services check the company again."""
from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, current_app, request
from flask_login import current_user, login_required

Role = str


def roles_required(*roles: Role) -> Callable:
    """Logged in, and one of `roles` (contact, member, staff, staff_admin). 403 otherwise."""

    def decorator(view: Callable) -> Callable:
        @login_required
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            if current_user.role not in roles:
                abort(403, "この画面を表示する権限がありません。")
            return view(*args, **kwargs)

        return wrapped

    return decorator


company_user_required = roles_required("contact", "member")
contact_required = roles_required("contact")
staff_required = roles_required("staff", "staff_admin")
staff_admin_required = roles_required("staff_admin")


def writable_required(view: Callable) -> Callable:
    """Refuse changes while the company is read-only (ended, or suspended read-only: R-ADM-1, R-RET-3)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any):
        company = current_user.company
        if company is not None and company.is_read_only:
            abort(403, "現在このアカウントは閲覧のみ可能です。変更はできません。")
        return view(*args, **kwargs)

    return wrapped


def may_read_health_details() -> bool:
    """/healthz details (key expiry, free disk, database kind, heartbeats) are for logged-in staff and
    for a monitor that sends `Authorization: Bearer <HEALTHZ_TOKEN>`; everyone else sees only ok."""
    if current_user.is_authenticated and current_user.is_staff:
        return True
    token = current_app.config.get("HEALTHZ_TOKEN") or ""
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    # compare_digest: the time taken does not tell how much of a guessed token was right.
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode())
