"""Schedules for rq's built-in cron (`rq cron portal.cron`). Times are the server's local time.

rq's CronJob builds its Queue without a serializer, while our workers read JSON only; the one
line below gives cron's queues the same serializer (cron jobs carry no arguments).
"""
from __future__ import annotations

import functools

import rq.cron
from rq import Queue, cron
from rq.serializers import JSONSerializer

from portal import jobs

rq.cron.Queue = functools.partial(Queue, serializer=JSONSerializer)  # type: ignore[misc]

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
