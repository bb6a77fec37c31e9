"""Start an RQ worker on the portal's queues: `python worker.py [queue …]` (honcho runs it from the Procfile).

Jobs are JSON-serialized; each job builds its app context through portal.jobs.job_app().
"""
from __future__ import annotations

import sys

from redis import Redis
from rq import Worker
from rq.serializers import JSONSerializer

from portal import jobs


def build_worker(queues: list[str]) -> Worker:
    """An RQ worker on `queues` (none: all the portal's), in a process that has built the job app and
    decrypted the PKI keys: every forked work-horse inherits them instead of paying for them per job."""
    with jobs.job_app() as app:
        queues = queues or app.config["RQ_QUEUES"]
        connection = Redis.from_url(app.config["REDIS_URL"])
    jobs.warm_up()
    return Worker(queues, connection=connection, serializer=JSONSerializer)


def main(argv: list[str]) -> None:
    build_worker(argv).work(with_scheduler=True)


if __name__ == "__main__":
    main(sys.argv[1:])
