"""Onboarding in a real browser (R-APP-1, R-APP-2, R-ACC-1): a company applies, the form checks a
field as it is left; staff accept; the new contact person opens the mailed single-use set-password
link (no password travels by mail), chooses a password, and logs in with it."""
from __future__ import annotations

import re
import time
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.journey_tools import Person


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


@pytest.mark.parametrize(("mode", "number"), [("desktop", "777000000001"), ("phone", "777000000002")])
def test_r_app_1_apply_accept_then_set_the_first_password_through_the_mailed_link(
        browser, live_server, live_instance, mode, number):
    """Can a company apply in the browser (with a field checked as it is left), be accepted by staff,
    set its first password through the link in the 利用受諾通知 (which holds no password), log in with
    it — and is the link refused when opened again? At desktop width and at phone width."""
    email = f"e2e-contact-{mode}@example.co.jp"
    people = []

    def person(who: str, login_id: str | None = None) -> Person:
        people.append(Person(browser, live_server, "onboarding", who, mode))
        if login_id:
            people[-1].login(login_id)
        return people[-1]

    visitor = person("1-visitor")
    page = visitor.page
    page.goto("/apply")
    visitor.audit()
    page.fill("#corporate_number", "1234567890123")  # wrong check digit
    page.locator("#company_name").focus()
    expect(page.locator("#field-corporate_number .error")).to_contain_text("法人番号")
    visitor.shot("field-error")

    company = f"ブラウザ試験建設株式会社（{mode}）"
    page.fill("#company_name", company)
    page.fill("#company_name_kana", "ブラウザシケンケンセツ")
    page.fill("#corporate_number", factories.corporate_number(number))
    page.fill("#postal_code", "1000001")  # leaving the number checks it again: the error goes
    expect(page.locator("#field-corporate_number .error")).to_have_count(0)
    page.fill("#address", "東京都千代田区千代田1-1")
    page.fill("#phone", "03-1234-5678")
    page.fill("#representative_title", "代表取締役")
    page.fill("#representative_name", "試験 太郎")
    page.fill("#contact_name", "試験 花子")
    page.fill("#contact_email", email)
    page.fill("#contact_phone", "090-1234-5678")
    page.check("#antisocial_declared")
    page.check("#consent")
    visitor.shot("filled")
    page.get_by_role("button", name="申し込む").click()
    receipt = page.locator("#receipt-number")
    expect(receipt).to_be_visible()
    receipt_number = receipt.inner_text().strip()
    visitor.audit()
    visitor.shot("received")

    staff = person("2-staff", "staff")
    staff.page.goto("/admin/applications")
    staff.page.get_by_role("link", name=receipt_number).click()
    staff.audit()
    staff.shot("application")
    staff.page.get_by_role("button", name="受諾して通知する").click()
    expect(staff.page.locator("body")).to_contain_text("受諾")

    body = _mail_to(live_instance / "mail", email, "利用受諾")
    assert "仮パスワード" not in body
    login_id = re.search(r"ユーザーID\s*：(\S+)", body).group(1)
    link = re.search(r"パスワード設定：(\S+)", body).group(1)
    assert link.startswith(live_server + "/password/reset/")

    user = person("3-new-contact")
    user.page.goto(link)
    expect(user.page.locator("h1")).to_contain_text("新しいパスワードの設定")
    user.audit()
    user.page.fill("#new_password", "kawasaki-genba-2026-spring")
    user.page.fill("#new_password_confirm", "kawasaki-genba-2026-spring")
    user.page.get_by_role("button", name="設定する").click()
    user.page.wait_for_url(re.compile(r".*/login.*"))
    user.login(login_id, "kawasaki-genba-2026-spring")
    user.page.goto("/cases/")  # no forced change: the password is the user's own
    expect(user.page.locator("h1")).to_contain_text("案件")
    expect(user.page.locator(".who")).to_contain_text(company)
    user.page.goto("/")
    user.audit()
    user.shot("first-home")
    user.expected_errors.append("the server responded with a status of 400")  # the used link, refused
    user.page.goto(link)
    expect(user.page.locator("#reset-invalid")).to_contain_text("使用済みか、有効期限が切れています")
    for someone in people:
        someone.assert_clean()
        someone.close()
