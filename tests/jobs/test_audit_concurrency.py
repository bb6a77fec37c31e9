"""The audit trail stays one hash chain while several processes, each with several threads, append
to it at once (R-CASE-4): gunicorn workers, RQ workers and cron share one database, SQLite file or
PostgreSQL."""
from __future__ import annotations

import multiprocessing
import threading

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent
from portal.services import audit
from tests.live_portal import app_for, shared_database_url

PROCESSES = 3
THREADS = 4
EVENTS_PER_THREAD = 5


def _append_from_threads(database_url: str, process_no: int, start) -> None:
    """One process: THREADS threads, each appending and committing EVENTS_PER_THREAD events."""
    app = app_for(database_url)
    errors: list[BaseException] = []

    def work(thread_no: int) -> None:
        start.wait()
        try:
            for n in range(EVENTS_PER_THREAD):
                with app.app_context():
                    # Same content and second everywhere: only a different previous hash keeps the hashes apart.
                    audit.record("test.concurrent", detail={"n": n})
                    db.session.commit()
        except BaseException as exc:  # reported through the exit code
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with app.app_context():
        db.engine.dispose()
    if errors:
        raise SystemExit(f"process {process_no}: {errors[0]!r}")


@pytest.fixture
def shared_url(tmp_path):
    url = shared_database_url(tmp_path, "audit_concurrency")
    app_for(url)  # creates the tables
    return url


def test_r_case_4_chain_stays_intact_when_processes_and_threads_append_at_once(shared_url):
    """Do 3 processes × 4 threads appending at the same instant leave one unbroken chain, every
    append committed (no duplicate hash, no 'database is locked')?"""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES * THREADS)
    workers = [
        context.Process(target=_append_from_threads, args=(shared_url, n, start)) for n in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES
    app = app_for(shared_url)
    with app.app_context():
        appended = db.session.scalar(select(func.count(AuditEvent.id)))
        problems = audit.verify_chain()
        db.session.remove()
        db.engine.dispose()
    assert (appended, problems) == (PROCESSES * THREADS * EVENTS_PER_THREAD, [])
