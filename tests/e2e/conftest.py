"""Browser tests: the real portal (gunicorn + RQ worker) in subprocesses, driven by Playwright with
Debian's chromium. The server has its own instance folder and database, seeded with demo data."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest
from redis import Redis

from tests.live_portal import free_port, shared_database_url, wait_for

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
E2E_REDIS = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/14")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so a fixture can tell whether its test passed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def pytest_terminal_summary(terminalreporter):
    from tests.e2e.journey_tools import ARTIFACTS

    if ARTIFACTS.exists():
        terminalreporter.write_line(f"browser screenshots: {ARTIFACTS}")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def live_instance(tmp_path_factory) -> Path:
    """The live portal's instance folder (its file mail backend writes to `mail/` in it)."""
    return tmp_path_factory.mktemp("e2e-instance")


@pytest.fixture(scope="session")
def live_server(live_instance):
    """Base URL of a running portal with demo data; web and worker are stopped at the end."""
    instance = live_instance
    Redis.from_url(E2E_REDIS).flushdb()
    port = free_port()
    env = {
        **os.environ,
        "UKEOI_INSTANCE": str(instance),
        "DATABASE_URL": shared_database_url(instance, "e2e"),
        "REDIS_URL": E2E_REDIS,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "FLASK_APP": "wsgi",
        "PORT": str(port),
    }
    env.pop("TEST_DATABASE_URL", None)
    env.pop("PROXY_COUNT", None)
    subprocess.run([BIN / "flask", "portal", "init"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([BIN / "flask", "portal", "seed-demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    logs = instance / "logs"
    logs.mkdir()
    commands = {
        "web": [BIN / "gunicorn", "wsgi:app"],  # gunicorn.conf.py: threads, as facing browsers directly
        "worker": [BIN / "python", "worker.py"],
    }
    with ExitStack() as stack:
        procs = []
        for name, command in commands.items():
            log = stack.enter_context(open(logs / f"{name}.log", "w"))  # noqa: SIM115
            procs.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))  # noqa: S603
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base + "/login")
            yield base
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=20)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
