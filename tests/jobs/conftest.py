"""Fixtures for tests that run the portal's own processes (a purge, an RQ worker) beside the test."""
from __future__ import annotations

import os

import pytest
from redis import Redis

from portal import create_app
from portal.extensions import db
from portal.services.storage import LocalStore
from tests.jobs.processes import ROOT, WorkerProcess


@pytest.fixture
def other_process_settings() -> dict:
    """Settings beyond the defaults for `target`'s app and its other processes; a test module that needs
    some overrides this fixture."""
    return {}


@pytest.fixture
def target(app, tmp_path, other_process_settings):
    """An app on a database another process can open: the PostgreSQL test database when the suite
    runs on PostgreSQL, else a SQLite file; with its own store folder and the session's PKI. Yields
    the app (its context pushed), the environment that gives another process the same settings, and
    the store."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("postgresql"):
        url = f"sqlite:///{tmp_path / 'kill.db'}"
    store = tmp_path / "store"
    shared = {
        "STORAGE_URL": f"file://{store}",
        "REDIS_URL": app.config["REDIS_URL"],
        "SECRET_KEY": "kill-test-secret",
        "PKI_DIR": app.config["PKI_DIR"],
        "PKI_PASSPHRASE": app.config["PKI_PASSPHRASE"],
        **other_process_settings,
    }
    env = {
        **os.environ,
        **{name: str(value) for name, value in shared.items()},
        "DATABASE_URL": url,
        "UKEOI_INSTANCE": str(tmp_path / "instance"),
        "PYTHONPATH": str(ROOT),
    }
    own = create_app(
        {
            "TESTING": True,
            **shared,
            "SQLALCHEMY_DATABASE_URI": url,
            "RATELIMIT_STORAGE_URI": shared["REDIS_URL"],
            "MAIL_SERVER": None,
            "MAIL_FILE_PATH": str(tmp_path / "mail"),
        }
    )
    with own.app_context():
        db.create_all()
        yield own, env, LocalStore(store)
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def worker_process(target, tmp_path):
    """A real RQ worker (`python worker.py`) on `target`'s settings, registered and waiting for jobs."""
    app, env, _store = target
    worker = WorkerProcess(env, tmp_path / "worker.log")
    try:
        worker.registered(Redis.from_url(app.config["REDIS_URL"]))
        yield worker
    finally:
        worker.stop()
