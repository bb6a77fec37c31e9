"""Durable intents and their RQ jobs (ARCHITECTURE "Processes").

A service records an intent with `add()` in the same transaction as the state change. After that
transaction commits, the job is enqueued (never before: the worker must see the row). The job
`claim()`s the row with a conditional UPDATE, so a duplicate or replayed job finds nothing to do.
A job that fails puts the row back to pending and re-raises, so RQ retries it. A work-horse killed
mid-job leaves the row running: RQ's retry takes it over at once, since the claim names the RQ
execution that held it and RQ deletes that execution when it sees the horse die; a worker that
stopped beating holds nothing either, and `reconcile()` re-enqueues its rows. A run records its work only while it still
holds the claim (`finish_claimed()`), so two runs never both record it.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry, Worker, get_current_job
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
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


def job_will_run_again(job_id: str) -> bool:
    """True while RQ holds the job queued or scheduled (a retry after a failure is scheduled)."""
    try:
        job = Job.fetch(job_id, connection=redis_conn(), serializer=JSONSerializer)
    except NoSuchJobError:
        return False
    return job.get_status(refresh=True) in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


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


class ClaimLost(Exception):
    """Another run took the intent over (this one was presumed dead): that run records the work."""


def claim_holder() -> str:
    """Who is claiming: the RQ execution running this job, as RQ's composite key `<job id>:<execution
    id>` (RQ keeps it in Redis while the work-horse lives), or else this process."""
    job = get_current_job()
    if job is not None:
        try:
            executions = job.get_executions()
        except ValueError:  # an execution expired between listing and reading it
            executions = []
        for execution in executions:
            if execution.worker_name == job.worker_name:
                return f"rq:{execution.composite_key}"
    return f"pid:{socket.gethostname()}:{os.getpid()}"


HEARTBEAT_SLACK = timedelta(seconds=5)  # a beat may come late on a busy machine


def worker_dead_after() -> timedelta:
    """Workers beat every WORKER_HEARTBEAT_SECONDS, idle or busy: one that missed two beats (and the
    slack) is dead, or too stuck to be trusted with work."""
    return 2 * timedelta(seconds=current_app.config["WORKER_HEARTBEAT_SECONDS"]) + HEARTBEAT_SLACK


def worker_heartbeat_is_live(last_heartbeat: datetime | None, now: datetime | None = None) -> bool:
    if last_heartbeat is None:
        return False
    beat = last_heartbeat if last_heartbeat.tzinfo else last_heartbeat.replace(tzinfo=UTC)
    return beat >= (now or now_utc()) - worker_dead_after()


def holder_is_gone(holder: str | None) -> bool:
    """True when `holder` is an RQ execution that is over: RQ deleted it on seeing its work-horse end
    (or its heartbeat TTL ran out), or the worker running it stopped beating — a work-horse dies with
    its worker. A process outside RQ is never presumed gone (only the stale rule applies to it)."""
    if not holder or not holder.startswith("rq:"):
        return False
    connection = redis_conn()
    execution = Execution.from_composite_key(holder.removeprefix("rq:"), connection=connection)
    try:
        execution.refresh()
    except ValueError:  # no such execution in Redis any more
        return True
    except RedisError:  # unknown is not gone
        return False
    if not execution.worker_name:
        return False
    try:
        worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + execution.worker_name, connection)
    except RedisError:
        return False
    return worker is None or not worker_heartbeat_is_live(worker.last_heartbeat)


def claim(item_id: int, now: datetime | None = None) -> OutboxItem | None:
    """Take a row for this job run, or None if it is done or another live run holds it. Commits.

    A running row is taken over when its RQ holder is gone (a retry after the work-horse was killed,
    a worker that stopped beating), or, held outside RQ, when it was claimed more than
    OUTBOX_STALE_SECONDS ago."""
    now = now or now_utc()
    stale_before = now - timedelta(seconds=current_app.config["OUTBOX_STALE_SECONDS"])
    running = OutboxItem.status == "running"
    # The stale rule is for holders outside RQ: an RQ execution is judged by Redis, so a live one
    # running a long job is never joined by a second run.
    not_rq = or_(OutboxItem.claimed_by.is_(None), ~OutboxItem.claimed_by.startswith("rq:"))
    takeable = or_(OutboxItem.status == "pending", running & not_rq & (OutboxItem.claimed_at < stale_before))
    current = db.session.execute(
        select(OutboxItem.status, OutboxItem.claimed_by).where(OutboxItem.id == item_id)
    ).one_or_none()
    if current is not None and current.status == "running" and holder_is_gone(current.claimed_by):
        # Only from that very holder: if another run took the row meanwhile, this UPDATE misses.
        takeable = or_(takeable, running & (OutboxItem.claimed_by == current.claimed_by))
    result = db.session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id, takeable)
        .values(status="running", claimed_at=now, claimed_by=claim_holder(), attempts=OutboxItem.attempts + 1)
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


def finish_claimed(item_id: int, holder: str, now: datetime | None = None) -> None:
    """Mark a claimed row done in the transaction that holds its work, only while `holder` still holds
    it. Raises ClaimLost if another run took it over: the caller rolls back instead of committing a
    second copy of the work (the row lock orders this UPDATE against the takeover's)."""
    result = db.session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id, OutboxItem.status == "running", OutboxItem.claimed_by == holder)
        .values(status="done", finished_at=now or now_utc(), error=None)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ClaimLost(f"outbox {item_id} is no longer held by {holder}")


def release_after_failure(item_id: int, error: BaseException, holder: str) -> None:
    """Roll back the failed work and put the row back to pending, so RQ's retry can claim it
    (unless another run has taken the row over meanwhile)."""
    db.session.rollback()
    db.session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id, OutboxItem.status == "running", OutboxItem.claimed_by == holder)
        .values(status="pending", error=f"{type(error).__name__}: {error}"[:2000])
    )
    db.session.commit()


def reconcile(now: datetime | None = None) -> int:
    """Re-enqueue intents whose job is gone (worker killed, Redis flushed): a pending one after
    OUTBOX_STALE_SECONDS; a running one as soon as its RQ holder is gone, unless RQ is about to retry
    it (held outside RQ: after OUTBOX_STALE_SECONDS). Returns how many."""
    now = now or now_utc()
    stale_before = now - timedelta(seconds=current_app.config["OUTBOX_STALE_SECONDS"])
    rows = db.session.scalars(
        select(OutboxItem).where(
            or_(
                (OutboxItem.status == "pending") & (OutboxItem.created_at < stale_before),
                OutboxItem.status == "running",
            )
        )
    ).all()
    count = 0
    for item in rows:
        if not _job_lost(item, stale_before):
            continue
        func_path, queue_name = JOBS[item.kind]
        # A fresh job id: RQ may still hold a dead job under the old one.
        item.job_id = f"{item.kind}-{item.ref_id}-{secrets.token_hex(6)}"
        enqueue(func_path, item.id, queue_name=queue_name, job_id=item.job_id)
        item.enqueued_at = now
        count += 1
    return count


def _job_lost(item: OutboxItem, stale_before: datetime) -> bool:
    if item.status == "pending":
        return not job_is_alive(item.job_id)
    if item.claimed_by and item.claimed_by.startswith("rq:"):
        return holder_is_gone(item.claimed_by) and not job_will_run_again(item.job_id)
    return item.claimed_at is None or item.claimed_at < stale_before
