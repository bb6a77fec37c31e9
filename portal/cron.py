"""Schedules for rq's built-in cron (`rq cron portal.cron`). Times are Asia/Tokyo, whatever the host's TZ.

Two adaptations of rq's cron, made where this module is loaded:
- rq's CronJob builds its Queue without a serializer, while our workers read JSON only; cron's
  queues get the same serializer (cron jobs carry no arguments).
- rq matches cron expressions against the host's local time (CronJob.get_next_enqueue_time); on a
  UTC host "5 0 * * *" would run at 09:05 JST. Our expressions are read in Asia/Tokyo instead.
"""
from __future__ import annotations

import functools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import rq.cron
from croniter import croniter
from rq import Queue, cron
from rq.serializers import JSONSerializer
from rq.utils import now

from portal import jobs

TOKYO = ZoneInfo("Asia/Tokyo")
_rq_next_enqueue_time = rq.cron.CronJob.get_next_enqueue_time


def next_enqueue_time_in_tokyo(job: rq.cron.CronJob) -> datetime:
    """The first instant (UTC) after the job's last run, or after now, that its cron expression
    matches on the Tokyo clock. Interval jobs keep rq's rule."""
    if not job.cron:
        return _rq_next_enqueue_time(job)
    base = job.latest_enqueue_time or now()
    return croniter(job.cron, base.astimezone(TOKYO)).get_next(datetime).astimezone(UTC)


rq.cron.Queue = functools.partial(Queue, serializer=JSONSerializer)  # type: ignore[misc]
rq.cron.CronJob.get_next_enqueue_time = next_enqueue_time_in_tokyo  # type: ignore[method-assign]

cron.register(jobs.reconcile_outbox, "default", interval=60)
cron.register(jobs.rehash_store, "maintenance", cron="30 2 * * *", job_timeout=6 * 3600)
cron.register(jobs.suspend_expired_passwords, "maintenance", cron="15 3 * * *")
# Retention (R-TERM-1..2, R-RET-3..4): contracts just after midnight, the purge at night, warnings in the morning.
cron.register(jobs.renew_and_end_contracts, "maintenance", cron="5 0 * * *")
cron.register(jobs.purge_daily, "maintenance", cron="30 3 * * *", job_timeout=6 * 3600)
cron.register(jobs.send_retention_warnings, "maintenance", cron="0 8 * * *")
# PKI (R-ACC-4, R-CASE-3): a fresh CRL every day (each is valid 7 days); archives re-timestamped before expiry.
cron.register(jobs.refresh_crl, "maintenance", cron="0 1 * * *")
cron.register(jobs.retimestamp_archives, "maintenance", cron="0 4 * * *", job_timeout=6 * 3600)
