"""Startup and liveness checks for /healthz and `flask portal check`."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from flask import current_app
from rq import Worker
from sqlalchemy import text

from portal.extensions import db
from portal.services import pki_health
from portal.services.outbox import redis_conn, worker_heartbeat_is_live


def _database() -> dict:
    db.session.execute(text("SELECT 1"))
    return {"dialect": db.engine.dialect.name}


def _redis() -> dict:
    redis_conn().ping()
    return {}


def _storage() -> dict:
    url = current_app.config["STORAGE_URL"]
    if url.startswith("file://"):
        root = Path(url.removeprefix("file://"))
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".health-"):
            pass
        stat = os.statvfs(root)
        return {"free_bytes": stat.f_bavail * stat.f_frsize}
    return {}


def _worker() -> dict:
    """Read the heartbeats RQ's workers write into its worker registry; one live worker suffices."""
    beats = [w.last_heartbeat for w in Worker.all(connection=redis_conn()) if w.last_heartbeat]
    if not beats:
        raise RuntimeError("no worker has reported")
    live = [beat for beat in beats if worker_heartbeat_is_live(beat)]
    if not live:
        raise RuntimeError(f"last worker heartbeat at {max(beats).isoformat()}")
    return {"last_heartbeat": max(live).isoformat(), "live_workers": len(live)}

CHECKS: dict[str, Callable[[], dict]] = {
    "database": _database,
    "redis": _redis,
    "storage": _storage,
    "worker": _worker,
    "pki": pki_health.check,  # keys readable, TSA answers, CA not near expiry
}


def check() -> dict:
    """Run every check; each reports ok and detail or the error, and `ok` is true only if all pass."""
    results: dict[str, dict] = {}
    for name, probe in CHECKS.items():
        try:
            results[name] = {"ok": True, **probe()}
        except Exception as exc:  # a health probe reports every failure instead of raising
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            if name == "database":
                db.session.rollback()
    return {"ok": all(r["ok"] for r in results.values()), "checks": results}
