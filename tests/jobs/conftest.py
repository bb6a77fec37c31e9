"""Fixtures for tests that run the portal's own processes (a purge, an RQ worker) beside the test."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis import Redis
from rq import Worker

from portal import create_app
from portal.extensions import db
from portal.services.storage import LocalStore

ROOT = Path(__file__).resolve().parents[2]


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


class WorkerProcess:
    """`python worker.py`, started as honcho starts it from the Procfile, in a session of its own."""

    def __init__(self, env: dict, log: Path):
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen([sys.executable, "worker.py"], env=env, cwd=ROOT, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.process.pid

    def registered(self, connection: Redis, timeout: float = 120) -> Worker:
        """Wait until the worker is in RQ's worker registry (it has built the app and read the PKI)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            for worker in Worker.all(connection=connection):
                if worker.pid == self.pid:
                    return worker
            time.sleep(0.1)
        raise AssertionError(f"worker did not register: {self.log.read_text()[-3000:]}")

    def horse_pid(self) -> int | None:
        """The work-horse running a job now: the child that RQ put in a process group of its own
        (the scheduler child stays in the worker's)."""
        for child in children(self.pid):
            try:
                if os.getpgid(child) == child:
                    return child
            except ProcessLookupError:
                continue
        return None

    def stop(self) -> None:
        """Kill what is left of it: the worker's session (worker and scheduler) and any work-horse."""
        horse = self.horse_pid() if self.process.poll() is None else None
        for pid, kill in ((horse, os.kill), (self.pid, os.killpg)):
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    kill(pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def children(pid: int) -> list[int]:
    """Process ids of `pid`'s children (Linux /proc)."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


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
