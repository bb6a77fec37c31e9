"""/healthz: JSON for the operator's monitor; 503 when a dependency is down."""
from __future__ import annotations

from redis import Redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer


def _register_worker(app) -> SimpleWorker:
    worker = SimpleWorker(["default"], connection=Redis.from_url(app.config["REDIS_URL"]), serializer=JSONSerializer)
    worker.register_birth()
    worker.heartbeat()
    return worker


def test_healthz_ok_when_database_redis_store_and_worker_answer(app, client, portal_pki):
    """With a live worker heartbeat and the portal's PKI in place, does /healthz report every check ok with 200?"""
    worker = _register_worker(app)
    try:
        response = client.get("/healthz")
    finally:
        worker.register_death()
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["ok"] is True
    assert set(body["checks"]) >= {"database", "redis", "storage", "worker", "pki"}
    assert body["checks"]["worker"]["last_heartbeat"]


def test_healthz_503_when_no_worker_reports(client):
    """Without any worker, is the portal reported unhealthy (503), naming the worker check?"""
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["checks"]["worker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


def test_healthz_503_when_redis_is_unreachable(app, client):
    """With Redis unreachable, does /healthz say so instead of failing with a 500?"""
    app.extensions["ukeoi_redis"] = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2)
    try:
        response = client.get("/healthz")
    finally:
        app.extensions.pop("ukeoi_redis")
    body = response.get_json()
    assert response.status_code == 503
    assert body["checks"]["redis"]["ok"] is False
