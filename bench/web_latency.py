"""p50/p95 latency of the login page and the application form under wrk, against gunicorn.

Prints JSON lines {"bench": "web_latency", "metric": ..., "value": ..., "target": ...}.
Target: p95 under 50 ms at 20 concurrent connections.
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


def main() -> None:
    with tempfile.TemporaryDirectory() as instance:
        env = {**os.environ, "UKEOI_INSTANCE": instance, "FLASK_APP": "wsgi", "REDIS_URL": "redis://127.0.0.1:6379/13"}
        subprocess.run([VENV_BIN / "flask", "portal", "init"], cwd=ROOT, env=env, check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen(  # noqa: S603
            [VENV_BIN / "gunicorn", "--workers", "2", "--threads", "4", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base + "/login")
            for path in PAGES.values():
                run = subprocess.run(  # noqa: S603
                    ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}", "-s", str(ROOT / "bench/percentiles.lua"),
                     base + path],  # fmt: skip
                    capture_output=True,
                    text=True,
                    check=True,
                )
                result = json.loads(run.stdout.strip().splitlines()[-1])
                for metric in ("p50", "p95"):
                    print(json.dumps({
                        "bench": "web_latency", "page": path, "metric": f"{metric}_ms",
                        "value": round(result[f"{metric}_us"] / 1000, 2),
                        "target": 50 if metric == "p95" else None, "connections": CONNECTIONS,
                    }))  # fmt: skip
                print(json.dumps({"bench": "web_latency", "page": path, "metric": "requests",
                                  "value": result["requests"], "errors": result["errors"]}))  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
