"""The journeys of real users, end to end in Debian's chromium against the real portal (gunicorn, RQ worker,
the database of the run, Redis): a three-party contract from upload to verification (at desktop width, at
phone width and by keyboard only), a return and re-send, a search, and a suspension. Every page is checked
with axe-core, console errors fail the journey, screenshots go to the artifacts folder."""
from __future__ import annotations

import re
import time
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.journey_tools import Person
from tests.pdf_tools import make_pdf, tamper

PARTIES = ("デモ建設株式会社", "株式会社サンプル工務店", "見本設備工業株式会社")  # demo-a, demo-b, demo-c


@pytest.fixture
def people(browser, live_server, request):
    """people(journey, who, login_id, mode): a logged-in Person; all are checked and closed at the end."""
    made: list[Person] = []

    def make(journey: str, who: str, login_id: str | None, mode: str = "desktop") -> Person:
        person = Person(browser, live_server, journey, who, mode)
        made.append(person)
        if login_id:
            person.login(login_id)
        return person

    yield make
    try:
        if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.passed:
            for person in made:
                person.assert_clean()
    finally:
        for person in made:
            person.close()


def _create_case(person: Person, title: str, parties: tuple[str, ...], amount: int) -> str:
    """Fill /cases/new (adding a party field when needed) and save; returns the case's URL."""
    page = person.page
    page.goto("/cases/new")
    person.audit()
    for more in range(page.locator("input[id^=parties-]").count() + 1, len(parties) + 1):
        person.press(page.get_by_role("button", name="当事者の欄を増やす"))
        expect(page.locator("input[id^=parties-]")).to_have_count(more)
    for index, name in enumerate(parties):
        person.fill(page.locator(f"#parties-{index}"), name)
    person.fill(page.locator("#title"), title)
    person.fill(page.locator("#construction_name"), f"{title}（本体工事）")
    person.fill(page.locator("#construction_site"), "東京都江東区豊洲6-1-1")
    person.fill(page.locator("#period_start"), "2027-04-01")
    person.fill(page.locator("#period_end"), "2028-03-31")
    person.fill(page.locator("#amount_excl_tax"), f"{amount:,}")
    person.fill(page.locator("#tax_amount"), f"{amount // 10:,}")
    person.fill(page.locator("#amount_incl_tax"), f"{amount + amount // 10:,}")
    person.fill(page.locator("#payment_terms"), "出来高に応じ毎月末締め翌月末払い")
    person.shot("case-form")
    person.press(page.get_by_role("button", name="保存する"))
    page.wait_for_url(re.compile(r".*/cases/\d+$"))
    return page.url


def _upload_and_send(person: Person, pdf: bytes) -> None:
    page = person.page
    person.choose_file(page.locator("#file"), "契約書.pdf", pdf)
    person.press(page.get_by_role("button", name="登録する"))
    expect(page.locator(".documents")).to_contain_text("契約書.pdf")
    person.audit()
    person.press(page.get_by_role("button", name="当事者に送信"))
    expect(page.locator("#signing-progress")).to_contain_text("同意して署名する")


def _sign(person: Person, last: bool = False) -> float:
    """Tick the consent and sign; seconds from the click until this party shows 署名済み (the last party:
    until the contract shows as concluded), on the same page without a reload."""
    page = person.page
    progress = page.locator("#signing-progress")
    signed_before = progress.locator(".badge-complete").count()
    url = page.url
    person.tick(page.locator("#agree"))
    start = time.monotonic()
    person.press(page.get_by_role("button", name="同意して署名する"))
    if last:
        expect(progress).to_contain_text("契約が締結されました", timeout=60_000)
    else:
        expect(progress.locator(".badge-complete")).to_have_count(signed_before + 1, timeout=60_000)
    elapsed = time.monotonic() - start
    assert page.url == url
    return elapsed


