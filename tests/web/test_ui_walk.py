"""Defects of a first walk through the portal that show without a browser: forms left to the browser's
validation, internal codes on the staff case page, a company home with one link, a resent application
form, mail links on the wrong port, and the missing favicon."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Application
from tests import factories
from tests.conftest import csrf_token_from
from tests.web.cases_support import agree, certified_company, client_for, draft_via_service, post_action, work
from tests.web.test_onboarding import open_form

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "portal" / "templates"


def test_ui_2_every_form_leaves_checking_to_the_server():
    """Does every form carry novalidate, so that the server's Japanese messages show instead of the
    browser's own popups (English in an English browser) — and the form-growing button formnovalidate?"""
    missing = []
    for path in TEMPLATES.rglob("*.html"):
        for tag in re.findall(r"<form\b[^>]*>", path.read_text(encoding="utf-8")):
            if "novalidate" not in tag:
                missing.append(f"{path.relative_to(TEMPLATES)}: {tag[:80]}")
    assert missing == []


def test_ui_1_add_party_button_is_formnovalidate(client, auth, company_a):
    """Does 当事者の欄を増やす skip the browser's required-field check, and add a row on an empty form?"""
    auth.login("a-contact")
    page = client.get("/cases/new")
    assert re.search(r'<input[^>]*formnovalidate[^>]*value="当事者の欄を増やす"|'
                     r'<input[^>]*value="当事者の欄を増やす"[^>]*formnovalidate', page.get_data(as_text=True))
    grown = client.post("/cases/new", data={"csrf_token": csrf_token_from(page), "add_party": "当事者の欄を増やす"})
    assert grown.status_code == 200 and 'id="parties-2"' in grown.get_data(as_text=True)


@pytest.fixture
def pair(ctx, portal_pki):
    return [certified_company("甲建設株式会社", "kou"), certified_company("乙工務店株式会社", "otsu")]


def test_ui_5_8_signed_case_in_japanese_for_staff_and_on_the_home_pages(app, pair, staff_user):
    """Does the staff case page name each stored version in Japanese (no main/prepared/signed), and do
    the companies' home pages show what to do next: create, the case awaiting their signature, and the
    completed case?"""
    kou, otsu = client_for(app, "kou"), client_for(app, "otsu")
    from portal.models import User

    author = db.session.scalar(select(User).where(User.login_id == "kou"))
    case = draft_via_service(author, pair, title="ホーム確認の工事")
    assert post_action(kou, case.id, "send").status_code == 302
    assert agree(kou, case.id).status_code == 302
    work(app)

    home = otsu.get("/").get_data(as_text=True)
    assert "新しい案件を作成" in home
    to_sign = home[home.index('id="home-to-sign"'):home.index('id="home-completed"')]
    assert f'href="/cases/{case.id}"' in to_sign and "ホーム確認の工事" in to_sign
    assert "ホーム確認の工事" not in kou.get("/").get_data(as_text=True)  # not its turn

    assert agree(otsu, case.id).status_code == 302
    work(app)
    home = kou.get("/").get_data(as_text=True)
    assert f'href="/cases/{case.id}"' in home[home.index('id="home-completed"'):]

    staff = client_for(app, "staff1")
    page = staff.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    for code in ("（main", "（prepared", "（signed", "（sealed", "（attachment"):
        assert code not in page
    for label in ("登録時の原本", "署名前", "第1署名済み", "第2署名済み", "長期署名"):
        assert label in page


def test_ui_10_the_same_application_form_sent_twice_is_refused(client, ctx):
    """Is the same application form (its one-time token) refused the second time with a Japanese message,
    leaving a single application?"""
    data = {**factories.application_form(), **open_form(client), "submission_token": open_form_token(client)}
    assert client.post("/apply", data=data).status_code == 302
    again = client.post("/apply", data=data)
    assert again.status_code == 409
    assert "既に受け付けています" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Application.id))) == 1


def open_form_token(client) -> str:
    body = client.get("/apply").get_data(as_text=True)
    return re.search(r'name="submission_token" type="hidden" value="([^"]+)"', body).group(1)


def test_ui_10_staff_list_flags_a_second_application_of_the_same_number(client, auth, staff_user):
    """Does the staff application list flag both applications that share a 法人番号, and not a lone one?"""
    number, lone = factories.corporate_number(), factories.corporate_number()
    for corporate_number in (number, number, lone):
        data = {**factories.application_form(corporate_number=corporate_number), **open_form(client),
                "submission_token": open_form_token(client)}
        assert client.post("/apply", data=data).status_code == 302
    auth.login("staff1")
    rows = re.findall(r"<tr>.*?</tr>", client.get("/admin/applications").get_data(as_text=True), re.S)
    flagged = {n for row in rows for n in (number, lone) if n in row and "重複の可能性" in row}
    assert flagged == {number}


def test_ui_11_public_base_url_follows_port():
    """Without PUBLIC_BASE_URL, do mail links use the PORT the portal serves on?"""
    env = {k: v for k, v in os.environ.items() if k != "PUBLIC_BASE_URL"} | {"PORT": "5123"}
    out = subprocess.run([sys.executable, "-c", "import config; print(config.Config.PUBLIC_BASE_URL)"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout.strip() == "http://127.0.0.1:5123"


def test_ui_12_favicon_is_served_and_linked(client):
    """Is there an icon at /favicon.ico and one linked from every page?"""
    with client.get("/favicon.ico") as icon:
        assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    page = client.get("/login").get_data(as_text=True)
    link = re.search(r'<link rel="icon" href="([^"]+)"', page)
    assert link
    with client.get(link.group(1)) as linked:
        assert linked.status_code == 200
