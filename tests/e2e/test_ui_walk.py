"""What a first walk through the portal in a browser ran into: a third party could not be added before
the form was filled, the browser's own (English) popups instead of the server's messages, refused
boosted POSTs left their POST-only URL in the address bar, a too-large file replaced the whole page,
a waiting party had to reload to see its turn, a page without JavaScript promised to update itself,
and console errors (favicon, inline style) on every page."""
from __future__ import annotations

import re
import statistics
import time

import pytest
from playwright.sync_api import Page, expect

DEMO_PASSWORD = "ukeoi-demo-2026"  # noqa: S105 (the published demo password)
PARTY_B = "株式会社サンプル工務店"
PARTY_C = "見本設備工業株式会社"


@pytest.fixture
def login(browser, live_server):
    contexts = []

    def login(login_id: str, javascript: bool = True) -> Page:
        context = browser.new_context(base_url=live_server, locale="en-US", java_script_enabled=javascript)
        contexts.append(context)
        # Confirmations (data-confirm) are answered yes in the page itself: no native dialog to race with.
        context.add_init_script("window.confirm = () => true;")
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto("/login")
        page.fill("#login_id", login_id)
        page.fill("#password", DEMO_PASSWORD)
        page.get_by_role("button", name="ログイン").click()
        page.wait_for_url(lambda url: "/login" not in url)
        return page

    yield login
    for context in contexts:
        context.close()


def _console_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def _new_case(page: Page, title: str, parties: list[str]) -> str:
    """Fill /cases/new with `parties` after the own company and save; returns the case page URL."""
    page.goto("/cases/new")
    for _ in range(len(parties) + 1 - page.locator("input[id^=parties-]").count()):
        page.get_by_role("button", name="当事者の欄を増やす").click()
    for index, party in enumerate(parties, start=1):
        page.fill(f"#parties-{index}", party)
    page.fill("#title", title)
    page.fill("#construction_name", title)
    page.fill("#construction_site", "東京都港区芝公園4-2-8")
    page.fill("#period_start", "2027-04-01")
    page.fill("#period_end", "2027-09-30")
    page.fill("#amount_excl_tax", "1,000,000")
    page.fill("#tax_amount", "100,000")
    page.fill("#amount_incl_tax", "1,100,000")
    page.fill("#payment_terms", "完成引渡し後30日以内に銀行振込")
    page.get_by_role("button", name="保存する").click()
    page.wait_for_url(re.compile(r".*/cases/\d+$"))
    return page.url


def _send_ready(page: Page) -> None:
    page.get_by_role("button", name="入力内容から契約書PDFを作成").click()
    expect(page.locator(".flash-success")).to_contain_text("契約書PDFを作成しました")
    page.get_by_role("button", name="当事者に送信").click()
    expect(page.locator(".flash-success")).to_contain_text("案件を送信しました")


def _sign(page: Page) -> float:
    """Agree and sign; seconds from the click until this party shows 署名済み."""
    progress = page.locator("#signing-progress")
    signed_before = progress.locator(".badge-complete").count()
    page.check("#agree")
    started = time.monotonic()
    page.get_by_role("button", name="同意して署名する").click()
    expect(progress.locator(".badge-complete")).to_have_count(signed_before + 1, timeout=30_000)
    return time.monotonic() - started


def test_ui_1_2_3_4_12_case_form_and_upload_in_an_english_browser(login, tmp_path):
    """In an English-locale browser: can a third party be added to an empty form (1), does an empty save
    show the server's Japanese messages (2), does a refused upload keep the case page's URL so a reload
    works (3), is a too-large file refused at the field with the page intact (4), and do the pages of the
    journey log no console error (12)?"""
    page = login("demo-a")
    errors = _console_errors(page)
    page.goto("/")
    page.goto("/cases/")
    page.fill("#title", "デモ")  # htmx active search: a swap
    expect(page).to_have_url(re.compile(r".*title=.*"))
    page.goto("/cases/new")
    page.get_by_role("button", name="当事者の欄を増やす").click()
    expect(page.locator("#parties-2")).to_be_visible()
    page.get_by_role("button", name="保存する").click()
    expect(page.locator("#field-title .error")).to_have_text("件名を入力してください。")
    expect(page.locator("#field-payment_terms .error")).to_contain_text("支払方法及び時期を入力してください。")
    assert errors == [], errors

    case_url = _new_case(page, "画面確認用の工事", [PARTY_B, PARTY_C])
    page.set_input_files("#file", files=[{"name": "memo.txt", "mimeType": "text/plain", "buffer": b"not a pdf"}])
    page.get_by_role("button", name="登録する").click()
    expect(page.locator("#field-file .error")).to_be_visible()
    assert page.url == case_url
    assert page.reload().status == 200

    too_large = tmp_path / "large.pdf"
    too_large.write_bytes(b"%PDF-1.7\n" + b"0" * (21 * 1024 * 1024))
    page.set_input_files("#file", str(too_large))
    page.get_by_role("button", name="登録する").click()
    expect(page.locator("#field-file .error")).to_contain_text("ファイルが大きすぎます")
    expect(page.locator("h1")).to_contain_text("画面確認用の工事")
    assert page.url == case_url
    assert page.reload().status == 200


