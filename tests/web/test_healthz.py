"""/healthz: JSON for the operator's monitor; 503 when a dependency is down. Anyone sees only whether
the portal is ok; the checks' details (key expiry, free disk, database kind, heartbeats) are for
logged-in staff and for a monitor sending `Authorization: Bearer <HEALTHZ_TOKEN>`."""
from __future__ import annotations

import pytest
from redis import Redis

from tests.conftest import HEALTHZ_TOKEN as TOKEN


def test_healthz_ok_when_database_redis_store_and_worker_answer(client, portal_pki, live_worker, healthz_token):
    """With a live worker heartbeat and the portal's PKI in place, does /healthz report every check ok with 200?"""
    response = client.get("/healthz", headers=healthz_token)
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["ok"] is True
    assert set(body["checks"]) >= {"database", "redis", "storage", "worker", "pki"}
    assert body["checks"]["worker"]["last_heartbeat"]


def test_healthz_503_when_no_worker_reports(client, healthz_token):
    """Without any worker, is the portal reported unhealthy (503), naming the worker check?"""
    response = client.get("/healthz", headers=healthz_token)
    body = response.get_json()
    assert response.status_code == 503
    assert body["checks"]["worker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


def test_healthz_503_when_redis_is_unreachable(app, client, healthz_token):
    """With Redis unreachable, does /healthz say so instead of failing with a 500?"""
    app.extensions["ukeoi_redis"] = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2)
    try:
        response = client.get("/healthz", headers=healthz_token)
    finally:
        app.extensions.pop("ukeoi_redis")
    body = response.get_json()
    assert response.status_code == 503
    assert body["checks"]["redis"]["ok"] is False


def test_healthz_anonymous_sees_only_ok_when_healthy(client, portal_pki, live_worker, healthz_token):
    """Does a request without credentials learn only that the portal is ok — no key expiry, disk space,
    database kind or heartbeat?"""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"ok": True}


def test_healthz_anonymous_sees_only_not_ok_when_down(client, healthz_token):
    """When a check fails, does an anonymous request get 503 and `{"ok": false}` without the error texts?"""
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"ok": False}


@pytest.mark.parametrize("authorization", [
    f"Bearer {TOKEN[:-1]}x",  # one character wrong
    f"Bearer {TOKEN[:-1]}",  # a prefix
    f"Bearer {TOKEN}{TOKEN}",
    f"Basic {TOKEN}",
    TOKEN,
    "Bearer ",
])
def test_healthz_wrong_token_sees_only_ok(client, live_worker, healthz_token, authorization):
    """Does a wrong, partial or differently-sent token get no more than an anonymous request?"""
    response = client.get("/healthz", headers={"Authorization": authorization})
    assert set(response.get_json()) == {"ok"}


def test_healthz_empty_token_setting_matches_no_bearer(app, client, live_worker, monkeypatch):
    """With HEALTHZ_TOKEN unset, is an empty bearer token refused rather than matching the empty setting?"""
    monkeypatch.setitem(app.config, "HEALTHZ_TOKEN", "")
    for authorization in ("Bearer ", "Bearer", ""):
        assert set(client.get("/healthz", headers={"Authorization": authorization}).get_json()) == {"ok"}


def test_healthz_staff_sees_details(client, auth, staff_user, live_worker):
    """Does logged-in staff see every check's details without a token?"""
    assert auth.login("staff1").status_code == 302
    body = client.get("/healthz").get_json()
    assert set(body["checks"]) >= {"database", "redis", "storage", "worker", "pki"}
    assert body["checks"]["database"]["dialect"]


def test_healthz_company_user_sees_only_ok(client, auth, company_a, live_worker):
    """Does a logged-in company user (not staff) see only ok?"""
    assert auth.login("a-contact").status_code == 302
    assert set(client.get("/healthz").get_json()) == {"ok"}