@pytest.mark.parametrize("mode", ["desktop", "phone", "keyboard"])
def test_r_case_3_three_parties_sign_in_turn_download_and_verify(people, live_server, mode, capsys):
    """Can three companies conclude a contract in their own browsers — upload, send, sign in turn with each
    page updating by itself — and can the originator download the signed PDF and the evidence package,
    which /verify accepts while a tampered copy fails?"""
    journey = "three-party-contract"
    kou = people(journey, "1-demo-a", "demo-a", mode)
    kou.shot("home")
    kou.audit()
    title = f"三社契約の試験 {mode}"
    case_url = _create_case(kou, title, PARTIES, 12_000_000)
    kou.shot("case-created")
    _upload_and_send(kou, make_pdf(pages=3, title=title))
    kou.shot("sent")

    otsu = people(journey, "2-demo-b", "demo-b", mode)
    otsu.page.goto(case_url)
    expect(otsu.page.locator("#signing-progress")).to_contain_text("の署名を待っています")
    otsu.audit()

    timings = [_sign(kou)]
    kou.shot("signed-by-first")
    # the waiting party's page turns to its own turn by itself
    expect(otsu.page.locator("#signing-progress")).to_contain_text("同意して署名する", timeout=15_000)
    otsu.shot("my-turn")
    timings.append(_sign(otsu))

    hei = people(journey, "3-demo-c", "demo-c", mode)
    hei.page.goto(case_url)
    hei.audit()
    timings.append(_sign(hei, last=True))
    with capsys.disabled():  # shown in every run: the on-screen times a user waits
        print(f"\n{mode}: click→署名済み {timings[0]:.2f}s, {timings[1]:.2f}s; last click→完了 {timings[2]:.2f}s")
    hei.shot("complete")
    expect(kou.page.locator("#signing-progress")).to_contain_text("契約が締結されました", timeout=15_000)

    kou.page.goto(case_url)
    kou.audit()
    kou.shot("complete")
    with kou.page.expect_download() as signed_download:
        kou.press(kou.page.get_by_role("link", name="署名済みPDF（長期署名）"))
    signed = Path(signed_download.value.path()).read_bytes()
    assert signed.startswith(b"%PDF-") and signed.count(b"/ByteRange") >= 4  # three parties + document timestamp
    kou.press(kou.page.get_by_role("link", name="検証レポート・証拠一式"))
    kou.page.wait_for_url(re.compile(r".*/evidence$"))
    expect(kou.page.get_by_role("link", name="証拠一式（ZIP）")).to_be_visible()
    kou.audit()
    kou.shot("evidence")
    with kou.page.expect_download() as package_download:
        kou.press(kou.page.get_by_role("link", name="証拠一式（ZIP）"))
    with zipfile.ZipFile(package_download.value.path()) as package:
        assert any(name.endswith(".pdf") for name in package.namelist())

    visitor = people(journey, "4-visitor", None, mode)
    visitor.page.goto("/verify")
    visitor.audit()
    result = visitor.page.locator("#verify-output")
    visitor.choose_file(visitor.page.locator("#file"), "契約書.pdf", signed)
    visitor.press(visitor.page.get_by_role("button", name="検証する", exact=True))
    expect(result).to_contain_text("Ukeoi が発行したファイルと一致しました", timeout=60_000)
    expect(result).to_contain_text("長期検証")
    expect(result).not_to_contain_text("改ざんされています")
    visitor.shot("verified-original")
    visitor.choose_file(visitor.page.locator("#file"), "契約書.pdf", tamper(signed))
    visitor.press(visitor.page.get_by_role("button", name="検証する", exact=True))
    expect(result).to_contain_text("改ざんされています", timeout=60_000)
    expect(result).to_contain_text("Ukeoi が発行したファイルとは一致しません")
    visitor.shot("verified-tampered")


def test_r_case_2_a_party_returns_the_case_and_the_originator_edits_and_resends(people, live_server):
    """Can a party return a case with a reason that the originator sees, and can the originator correct
    the case and send it again, the party then signing the new revision?"""
    journey = "return-and-resend"
    kou = people(journey, "1-demo-a", "demo-a")
    case_url = _create_case(kou, "差戻しの試験", PARTIES[:2], 3_000_000)
    _upload_and_send(kou, make_pdf(title="差戻しの試験"))

    otsu = people(journey, "2-demo-b", "demo-b")
    otsu.page.goto(case_url)
    otsu.fill(otsu.page.locator("#reason"), "工期の終わりを2028年5月末にしてください。")
    otsu.shot("return-reason")
    otsu.press(otsu.page.get_by_role("button", name="差し戻す"))
    expect(otsu.page.locator("h1")).to_contain_text("差戻し")

    kou.page.goto(case_url)
    expect(kou.page.locator(".returned")).to_contain_text("2028年5月末")
    kou.audit()
    kou.shot("returned")
    kou.press(kou.page.get_by_role("link", name="内容を編集"))
    kou.fill(kou.page.locator("#period_end"), "2028-05-31")
    kou.press(kou.page.get_by_role("button", name="保存する"))
    kou.page.wait_for_url(case_url)
    expect(kou.page.locator("body")).to_contain_text("2028年5月31日")
    kou.press(kou.page.get_by_role("button", name="当事者に送信"))
    _sign(kou)

    otsu.page.goto(case_url)
    expect(otsu.page.locator("body")).to_contain_text("第2版")
    _sign(otsu, last=True)
    otsu.shot("complete")


