"""A case signed in a real browser against the real portal and worker (R-CASE-3): the progress component
updates itself while the job runs and shows the result without a reload; the contract is framed as a PDF."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

DEMO_PASSWORD = "ukeoi-demo-2026"  # noqa: S105 (the published demo password)


@pytest.fixture
def page_for(browser, live_server):
    contexts = []

    def login(login_id: str):
        context = browser.new_context(locale="ja-JP")
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{live_server}/login")
        page.fill("#login_id", login_id)
        page.fill("#password", DEMO_PASSWORD)
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        return page

    yield login
    for context in contexts:
        context.close()


def test_r_case_3_two_parties_sign_in_the_browser_and_the_page_updates_itself(page_for, live_server):
    """Can party 1 send and sign, party 2 sign, with the progress component turning to the result by itself?"""
    kou = page_for("demo-a")
    kou.goto(f"{live_server}/cases/")
    kou.locator("tr", has_text="デモ倉庫新築工事").get_by_role("link").first.click()
    kou.wait_for_url(re.compile(r".*/cases/\d+$"))
    case_url = kou.url
    # the contract is framed from the inline PDF route
    frame_src = kou.locator("iframe.pdf").get_attribute("src")
    response = kou.request.get(f"{live_server}{frame_src}")
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("inline")

    kou.once("dialog", lambda dialog: dialog.accept())
    kou.get_by_role("button", name="当事者に送信").click()
    progress = kou.locator("#signing-progress")
    expect(progress).to_contain_text("同意して署名する")
    kou.check("#agree")
    kou.get_by_role("button", name="同意して署名する").click()
    # no navigation: the component swaps to "signing", then by itself to the party's signature
    expect(progress).to_contain_text("署名済み", timeout=30_000)
    expect(progress).to_contain_text("の署名を待っています")
    assert kou.url == case_url

    otsu = page_for("demo-b")
    otsu.goto(case_url)
    otsu.check("#agree")
    otsu.get_by_role("button", name="同意して署名する").click()
    expect(otsu.locator("#signing-progress")).to_contain_text("契約が締結されました", timeout=60_000)
    download = otsu.request.get(f"{case_url}/signed.pdf")
    assert download.status == 200 and download.body()[:5] == b"%PDF-"
