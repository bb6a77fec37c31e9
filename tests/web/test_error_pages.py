"""Every error status the portal gives has a Japanese page with a way back (and JSON under /healthz)."""
from __future__ import annotations

import pytest
from flask import abort

from config import TestConfig
from portal import create_app

STATUSES = {
    400: "リクエストが正しくありません",
    403: "この操作は許可されていません",
    404: "ページが見つかりません",
    409: "内容が更新されています",
    413: "ファイルが大きすぎます",
    429: "操作の回数が多すぎます",
    500: "システムエラーが発生しました",
    503: "ただいまご利用いただけません",
}


@pytest.fixture(scope="module")
def failing_app():
    """A separate app with routes that fail on purpose (the shared app's routes stay untouched)."""
    app = create_app(TestConfig)
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/_fail/<int:status>")
    def fail(status: int):
        if status == 500:
            raise RuntimeError("boom")
        abort(status)

    return app


@pytest.mark.parametrize("status", sorted(STATUSES))
def test_error_status_has_a_japanese_page_with_a_way_back(failing_app, status):
    """Does status {status} show its Japanese title and a link home, not Werkzeug's English page?"""
    response = failing_app.test_client().get(f"/_fail/{status}")
    body = response.get_data(as_text=True)
    assert response.status_code == status
    assert STATUSES[status] in body
    assert 'href="/"' in body
    assert "Traceback" not in body and "boom" not in body


def test_htmx_request_gets_only_the_error_fragment(failing_app):
    """Does an htmx request receive the error partial alone, to swap into the page?"""
    response = failing_app.test_client().get("/_fail/404", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 404
    assert 'id="error"' in body and "<html" not in body


def test_oversized_body_is_refused_with_413(app, client):
    """Is a request larger than MAX_CONTENT_LENGTH refused before any view reads it?"""
    too_big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post("/login", data=too_big, content_type="application/octet-stream")
    assert response.status_code == 413
    assert "ファイルが大きすぎます" in response.get_data(as_text=True)