def test_r_store_2_search_as_you_type_and_back_restores_the_search(people, live_server):
    """Does the case list narrow as the user types part of a Japanese company name and an amount range,
    with the address following, and does Back from a case bring the inputs and the results back?"""
    person = people("search", "1-demo-b", "demo-b")
    page = person.page
    page.goto("/cases/")
    person.audit()
    everything = page.locator("#case-results .result-count").inner_text()
    person.fill(page.locator("#counterparty"), "デモ建")  # part of デモ建設株式会社
    person.fill(page.locator("#amount_min"), "3,000,000")  # leaves out the demo's ¥2,530,000 case
    expect(page).to_have_url(re.compile(r"counterparty=%E3%83%87%E3%83%A2%E5%BB%BA.*amount_min=3"))
    expect(page.locator("#case-results .result-count")).not_to_have_text(everything)
    rows = page.locator("#case-results tbody tr")
    expect(rows.first).to_contain_text("デモ建設株式会社")
    for index in range(rows.count()):
        expect(rows.nth(index)).to_contain_text("デモ建設株式会社")
    found = page.locator("#case-results .result-count").inner_text()
    person.shot("results")

    person.press(rows.first.get_by_role("link").first)
    page.wait_for_url(re.compile(r".*/cases/\d+$"))
    page.go_back()
    expect(page.locator("#counterparty")).to_have_value("デモ建")
    expect(page.locator("#amount_min")).to_have_value(re.compile(r"3,?000,?000"))
    expect(page.locator("#case-results .result-count")).to_have_text(found)
    person.shot("back")


def test_r_adm_1_a_read_only_suspension_shows_the_banner_and_refuses_every_change(people, live_server):
    """While staff suspend a company read-only, do its users see the notice, can they still read, and is
    every change refused; and after staff lift it, can they change things again?"""
    journey = "suspension"
    staff = people(journey, "1-staff", "staff")
    staff.page.goto("/admin/companies")
    staff.press(staff.page.get_by_role("link", name=PARTIES[1]))
    section = staff.page.locator("#company-suspension")
    staff.tick(section.get_by_label("閲覧・ダウンロードのみ可", exact=False))
    staff.tick(section.get_by_label("第25条1項(2)", exact=False))
    staff.fill(section.get_by_label("記録（経緯など）"), "支払の遅延について確認中")
    staff.press(section.get_by_role("button", name="利用を停止する"))
    expect(staff.page.locator(".flash-success")).to_contain_text("利用を停止しました")
    staff.audit()
    staff.shot("suspended")

    user = people(journey, "2-demo-b-member", "demo-b-member")
    expect(user.page.locator("#suspension-notice")).to_be_visible()
    user.shot("banner")
    user.expected_errors.append("/cases/new: Failed to load resource: the server responded with a status of 403")
    user.page.goto("/cases/new")
    expect(user.page.locator("body")).to_contain_text("閲覧のみ")
    user.page.goto("/cases/")
    expect(user.page.locator("#case-results")).to_be_visible()

    staff.fill(section.get_by_label("記録（解除の経緯）"), "入金を確認")
    staff.press(section.get_by_role("button", name="停止を解除する"))
    expect(staff.page.locator(".flash-success")).to_contain_text("利用停止を解除しました")

    user.page.goto("/cases/new")
    expect(user.page.locator("h1")).to_contain_text("新しい案件")
    expect(user.page.locator("#suspension-notice")).to_have_count(0)

