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
