"""Durable intents and their RQ jobs (ARCHITECTURE "Processes").

A service records an intent with `add()` in the same transaction as the state change. After that
transaction commits, the job is enqueued (never before: the worker must see the row). The job
`claim()`s the row with a conditional UPDATE, so a duplicate or replayed job finds nothing to do.
A job that fails puts the row back to pending and re-raises, so RQ retries it; a worker killed
mid-job leaves the row running, and `reconcile()` re-enqueues it once it is stale.
"""
from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session

from portal.clock import now_utc
from portal.extensions import db
from portal.models import OutboxItem

log = logging.getLogger(__name__)

# kind → (job function path, queue). Paths are strings: services never import jobs.
JOBS: dict[str, tuple[str, str]] = {
    "sign": ("portal.jobs.sign_party", "signing"),
    "seal": ("portal.jobs.seal_case", "signing"),
    "mail": ("portal.jobs.send_mail", "default"),
}
LIVE_STATUSES = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


def redis_conn() -> Redis:
    ext = current_app.extensions
    if "ukeoi_redis" not in ext:
        ext["ukeoi_redis"] = Redis.from_url(current_app.config["REDIS_URL"])
    return ext["ukeoi_redis"]


def queue(name: str = "default") -> Queue:
    return Queue(name, connection=redis_conn(), serializer=JSONSerializer)


def enqueue(func_path: str, *args: Any, queue_name: str = "default", job_id: str | None = None) -> Job:
    intervals = current_app.config["JOB_RETRY_INTERVALS"]
    return queue(queue_name).enqueue(
        func_path,
        *args,
        job_id=job_id,
        retry=Retry(max=len(intervals), interval=intervals),
        failure_ttl=7 * 24 * 3600,
        result_ttl=3600,
    )


def job_is_alive(job_id: str) -> bool:
    """True while RQ holds the job queued, scheduled for a retry, or running."""
    try:
        job = Job.fetch(job_id, connection=redis_conn(), serializer=JSONSerializer)
    except NoSuchJobError:
        return False
    return job.get_status(refresh=True) in LIVE_STATUSES


def add(kind: str, ref_id: int, payload: dict | None = None) -> OutboxItem:
    """Record an intent; its job is enqueued when the current transaction commits."""
    if kind not in JOBS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    item = OutboxItem(
        kind=kind, ref_id=ref_id, payload=payload or {}, job_id=f"{kind}-{ref_id}-{secrets.token_hex(6)}"
    )
    db.session.add(item)
    db.session.flush()
    db.session.info.setdefault("outbox_after_commit", []).append((item.id, kind, item.job_id))
    return item


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    for item_id, kind, job_id in session.info.pop("outbox_after_commit", []):
        func_path, queue_name = JOBS[kind]
        try:
            enqueue(func_path, item_id, queue_name=queue_name, job_id=job_id)
        except RedisError:
            log.warning("could not enqueue outbox %s; the reconciler will retry", item_id, exc_info=True)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop("outbox_after_commit", None)


def claim(item_id: int, now: datetime | None = None) -> OutboxItem | None:
    """Take a row for this job run, or None if it is done or another live run holds it. Commits."""
    now = now or now_utc()
    stale_before = now - timedelta(seconds=current_app.config["OUTBOX_STALE_SECONDS"])
    result = db.session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.id == item_id,
            or_(
                OutboxItem.status == "pending",
                (OutboxItem.status == "running") & (OutboxItem.claimed_at < stale_before),
            ),
        )
        .values(status="running", claimed_at=now, attempts=OutboxItem.attempts + 1)
    )
    db.session.commit()
    # An UPDATE returns a CursorResult, which has rowcount.
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return db.session.get(OutboxItem, item_id)


def finish(item: OutboxItem, now: datetime | None = None) -> None:
    item.status = "done"
    item.finished_at = now or now_utc()
    item.error = None


def release_after_failure(item_id: int, error: BaseException) -> None:
    """Roll back the failed work and put the row back to pending, so RQ's retry can claim it."""
    db.session.rollback()
    db.session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id, OutboxItem.status == "running")
        .values(status="pending", error=f"{type(error).__name__}: {error}"[:2000])
    )
    db.session.commit()


def reconcile(now: datetime | None = None) -> int:
    """Re-enqueue intents whose job is gone (worker killed, Redis flushed). Returns how many."""
    now = now or now_utc()
    stale_before = now - timedelta(seconds=current_app.config["OUTBOX_STALE_SECONDS"])
    rows = db.session.scalars(
        select(OutboxItem).where(
            or_(
                (OutboxItem.status == "pending") & (OutboxItem.created_at < stale_before),
                (OutboxItem.status == "running") & (OutboxItem.claimed_at < stale_before),
            )
        )
    ).all()
    count = 0
    for item in rows:
        if job_is_alive(item.job_id) and item.status == "pending":
            continue
        func_path, queue_name = JOBS[item.kind]
        # A fresh job id: RQ may still hold a dead job under the old one.
        item.job_id = f"{item.kind}-{item.ref_id}-{secrets.token_hex(6)}"
        enqueue(func_path, item.id, queue_name=queue_name, job_id=item.job_id)
        item.enqueued_at = now
        count += 1
    return count
