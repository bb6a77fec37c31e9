"""Staff measures in a real browser (R-ADM-1): the suspension form on the company page submits with one
ground ticked (the browser must not demand every box), keeps the company's users out, and is lifted."""
from __future__ import annotations

from playwright.sync_api import expect

DEMO_PASSWORD = "ukeoi-demo-2026"  # noqa: S105 (the published demo password)
COMPANY = "見本設備工業株式会社"  # demo-c: the other browser tests don't use it


def _login(browser, live_server, login_id: str):
    page = browser.new_context(base_url=live_server, locale="ja-JP").new_page()
    page.goto("/login")
    page.fill("#login_id", login_id)
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    return page


def test_r_adm_1_staff_suspend_and_lift_a_company_in_the_browser(browser, live_server):
    staff = _login(browser, live_server, "staff")
    staff.wait_for_url(lambda url: "/login" not in url)
    staff.goto("/admin/companies")
    staff.get_by_role("link", name=COMPANY).click()
    section = staff.locator("#company-suspension")
    section.get_by_label("ログイン不可").check()
    section.get_by_label("第25条1項(2)", exact=False).check()
    section.get_by_label("記録（経緯など）").fill("支払期限の翌日から6か月の未払い")
    staff.once("dialog", lambda dialog: dialog.accept())
    section.get_by_role("button", name="利用を停止する").click()
    expect(staff.locator(".flash-success")).to_contain_text("利用を停止しました")
    expect(section).to_contain_text("停止中です（ログイン不可）")

    refused = _login(browser, live_server, "demo-c")
    expect(refused.locator("body")).to_contain_text("利用停止中のため、ログインできません")
    refused.context.close()

    section.get_by_label("記録（解除の経緯）").fill("入金を確認")
    staff.once("dialog", lambda dialog: dialog.accept())
    section.get_by_role("button", name="停止を解除する").click()
    expect(staff.locator(".flash-success")).to_contain_text("利用停止を解除しました")
    staff.context.close()

    user = _login(browser, live_server, "demo-c")
    user.wait_for_url(lambda url: "/login" not in url)
    expect(user.locator("#suspension-notice")).to_have_count(0)
    user.context.close()
