"""The skeleton: pages render in Japanese, errors are Japanese pages, headers are strict."""
from __future__ import annotations


def test_landing_page_is_japanese_and_links_to_apply_and_login(client):
    """Does a visitor see the Japanese landing page with the way to log in and to apply?"""
    page = client.get("/")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'lang="ja"' in body
    assert "/login" in body and "/apply" in body


def test_unknown_page_is_a_japanese_404_with_a_way_back(client):
    """Does a missing page give a Japanese 404 page with a link home?"""
    page = client.get("/no-such-page")
    body = page.get_data(as_text=True)
    assert page.status_code == 404
    assert "ページが見つかりません" in body
    assert 'href="/"' in body


def test_security_headers_forbid_inline_script_and_framing(client):
    """Does every response carry a CSP without inline script, nosniff and a frame policy?"""
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "HX-Request" in headers.get("Vary", "")


def test_htmx_is_served_from_static_not_a_cdn(client):
    """Is htmx vendored (served by us), with no external script host in the page?"""
    body = client.get("/").get_data(as_text=True)
    assert "/static/vendor/htmx-2.0.11.min.js" in body
    assert "https://" not in body.split("<body")[0]
    with client.get("/static/vendor/htmx-2.0.11.min.js") as script:
        assert script.status_code == 200
