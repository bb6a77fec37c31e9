"""The case list and its active search (R-STORE-2): a plain GET form that works without JavaScript, and an
htmx search that swaps only the results."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portal.extensions import db
from tests import factories
from tests.web.cases_support import client_for


@pytest.fixture
def listing(ctx):
    kou = factories.company(name="甲建設株式会社")
    otsu = factories.company(name="乙工務店株式会社")
    hei = factories.company(name="丙設備株式会社")
    factories.user(kou, login_id="kou")
    sent = datetime(2026, 6, 1, tzinfo=UTC)
    factories.case([kou, otsu], documents=0, number="2026-000101", title="体育館改修", sent_at=sent)
    factories.case([otsu, kou], documents=0, number="2026-000102", title="事務所新築", sent_at=sent)
    factories.case([otsu, hei], documents=0, number="2026-000103", title="体育館の他社案件", sent_at=sent)
    db.session.commit()


def test_r_store_2_search_works_as_a_plain_get_form(app, listing):
    """Without JavaScript, does the GET form filter the list on a full page?"""
    client = client_for(app, "kou")
    page = client.get("/cases/?title=体育館").get_data(as_text=True)
    assert "<!doctype html>" in page and 'id="case-search"' in page
    assert "2026-000101" in page and "2026-000102" not in page
    assert "2026-000103" not in page  # another companies' case never shows (R-STORE-4)
    assert 'value="体育館"' in page  # the filter stays in the form


def test_r_store_2_htmx_search_returns_only_the_results_partial(app, listing):
    """Does an htmx search get just the results region (one root, stable id), while the page's form asks
    for it as the user types and keeps the address in step without a history entry per keystroke?"""
    client = client_for(app, "kou")
    page = client.get("/cases/").get_data(as_text=True)
    assert 'hx-trigger="input changed delay:300ms, search, submit"' in page
    assert 'hx-target="#case-results"' in page and 'hx-replace-url="true"' in page
    assert 'hx-push-url' not in page.split('id="case-search"')[1].split(">")[0]
    response = client.get("/cases/?counterparty=乙工務店&sort=number&direction=asc",
                          headers={"HX-Request": "true", "HX-Target": "case-results"})
    body = response.get_data(as_text=True).strip()
    assert body.startswith('<section id="case-results"') and body.endswith("</section>")
    assert "<html" not in body and body.count('id="case-results"') == 1
    assert body.index("2026-000101") < body.index("2026-000102")
    assert "HX-Request" in response.headers["Vary"]


def test_r_store_2_bad_filter_values_are_shown_and_ignored(app, listing):
    """Is a malformed amount or date reported next to its field, with the other filters still applied?"""
    client = client_for(app, "kou")
    page = client.get("/cases/?amount_min=abc&contract_from=2026-13-40&title=事務所").get_data(as_text=True)
    assert "金額は円単位の整数で入力してください" in page and "日付を正しく入力してください" in page
    assert "2026-000102" in page and "2026-000101" not in page


def test_r_store_2_pages_link_with_the_filters_kept(app, ctx):
    """Do the next/previous links carry the current filters?"""
    kou = factories.company(name="甲建設株式会社")
    otsu = factories.company(name="乙工務店株式会社")
    factories.user(kou, login_id="kou")
    for n in range(25):
        factories.case([kou, otsu], documents=0, number=f"2026-{n:06d}", title=f"工事{n}")
    db.session.commit()
    client = client_for(app, "kou")
    page = client.get("/cases/?title=工事").get_data(as_text=True)
    import re
    from urllib.parse import parse_qs, urlsplit

    assert "25件" in page
    href = re.search(r'<a href="([^"]*page=2[^"]*)"', page).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(href).query) == {"title": ["工事"], "page": ["2"]}
