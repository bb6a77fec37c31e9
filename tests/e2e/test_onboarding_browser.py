"""Onboarding in a real browser (R-APP-1, R-APP-2, R-ACC-1): a company applies, the form checks a
field as it is left; staff accept; the new contact person opens the mailed single-use set-password
link (no password travels by mail), chooses a password, and logs in with it."""
from __future__ import annotations

import re
import time
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

from playwright.sync_api import expect

from tests import factories

DEMO_PASSWORD = "ukeoi-demo-2026"  # noqa: S105 (the published demo password)
CONTACT_EMAIL = "e2e-contact@example.co.jp"


def _mail_to(mail_dir: Path, recipient: str, subject_part: str, timeout: float = 30) -> str:
    """The body of the newest mail to `recipient` whose subject contains `subject_part` (file backend)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(mail_dir.glob("*"), key=lambda p: p.stat().st_mtime, reverse=True):
            for raw in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
                if not raw.strip():
                    continue
                message = message_from_bytes(raw.strip(), policy=default_policy)
                if recipient in str(message["To"]) and subject_part in str(message["Subject"]):
                    return message.get_body(preferencelist=("plain",)).get_content()
        time.sleep(0.5)
    raise AssertionError(f"no mail to {recipient} about {subject_part}")


def test_r_app_1_apply_accept_then_set_the_first_password_through_the_mailed_link(browser, live_server, live_instance):
    """Can a company apply in the browser (with a field checked as it is left), be accepted by staff,
    set its first password through the link in the 利用受諾通知 (which holds no password), log in with
    it — and is the link refused when opened again?"""
    visitor = browser.new_context(base_url=live_server, locale="ja-JP").new_page()
    visitor.goto("/apply")
    visitor.fill("#corporate_number", "1234567890123")  # wrong check digit
    visitor.locator("#company_name").focus()
    expect(visitor.locator("#field-corporate_number .error")).to_contain_text("法人番号")

    visitor.fill("#company_name", "ブラウザ試験建設株式会社")
    visitor.fill("#company_name_kana", "ブラウザシケンケンセツ")
    visitor.fill("#corporate_number", factories.corporate_number("777000000001"))
    visitor.fill("#postal_code", "1000001")
    visitor.fill("#address", "東京都千代田区千代田1-1")
    visitor.fill("#phone", "03-1234-5678")
    visitor.fill("#representative_title", "代表取締役")
    visitor.fill("#representative_name", "試験 太郎")
    visitor.fill("#contact_name", "試験 花子")
    visitor.fill("#contact_email", CONTACT_EMAIL)
    visitor.fill("#contact_phone", "090-1234-5678")
    visitor.check("#antisocial_declared")
    visitor.check("#consent")
    visitor.get_by_role("button", name="申し込む").click()
    receipt = visitor.locator("#receipt-number")
    expect(receipt).to_be_visible()
    receipt_number = receipt.inner_text().strip()
    visitor.context.close()

    staff = browser.new_context(base_url=live_server, locale="ja-JP").new_page()
    staff.goto("/login")
    staff.fill("#login_id", "staff")
    staff.fill("#password", DEMO_PASSWORD)
    staff.get_by_role("button", name="ログイン").click()
    staff.wait_for_url(lambda url: "/login" not in url)
    staff.goto("/admin/applications")
    staff.get_by_role("link", name=receipt_number).click()
    staff.once("dialog", lambda dialog: dialog.accept())
    staff.get_by_role("button", name="受諾して通知する").click()
    expect(staff.locator("body")).to_contain_text("受諾")
    staff.context.close()

    body = _mail_to(live_instance / "mail", CONTACT_EMAIL, "利用受諾")
    assert "仮パスワード" not in body
    login_id = re.search(r"ユーザーID\s*：(\S+)", body).group(1)
    link = re.search(r"パスワード設定：(\S+)", body).group(1)
    assert link.startswith(live_server + "/password/reset/")

    user = browser.new_context(base_url=live_server, locale="ja-JP").new_page()
    user.goto(link)
    expect(user.locator("h1")).to_contain_text("新しいパスワードの設定")
    user.fill("#new_password", "kawasaki-genba-2026-spring")
    user.fill("#new_password_confirm", "kawasaki-genba-2026-spring")
    user.get_by_role("button", name="設定する").click()
    user.wait_for_url(re.compile(r".*/login.*"))
    user.fill("#login_id", login_id)
    user.fill("#password", "kawasaki-genba-2026-spring")
    user.get_by_role("button", name="ログイン").click()
    user.wait_for_url(lambda url: "/login" not in url)
    user.goto("/cases/")  # no forced change: the password is the user's own
    expect(user.locator("h1")).to_contain_text("案件")
    expect(user.locator(".who")).to_contain_text("ブラウザ試験建設株式会社")
    user.goto(link)
    expect(user.locator("#reset-invalid")).to_contain_text("使用済みか、有効期限が切れています")
    user.context.close()
