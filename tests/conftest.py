"""Fixtures: one app per test session on the database TEST_DATABASE_URL names (SQLite in memory by
default, PostgreSQL in `make test`'s second pass), real Redis, a real store and PKI in temp folders.
Every test starts from empty tables, an empty store folder and an empty Redis database."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def _own_databases_per_xdist_worker() -> None:
    """Under pytest-xdist (`make test` runs two workers) each worker gets a Redis database and a PostgreSQL
    database of its own, so that one worker's clean-up between tests never empties another's. Runs before
    config.py is imported: TestConfig reads the environment when its class is built, and the portals the
    tests start in other processes inherit it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    index = int(worker.removeprefix("gw"))
    base, _, number = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15").rpartition("/")
    os.environ["TEST_REDIS_URL"] = f"{base}/{int(number) - 2 * index}"  # 15, 13, …: 14 is the browser tests'
    database = os.environ.get("TEST_DATABASE_URL", "")
    if database.startswith("postgresql"):
        url = make_url(database)
        name = f"{url.database}_{worker}"
        admin_url = url.set(drivername="postgresql+psycopg", database="postgres")
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        os.environ["TEST_DATABASE_URL"] = url.set(database=name).render_as_string(hide_password=False)


_own_databases_per_xdist_worker()

from config import TestConfig  # noqa: E402  (after the environment is set)
from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from tests import factories, ocsp_stand_in  # noqa: E402


class FreshContextClient(FlaskClient):
    """Runs every request in its own app context, as production does.

    Tests keep an app context pushed (`ctx`) and Flask would reuse it for the client's requests, so
    `g` — and Flask-Login's loaded user in it — would survive from one request to the next, and a
    logout, timeout or blocked account would look as if it still worked. After each request the
    test's own session forgets what it had loaded, so reads see what the request committed.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        if has_app_context() and db.session.registry.has():
            db.session.expire_all()
        return response


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("instance")
    app = create_app(TestConfig)
    app.test_client_class = FreshContextClient
    app.config.update(
        STORAGE_URL=f"file://{root / 'store'}",
        PKI_DIR=str(root / "pki"),
        MAIL_FILE_PATH=str(root / "mail"),
        INSTANCE_DIR=root,
        # Certificates name the OCSP URL under this base; pdfsig (NSS) asks it, and the stand-in passes
        # the request on to the app's own /pki/ocsp.
        PKI_BASE_URL=ocsp_stand_in.base_url(),
    )
    ocsp_stand_in.register(_app_ocsp(app))
    Path(app.config["MAIL_FILE_PATH"]).mkdir(parents=True, exist_ok=True)
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def _app_ocsp(app) -> ocsp_stand_in.Answer:
    """Forward an OCSP request to the app's /pki/ocsp (pdfsig runs while the test waits for it)."""

    def answer(der: bytes) -> tuple[int, bytes]:
        response = app.test_client().post("/pki/ocsp", data=der, content_type="application/ocsp-request")
        return response.status_code, response.get_data()

    return answer


@pytest.fixture(autouse=True)
def _clean_state(request):
    """Empty tables, store, mail folder and Redis after each test that used the app."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                # Some foreign keys form a cycle (use_alter: applications ⇄ users/companies), so no table
                # order satisfies them row by row; check them at commit, when every table is empty.
                conn.execute(text("PRAGMA defer_foreign_keys=ON"))
                for name in tables:
                    conn.execute(text(f"DELETE FROM {name}"))
        Redis.from_url(app.config["REDIS_URL"]).flushdb()
    for key in ("STORAGE_URL",):
        shutil.rmtree(app.config[key].removeprefix("file://"), ignore_errors=True)
    mail_dir = Path(app.config["MAIL_FILE_PATH"])
    shutil.rmtree(mail_dir, ignore_errors=True)
    mail_dir.mkdir(parents=True, exist_ok=True)
    app.extensions.pop("ukeoi_store", None)


@pytest.fixture
def ctx(app):
    """An app context for tests that call services directly."""
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class AuthActions:
    """Log a test client in and out through the real login form."""

    def __init__(self, client):
        self.client = client

    def login(self, login_id: str, password: str = factories.PASSWORD, follow: bool = False):
        page = self.client.get("/login")
        assert page.status_code == 200
        return self.client.post(
            "/login",
            data={"login_id": login_id, "password": password, "csrf_token": csrf_token_from(page)},
            follow_redirects=follow,
        )

    def logout(self):
        page = self.client.get("/")
        return self.client.post("/logout", data={"csrf_token": csrf_token_from(page)})


def csrf_token_from(response) -> str:
    """The CSRF token that base.html puts in its meta tag."""
    import re

    match = re.search(r'name="csrf-token" content="([^"]+)"', response.get_data(as_text=True))
    assert match, "page has no CSRF meta tag"
    return match.group(1)


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def company_a(ctx):
    """A company with a contact person, committed."""
    company = factories.company(name="甲建設株式会社")
    factories.user(company, role="contact", login_id="a-contact")
    factories.user(company, role="member", login_id="a-member")
    db.session.commit()
    return company


@pytest.fixture
def company_b(ctx):
    company = factories.company(name="乙工務店株式会社")
    factories.user(company, role="contact", login_id="b-contact")
    db.session.commit()
    return company


@pytest.fixture
def staff_user(ctx):
    user = factories.staff(login_id="staff1")
    db.session.commit()
    return user


@pytest.fixture
def staff_admin(ctx):
    user = factories.staff(role="staff_admin", login_id="admin1")
    db.session.commit()
    return user


@pytest.fixture
def run_jobs(app):
    """Run every queued RQ job now, in this process: a real SimpleWorker (JSON serializer, burst)
    on the real Redis, inside an app context of its own (commit first: it sees only committed rows)."""
    from rq import Queue, SimpleWorker
    from rq.serializers import JSONSerializer

    def run() -> SimpleWorker:
        connection = Redis.from_url(app.config["REDIS_URL"])
        queues = [Queue(name, connection=connection, serializer=JSONSerializer) for name in app.config["RQ_QUEUES"]]
        worker = SimpleWorker(queues, connection=connection, serializer=JSONSerializer)
        with app.app_context():
            worker.work(burst=True)
            db.session.remove()
        return worker

    return run


@pytest.fixture(scope="session")
def portal_pki(app):
    """The app's PKI, initialised once per test session in the session's PKI_DIR (RSA keygen is slow):
    RSA 2048 throughout, the production code paths otherwise."""
    from portal.services import certificates

    with app.app_context():
        pki = certificates.pki()
        pki.root_key_bits = pki.ca_key_bits = pki.company_key_bits = 2048
        pki.init()
    return pki


HEALTHZ_TOKEN = "monitor-token-0123456789abcdef"  # noqa: S105  (tests only)


@pytest.fixture
def healthz_token(app, monkeypatch):
    """HEALTHZ_TOKEN configured; returns the headers of a monitor that sends it (sees /healthz's details)."""
    monkeypatch.setitem(app.config, "HEALTHZ_TOKEN", HEALTHZ_TOKEN)
    return {"Authorization": f"Bearer {HEALTHZ_TOKEN}"}


@pytest.fixture
def live_worker(app):
    """A worker registered in RQ's worker registry with a fresh heartbeat."""
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    worker = SimpleWorker(["default"], connection=Redis.from_url(app.config["REDIS_URL"]), serializer=JSONSerializer)
    worker.register_birth()
    worker.heartbeat()
    yield worker
    worker.register_death()
