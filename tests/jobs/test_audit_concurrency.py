"""The audit trail stays one hash chain while several processes, each with several threads, append
to it at once (R-CASE-4): gunicorn workers, RQ workers and cron share one database, SQLite file or
PostgreSQL."""
from __future__ import annotations

import multiprocessing
import threading
import time

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


def test_r_case_4_an_append_waiting_to_commit_holds_up_no_reader(shared_url):
    """While one transaction has appended and not yet committed (so it holds the chain), does a
    reader elsewhere get its answer at once instead of waiting for the lock?"""
    app = app_for(shared_url)
    appended, release = threading.Event(), threading.Event()

    def append_and_wait() -> None:
        with app.app_context():
            audit.record("test.holding")
            appended.set()
            release.wait(30)
            db.session.commit()

    writer = threading.Thread(target=append_and_wait)
    writer.start()
    try:
        assert appended.wait(30)
        with app.app_context():
            started = time.monotonic()
            seen = db.session.scalar(select(func.count(AuditEvent.id)))
            waited = time.monotonic() - started
            db.session.remove()
    finally:
        release.set()
        writer.join()
    with app.app_context():
        db.engine.dispose()
    assert (seen, waited < 2) == (0, True)