def test_ui_3_refused_staff_forms_keep_the_page_url(login, live_server):
    """Do a refused suspension and a refused legal hold (boosted POSTs) leave the page's own URL, so that
    a reload shows the page instead of 405?"""
    staff = login("staff")
    staff.goto("/admin/companies")
    staff.get_by_role("link", name=PARTY_C).click()
    staff.wait_for_url(re.compile(r".*/admin/companies/\d+$"))
    company_url = staff.url
    section = staff.locator("#company-suspension")
    section.get_by_role("button", name="利用を停止する").click()  # no ground ticked, no note
    expect(staff.locator("#company-suspension .error").first).to_be_visible()
    assert staff.url == company_url
    assert staff.reload().status == 200

    staff.goto("/admin/purge")
    purge_url = staff.url
    staff.locator("#hold-form").get_by_role("button", name="保全する").click()
    expect(staff.locator("#hold-form .error").first).to_be_visible()
    assert staff.url == purge_url
    assert staff.reload().status == 200


def test_ui_7_9_waiting_party_sees_its_turn_and_a_page_without_javascript_refreshes(login):
    """Does party 2's open page offer the consent form by itself once party 1 has signed (9), and does a
    party without JavaScript see its signature land without reloading by hand (7)?"""
    kou = login("demo-a")
    case_url = _new_case(kou, "順番待ち確認の工事", [PARTY_B, PARTY_C])
    _send_ready(kou)
    otsu = login("demo-b")
    otsu.goto(case_url)
    expect(otsu.locator("#signing-progress")).to_contain_text("の署名を待っています")
    _sign(kou)
    expect(otsu.locator("#agree")).to_be_visible(timeout=15_000)  # no reload
    _sign(otsu)

    hei = login("demo-c", javascript=False)
    hei.goto(case_url)
    hei.check("#agree")
    hei.get_by_role("button", name="同意して署名する").click()
    expect(hei.locator("#signing-progress")).to_contain_text("契約が締結されました", timeout=30_000)


def test_ui_speed_click_to_signed_and_last_click_to_complete(login, capsys):
    """How long from a click to 署名済み on screen, and from the last party's click to 完了 (targets: p95
    under 0.8 s and 1.2 s; printed, as they depend on the machine's load)? Does the component poll at
    least every half second while the job works, so the page adds little to the job's own time?"""
    kou, otsu = login("demo-a"), login("demo-b")
    polls: list[float] = []
    otsu.on("request", lambda request: polls.append(time.monotonic()) if "/progress" in request.url else None)
    first, last, gaps = [], [], []
    for run in range(5):
        case_url = _new_case(kou, f"速度確認の工事{run}", [PARTY_B])
        _send_ready(kou)
        first.append(_sign(kou))
        otsu.goto(case_url)
        otsu.check("#agree")
        polls.clear()
        started = time.monotonic()
        otsu.get_by_role("button", name="同意して署名する").click()
        expect(otsu.locator("#signing-progress")).to_contain_text("契約が締結されました", timeout=30_000)
        last.append(time.monotonic() - started)
        gaps.extend(b - a for a, b in zip(polls, polls[1:], strict=False))

    def p95(values: list[float]) -> float:
        return statistics.quantiles(values, n=20, method="inclusive")[18]

    with capsys.disabled():
        print(f"\nclick→署名済み p95 {p95(first):.2f}s (target 0.8) {[round(v, 2) for v in first]}"
              f"\nlast click→完了 p95 {p95(last):.2f}s (target 1.2) {[round(v, 2) for v in last]}"
              f"\nprogress polls while working: {len(gaps) + 5}, median gap {statistics.median(gaps):.2f}s")
    assert gaps and statistics.median(gaps) < 0.5
