"""Behind a TLS proxy (docs/operations.md): PROXY_COUNT from the environment makes the app trust that
many X-Forwarded-* hops, and no more; without it a forged header changes nothing."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flask import request  # noqa: TID251  (the test's own view reads what the app saw)

from config import TestConfig
from portal import create_app

ROOT = Path(__file__).resolve().parents[2]


def _client_seen_by(proxy_count: int, headers: dict[str, str]) -> tuple[str, str]:
    app = create_app(type("ProxiedConfig", (TestConfig,), {"PROXY_COUNT": proxy_count}))

    @app.get("/_whoami")
    def whoami():
        return f"{request.remote_addr} {request.scheme}"

    remote, scheme = app.test_client().get("/_whoami", headers=headers).get_data(as_text=True).split()
    return remote, scheme


def test_proxy_count_is_read_from_the_environment():
    env = {**os.environ, "PROXY_COUNT": "2"}
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", "from config import Config; print(Config.PROXY_COUNT)"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "2"


def test_behind_one_proxy_the_client_address_and_scheme_come_from_its_headers():
    forwarded = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7", "X-Forwarded-Proto": "https"}
    assert _client_seen_by(1, forwarded) == ("198.51.100.7", "https")  # only the last hop is trusted


def test_without_a_proxy_forged_forwarding_headers_are_ignored():
    forged = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    assert _client_seen_by(0, forged) == ("127.0.0.1", "http")
