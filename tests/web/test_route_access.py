"""Every route of the app, walked: anonymous visitors are sent to the login page, and a user of the
wrong kind (a company user on staff pages, staff on company pages) is refused with 403.

The list of routes comes from the app's URL map, so a new route is covered the day it is added;
a route that must be public is named in PUBLIC with the reason."""
from __future__ import annotations

import re

import pytest

from config import TestConfig
from portal import create_app

# Endpoints anyone may reach, and why.
PUBLIC = {
    "static",  # stylesheets and vendored scripts
    "home.index",  # the landing page for visitors
    "public.terms",
    "public.privacy",
    "public.healthz",  # monitored by the operator's load balancer
    "public.favicon",  # browsers ask for /favicon.ico on every site
    "public.apply",  # the application form is for companies without an account
    "public.apply_validate",
    "public.apply_done",
    "public.correction",
    "public.verify",  # anyone may check a PDF (R-CASE-4)
    "public.crl",  # relying parties fetch the CRL named in every certificate
    "public.root_crl",  # and the root's CRL named in the issuing CA's certificate
    "public.ocsp_post",  # RFC 6960 clients ask the OCSP responder named in certificates
    "public.ocsp_get",
    "public.tsa",  # RFC 3161 clients
    "public.ca_certificates",
    "auth.login",
    "auth.forgot_password",  # a user who cannot log in asks for a reset link
    "auth.reset_password",  # the emailed single-use link
}
# Endpoints any logged-in user may reach whatever the role.
ANY_USER = {"auth.logout", "auth.change_password"}


def _app_rules():
    app = create_app(TestConfig)
    return sorted(
        ((rule.endpoint, rule.rule, sorted(rule.methods - {"HEAD", "OPTIONS"})) for rule in app.url_map.iter_rules()),
        key=lambda item: (item[0], item[1]),
    )


RULES = _app_rules()


def _url(rule: str) -> str:
    """Fill every URL variable with a value that names nothing real."""
    return re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: "999999" if m.group(1) in ("int", None) else "x", rule)


def _requests():
    for endpoint, rule, methods in RULES:
        if endpoint in PUBLIC:
            continue
        for method in methods:
            yield pytest.param(endpoint, method, _url(rule), id=f"{method} {rule}")


def _guarded(kind: str):
    for endpoint, rule, methods in RULES:
        if endpoint in PUBLIC or endpoint in ANY_USER:
            continue
        if (kind == "staff") == endpoint.startswith("admin."):
            for method in methods:
                yield pytest.param(endpoint, method, _url(rule), id=f"{method} {rule}")


@pytest.fixture
def no_csrf(app):
    """Without CSRF the refusal we see is the access check's own, not the token check's."""
    app.config["WTF_CSRF_ENABLED"] = False
    yield
    app.config["WTF_CSRF_ENABLED"] = True


def test_route_list_is_not_empty_and_exemptions_name_real_routes():
    """Does the walk see the app's real routes, and does every exemption name a route that exists?"""
    endpoints = {endpoint for endpoint, _, _ in RULES}
    assert {"cases.index", "account.index", "admin.index"} <= endpoints
    assert (PUBLIC | ANY_USER) - endpoints == set()


@pytest.mark.parametrize(("endpoint", "method", "url"), list(_requests()))
def test_anonymous_is_sent_to_login(client, no_csrf, endpoint, method, url):
    """Can a visitor who is not logged in reach this route? (It must redirect to the login page.)"""
    response = client.open(url, method=method)
    assert response.status_code in (302, 303), f"{endpoint} answered {response.status_code}"
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize(("endpoint", "method", "url"), list(_guarded("staff")))
def test_company_user_is_refused_staff_routes(client, auth, company_a, no_csrf, endpoint, method, url):
    """Can a contractor's user open an operator (staff) page? (It must be 403.)"""
    auth.login("a-contact")
    response = client.open(url, method=method)
    assert response.status_code == 403, f"{endpoint} answered {response.status_code}"


@pytest.mark.parametrize(("endpoint", "method", "url"), list(_guarded("company")))
def test_staff_is_refused_company_routes(client, auth, staff_user, no_csrf, endpoint, method, url):
    """Can an operator staff member act as a contractor on a company page? (It must be 403.)"""
    auth.login("staff1")
    response = client.open(url, method=method)
    assert response.status_code == 403, f"{endpoint} answered {response.status_code}"


TOO_BIG_ID = "99999999999999999999"  # past 2**63-1: SQLite's driver overflows, PostgreSQL's INTEGER too


def _int_routes():
    for endpoint, rule, methods in RULES:
        if "<int:" not in rule:
            continue
        url = re.sub(r"<int:\w+>", TOO_BIG_ID, _url_keeping_ints(rule))
        for method in methods:
            yield pytest.param(method, url, id=f"{method} {rule}")


