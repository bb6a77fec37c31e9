"""rq cron schedules (portal/cron.py) run on the Tokyo clock whatever the host's TZ (R-TERM-1, R-TERM-2):
on a UTC host a contract that ends today must still end at 00:05 JST, not at 09:05 JST."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parents[2]
# 23:00 on 30 November in Tokyo: every daily schedule next runs on 1 December, Tokyo time.
BASE = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
TOKYO_TIMES = {
    "portal.jobs.renew_and_end_contracts": (0, 5),
    "portal.jobs.refresh_crl": (1, 0),
    "portal.jobs.rehash_store": (2, 30),
    "portal.jobs.suspend_expired_passwords": (3, 15),
    "portal.jobs.purge_daily": (3, 30),
    "portal.jobs.retimestamp_archives": (4, 0),
    "portal.jobs.send_retention_warnings": (8, 0),
}

# Loads portal.cron as `rq cron portal.cron` does and asks each job when it runs after BASE, the way
# rq's scheduler does after each enqueue (CronJob.set_enqueue_time).
PROBE = """
import json, sys, time
from datetime import datetime
from redis import Redis
from rq.cron import CronScheduler

scheduler = CronScheduler(connection=Redis.from_url(sys.argv[2]))
scheduler.load_config_from_file("portal.cron")
base = datetime.fromisoformat(sys.argv[1])
runs = {}
for job in scheduler.get_jobs():
    job.set_enqueue_time(base)
    runs[job.func_name] = job.next_enqueue_time.isoformat()
print(json.dumps({"utc_offset": time.strftime("%z", time.localtime(base.timestamp())), "runs": runs}))
"""


@pytest.mark.parametrize(("host_tz", "offset"), [("UTC", "+0000"), ("America/New_York", "-0500")])
def test_r_term_1_every_schedule_runs_on_the_tokyo_clock_whatever_the_host_tz(app, host_tz, offset):
    """On a host whose clock is UTC or New York time, does every cron schedule still fire at its
    Tokyo time (contracts at 00:05 JST, warnings at 08:00 JST), and the reconciler every minute?"""
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, BASE.isoformat(), app.config["REDIS_URL"]],
        env={**os.environ, "TZ": host_tz, "PYTHONPATH": str(ROOT)}, cwd=ROOT, capture_output=True, text=True,
        timeout=120, check=True,
    )
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert report["utc_offset"] == offset  # the probe really ran on that host clock
    runs = {name: datetime.fromisoformat(when) for name, when in report["runs"].items()}
    tokyo = ZoneInfo("Asia/Tokyo")
    expected = {name: datetime(2026, 12, 1, hour, minute, tzinfo=tokyo) for name, (hour, minute) in TOKYO_TIMES.items()}
    assert {name: runs[name] for name in expected} == expected
    assert runs["portal.jobs.renew_and_end_contracts"] == datetime(2026, 11, 30, 15, 5, tzinfo=UTC)
    assert (runs["portal.jobs.reconcile_outbox"] - BASE).total_seconds() == 60
