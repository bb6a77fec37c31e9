"""Request-level wiring: login loading, error pages, security headers, template helpers."""
from __future__ import annotations

from datetime import date, datetime

from flask import Flask, has_request_context, jsonify, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map

from portal.clock import japanese_date, to_jst
from portal.extensions import db, htmx, login_manager
from portal.services import accounts, notify
from portal.services.errors import DomainError

ERROR_TITLES = {
    400: "リクエストが正しくありません",
    403: "この操作は許可されていません",
    404: "ページが見つかりません",
    405: "この方法では操作できません",
    409: "内容が更新されています",
    413: "ファイルが大きすぎます",
    429: "操作の回数が多すぎます",
    500: "システムエラーが発生しました",
    503: "ただいまご利用いただけません",
}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; frame-src 'self'; frame-ancestors 'self'; base-uri 'self'; form-action 'self'"
)


# The id columns are INTEGER: 32-bit signed on PostgreSQL. A larger number in a URL names no row, but
# handed to the database it overflows (SQLite's driver raises OverflowError past 2**63-1, PostgreSQL
# "integer out of range"), so the URL itself is a 404.
ID_MAX = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:…>` in every route: a positive integer that fits an id column, else the route does not match."""

    def __init__(self, map: Map, *args, **kwargs) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)


def init_url_converters(app: Flask) -> None:
    """Before any blueprint is registered: a rule picks its converter when it is added to the map."""
    app.url_map.converters["int"] = IdConverter


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "ログインしてください。"
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # the server-side LoginSession does this job

    @login_manager.user_loader
    def load_user(session_id: str):
        return accounts.load_session(session_id)

    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(StaleDataError, _stale_error)
    app.after_request(_security_headers)
    app.after_request(_keep_page_url)

    app.jinja_env.filters.update(jst=format_jst, jdate=format_date, yen=format_yen, notice_kind=notify.kind_label)
    app.context_processor(lambda: {"current_company": _current_company()})


def _current_company():
    """The logged-in user's company; None outside a request (mail rendered by a job)."""
    if has_request_context() and current_user.is_authenticated:
        return current_user.company
    return None


def _wants_json() -> bool:
    return request.path.startswith("/healthz") or request.path.startswith("/api/")


def render_error(status: int, message: str | None = None):
    if _wants_json():
        return jsonify(error=ERROR_TITLES.get(status, "error"), message=message), status
    template = "errors/_error.html" if htmx else "errors/error.html"
    return render_template(template, status=status, title=ERROR_TITLES.get(status, "エラー"), message=message), status


def _http_error(exc: HTTPException):
    status = exc.code or 500
    message = exc.description if status in (400, 403, 404, 409) and _is_ours(exc.description) else None
    if status == 429:
        message = "しばらく時間をおいてから、もう一度お試しください。"
    if status == 413:
        message = "送信されたデータが上限を超えています。ファイルの大きさを確認してください。"
    return render_error(status, message)


def _is_ours(description: str | None) -> bool:
    """A description we wrote in Japanese (abort(403, "…")), not Werkzeug's English default."""
    return description is not None and description != "" and not description.isascii()


def _csrf_error(exc: CSRFError):
    return render_error(400, "フォームの有効期限が切れたか、不正な送信です。画面を再読み込みしてやり直してください。")


def _domain_error(exc: DomainError):
    db.session.rollback()
    return render_error(exc.status, exc.message)


def _stale_error(exc: StaleDataError):
    db.session.rollback()
    return render_error(409, "画面を表示した後に内容が変わりました。最新の状態を確認してください。")


def _security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if current_user.is_authenticated:
        headers.setdefault("Cache-Control", "no-store")
    headers.add("Vary", "HX-Request")
    return response


def _keep_page_url(response):
    """A boosted form's POST answers with a page when it is refused (the form again with its errors):
    htmx would push the POST-only URL, and a reload would then GET it and meet 405. The address bar
    keeps the page the form was on; a success redirects, and the redirect's GET is what htmx pushes."""
    if htmx and htmx.boosted and request.method != "GET":
        response.headers.setdefault("HX-Push-Url", "false")
    return response


def format_jst(value: datetime | None, with_time: bool = True) -> str:
    if value is None:
        return ""
    local = to_jst(value)
    text = f"{local.year}年{local.month}月{local.day}日"
    return f"{text} {local:%H:%M}" if with_time else text


def format_date(value: date | None) -> str:
    return "" if value is None else japanese_date(value)


def format_yen(value: int | None) -> str:
    return "" if value is None else f"¥{value:,}"
