"""Start an RQ worker on the portal's queues: `python worker.py [queue …]` (honcho runs it from the Procfile).

Jobs are JSON-serialized; each job builds its app context through portal.jobs.job_app().
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys

from redis import Redis
from rq import Worker
from rq.serializers import JSONSerializer

from portal import jobs

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(sig: int, parent: int) -> None:
    """Ask Linux to send `sig` to this (forked) process when its parent dies. A worker killed with
    SIGKILL cannot stop its children itself: its scheduler child would keep the log pipe open (honcho
    never sees the worker go) and keep the scheduler lock; an orphaned work-horse would run on with
    no one watching it."""
    if sys.platform != "linux":
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig)
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), sig)


def build_worker(queues: list[str]) -> Worker:
    """An RQ worker on `queues` (none: all the portal's), in a process that has built the job app and
    decrypted the PKI keys: every forked work-horse inherits them instead of paying for them per job.
    It beats every WORKER_HEARTBEAT_SECONDS, idle (RQ waits for a job that long) or busy."""
    with jobs.job_app() as app:
        queues = queues or app.config["RQ_QUEUES"]
        connection = Redis.from_url(app.config["REDIS_URL"])
        beat = app.config["WORKER_HEARTBEAT_SECONDS"]
    jobs.warm_up()
    # RQ waits for a job worker_ttl - 15 seconds, then beats.
    return Worker(queues, connection=connection, serializer=JSONSerializer, worker_ttl=beat + 15,
                  job_monitoring_interval=beat)


def main(argv: list[str]) -> None:
    worker = build_worker(argv)
    parent = os.getpid()
    # On SIGTERM the scheduler child stops and releases its lock; a work-horse ends (RQ's default).
    os.register_at_fork(after_in_child=lambda: die_with_parent(signal.SIGTERM, parent))
    worker.work(with_scheduler=True)


if __name__ == "__main__":
    main(sys.argv[1:])