def _url_keeping_ints(rule: str) -> str:
    return re.sub(r"<(?!int:)(?:(\w+):)?(\w+)>", "x", rule)


INT_ROUTES = list(_int_routes())


def test_int_route_list_is_not_empty():
    """Does the out-of-range walk see the id routes (cases, documents, admin)?"""
    urls = [param.values[1] for param in INT_ROUTES]
    assert f"/cases/{TOO_BIG_ID}" in urls and any(url.startswith("/admin/") for url in urls)


@pytest.mark.parametrize("login_id", ["a-contact", "staff1"])
@pytest.mark.parametrize(("method", "url"), INT_ROUTES)
def test_an_id_out_of_the_database_range_is_a_404_on_every_int_route(client, auth, company_a, staff_user, no_csrf,
                                                                     login_id, method, url):
    """Does an id no database column can hold (99999999999999999999) get 404 — never a 500 — on every route
    with an int argument, for a company user and for staff alike?"""
    auth.login(login_id)
    response = client.open(url, method=method)
    assert response.status_code == 404, f"{method} {url} answered {response.status_code}"


# Every route that takes a document id, walked with ids the user may not read (R-STORE-4): a draft's
# replaced contract and removed attachment, a revision not sent to the party, another case's document.
DOCUMENT_RULES = [(endpoint, rule, methods) for endpoint, rule, methods in RULES if "<int:document_id>" in rule]


def _document_requests():
    for endpoint, rule, methods in DOCUMENT_RULES:
        if endpoint.startswith("admin."):  # staff may open any document of the case they name (logged)
            cases_ = [("staff1", "other_case")]
        else:
            cases_ = [("otsu", which) for which in ("replaced", "removed", "other_revision", "other_case")]
            cases_.append(("kou", "other_case"))
        for method in methods:
            for login_id, which in cases_:
                yield pytest.param(endpoint, method, rule, login_id, which, id=f"{method} {rule} {login_id} {which}")


@pytest.fixture
def foreign_documents(ctx, portal_pki):
    """Case 1 (甲→乙): sent after edits, returned by 乙, its contract replaced in the unsent revision 2.
    Case 2 (甲→乙): sent. Returns the case-1 id and the document ids to try on it."""
    from portal.extensions import db
    from portal.services import cases
    from tests.pdf_tools import make_pdf
    from tests.web.cases_support import draft_via_service, sent_after_edits_case

    ids = sent_after_edits_case()
    case = db.session.get(cases.Case, ids["case"])
    kou_user, otsu_user = (party.company.users[0] for party in case.parties)
    cases.return_case(otsu_user, case.id, case.version, "金額の誤り")
    redraft = cases.attach_document(kou_user, case.id, case.version, make_pdf(2), "第2版.pdf", kind="main")
    other = draft_via_service(kou_user, [party.company for party in case.parties])
    cases.send(kou_user, other.id, other.version)
    db.session.commit()
    other_doc = cases.contract_document(other)
    return {"case": case.id, "replaced": ids["secret"], "removed": ids["removed"], "other_revision": redraft.id,
            "other_case": other_doc.id}


def test_document_routes_are_found_in_the_url_map():
    """Does the walk see the document routes (view, download, remove, staff's view)?"""
    endpoints = {endpoint for endpoint, _, _ in DOCUMENT_RULES}
    assert {"cases.document_inline", "cases.document_download", "cases.remove_document",
            "admin.case_document"} <= endpoints


@pytest.mark.parametrize(("endpoint", "method", "rule", "login_id", "which"), list(_document_requests()))
def test_r_store_4_a_document_the_user_may_not_read_is_refused_on_every_document_route(
        app, foreign_documents, staff_user, no_csrf, endpoint, method, rule, login_id, which):
    """Can a user reach, through a case it may see, a document of another case, a revision not sent to it,
    or a draft's removed or replaced file? (404 — 403 for a party's POST, which only the originator may
    make — and never the PDF's bytes)"""
    from tests.web.cases_support import client_for, snapshot

    url = rule.replace("<int:case_id>", str(foreign_documents["case"])).replace(
        "<int:document_id>", str(foreign_documents[which]))
    before = snapshot(foreign_documents["case"])
    response = client_for(app, login_id).open(url, method=method, data={"version": str(before["version"])})
    expected = 403 if method == "POST" and login_id == "otsu" else 404
    assert response.status_code == expected, f"{endpoint} answered {response.status_code}"
    assert b"%PDF" not in response.get_data()
    assert snapshot(foreign_documents["case"])["documents"] == before["documents"]
