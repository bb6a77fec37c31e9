"""p50/p95 latency of the login page and the application form under wrk, against gunicorn.

gunicorn runs with the project's gunicorn.conf.py, in both of its setups: "proxied" (PROXY_COUNT set:
sync workers, the production layout behind a buffering TLS proxy) and "direct" (threads, as `make run`
faces browsers). Prints JSON lines {"bench": "web_latency", "server": ..., "metric": ..., "value": ...}.
Target: p95 under 50 ms at 20 concurrent connections, for the production layout.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PAGES = {"login": "/login", "apply": "/apply"}
CONNECTIONS = 20
DURATION = os.environ.get("BENCH_DURATION", "10s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310  (loopback only)
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer at {url}")


SETUPS = {"proxied": {"PROXY_COUNT": "1"}, "direct": {}}


def measure(base: str, path: str) -> dict:
    run = subprocess.run(  # noqa: S603
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}", "-s", str(ROOT / "bench/percentiles.lua"), base + path],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(run.stdout.strip().splitlines()[-1])


def bench_setup(name: str, env: dict) -> None:
    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [VENV_BIN / "gunicorn", "wsgi:app"],
        cwd=ROOT,
        env={**env, **SETUPS[name], "PORT": str(port)},
        stdout=subprocess.DEVNULL,  # the access log is written, as in production, and thrown away
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/login")
        for path in PAGES.values():
            result = measure(base, path)
            common = {"bench": "web_latency", "server": name, "page": path, "connections": CONNECTIONS}
            for metric in ("p50", "p95"):
                target = 50 if metric == "p95" and name == "proxied" else None
                value = round(result[f"{metric}_us"] / 1000, 2)
                print(json.dumps({**common, "metric": f"{metric}_ms", "value": value, "target": target}))
            print(json.dumps({**common, "metric": "requests", "value": result["requests"], "errors": result["errors"]}))
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    with tempfile.TemporaryDirectory() as instance:
        env = {**os.environ, "UKEOI_INSTANCE": instance, "FLASK_APP": "wsgi", "REDIS_URL": "redis://127.0.0.1:6379/13"}
        env.pop("PROXY_COUNT", None)
        subprocess.run([VENV_BIN / "flask", "portal", "init"], cwd=ROOT, env=env, check=True, capture_output=True)
        for name in SETUPS:
            bench_setup(name, env)


if __name__ == "__main__":
    main()
