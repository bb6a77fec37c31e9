"""Start an RQ worker on the portal's queues: `python worker.py` (honcho runs it from the Procfile).

Jobs are JSON-serialized; each job builds its app context through portal.jobs.job_app().
"""
from __future__ import annotations

import sys

from redis import Redis
from rq import Worker
from rq.serializers import JSONSerializer

from portal import create_app, jobs


def main(argv: list[str]) -> None:
    app = create_app()
    queues = argv or app.config["RQ_QUEUES"]
    connection = Redis.from_url(app.config["REDIS_URL"])
    jobs.warm_up()  # the forked work-horses inherit the job app and the decrypted PKI keys
    Worker(queues, connection=connection, serializer=JSONSerializer).work(with_scheduler=True)


if __name__ == "__main__":
    main(sys.argv[1:])
