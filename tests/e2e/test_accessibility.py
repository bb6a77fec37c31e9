"""Accessibility: axe-core (vendored from the npm registry) on every page a visitor, a contractor and staff
reach by following the portal's own links from where they land. No serious or critical violation."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
DEMO_PASSWORD = "ukeoi-demo-2026"  # noqa: S105 (the published demo password)
MAX_PAGES = 30
# Links that end a session, download a file or answer machines rather than people.
NOT_PAGES = ("/logout", "/healthz", "/pki/", "/static/", "/favicon")
FILE_ENDINGS = (".pdf", ".zip", ".csv", ".pem", ".crt")


def _is_page(url: str, base: str) -> bool:
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != base:
        return False
    path = parts.path
    return not path.startswith(NOT_PAGES) and not path.endswith(FILE_ENDINGS) and "/download" not in path


def _crawl_and_check(page, base: str, start: str) -> tuple[list[str], list[str]]:
    """Visit pages breadth-first from `start` through same-site links; axe each one. Returns the pages
    visited and one line per serious or critical violation."""
    queue, seen, problems = [base + start], set(), []
    while queue and len(seen) < MAX_PAGES:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = page.goto(url)
        if response is None or response.status >= 400 or "text/html" not in response.headers.get("content-type", ""):
            continue
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        for violation in result["violations"]:
            if violation["impact"] in ("serious", "critical"):
                targets = ", ".join(str(node["target"]) for node in violation["nodes"][:3])
                problems.append(f"{url}: {violation['id']} ({violation['impact']}): {targets}")
        hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
        queue.extend(urldefrag(href).url for href in hrefs if _is_page(href, base))
    return sorted(seen), problems


def _login(page, login_id: str) -> None:
    page.goto("/login")
    page.fill("#login_id", login_id)
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.mark.parametrize("login_id", [None, "demo-a", "staff"], ids=["visitor", "contractor", "staff"])
def test_no_serious_accessibility_violation_on_any_page_reached(browser, live_server, login_id):
    """Does axe-core find a serious or critical problem on a page these people can reach?"""
    # axe is injected as a script the portal's CSP would refuse; the pages themselves are unchanged.
    context = browser.new_context(base_url=live_server, locale="ja-JP", bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    if login_id:
        _login(page, login_id)
    start = {None: "/", "demo-a": "/", "staff": "/admin/"}[login_id]
    visited, problems = _crawl_and_check(page, live_server, start)
    context.close()
    print(f"axe checked {len(visited)} pages as {login_id or 'visitor'}")
    assert len(visited) >= 5, visited
    assert not problems, "\n".join(problems)
