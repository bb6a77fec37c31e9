"""A real portal for concurrency tests: gunicorn with several worker processes, each with several
threads, on a database that those processes share (a SQLite file in a temporary folder, or a fresh
PostgreSQL database beside TEST_DATABASE_URL's), behind a trusted proxy hop so that a test can
speak from any client address (X-Forwarded-For)."""
from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config import TestConfig, normalize_database_url
from portal import create_app
from portal.extensions import db

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310  (loopback)
                return
        except OSError:
            time.sleep(0.25)
    raise RuntimeError(f"portal did not start at {url}")


def shared_database_url(folder: Path, suffix: str) -> str:
    """A database several processes can open: a SQLite file in `folder`, or on PostgreSQL a fresh
    database named after TEST_DATABASE_URL's with `suffix`."""
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        return f"sqlite:///{folder / f'{suffix}.db'}"
    url = make_url(normalize_database_url(base))
    name = f"{url.database}_{suffix}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def app_for(database_url: str, **overrides):
    """An app like the test session's, on another database (its tables created). Whoever uses it
    calls db.engine.dispose() at the end: pooled connections left open are warnings, so errors."""
    settings = {name: getattr(TestConfig, name) for name in dir(TestConfig) if name.isupper()}
    app = create_app({**settings, "SQLALCHEMY_DATABASE_URI": normalize_database_url(database_url), **overrides})
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return app


@contextmanager
def running_portal(
    database_url: str, redis_url: str, instance: Path, workers: int = 2, threads: int = 4, **settings: str
) -> Iterator[str]:
    """Base URL of `gunicorn wsgi:app` with `workers` processes of `threads` threads each; `settings`
    are more environment variables (config.py reads them)."""
    port = free_port()
    env = {
        **os.environ,
        "UKEOI_INSTANCE": str(instance),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": TestConfig.SECRET_KEY,
        "PKI_PASSPHRASE": TestConfig.PKI_PASSPHRASE,
        "MAIL_FILE_PATH": str(instance / "mail"),
        "PROXY_COUNT": "1",
        "PORT": str(port),
        **settings,
    }
    env.pop("TEST_DATABASE_URL", None)
    command = [BIN / "gunicorn", "wsgi:app", "-k", "gthread", "--workers", str(workers), "--threads", str(threads)]
    with open(instance / "gunicorn.log", "w") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base + "/login")
            yield base
        finally:
            server.terminate()
            server.wait(timeout=20)


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    location: str | None


class Browser:
    """One browser (its own cookies) at client address `ip`, as the proxy reports it."""

    def __init__(self, base: str, ip: str):
        self.base, self.headers = base, {"X-Forwarded-For": ip}
        cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies), _NoRedirect())
        self.token = ""

    def open_login(self) -> Browser:
        """Load the login page, keeping its CSRF token for the post."""
        with self.opener.open(urllib.request.Request(self.base + "/login", headers=self.headers), timeout=60) as page:
            self.token = re.search(r'name="csrf-token" content="([^"]+)"', page.read().decode()).group(1)
        return self

    def post_login(self, login_id: str, password: str) -> Answer:
        form = {"login_id": login_id, "password": password, "csrf_token": self.token}
        data = urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(self.base + "/login", data=data, headers=self.headers, method="POST")
        try:
            with self.opener.open(request, timeout=120) as response:
                return Answer(response.status, response.read().decode(), response.headers.get("Location"))
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.read().decode(), error.headers.get("Location"))


def post_all_at_once(attempts: list[tuple[Browser, str, str]]) -> list[Answer]:
    """Post every (browser, login_id, password) login in its own thread, released together."""
    start = threading.Barrier(len(attempts))

    def post(attempt: tuple[Browser, str, str]) -> Answer:
        browser, login_id, password = attempt
        start.wait()
        return browser.post_login(login_id, password)

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        return list(pool.map(post, attempts))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
