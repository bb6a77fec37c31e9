"""The portal's own processes started beside a test: `python worker.py` as honcho starts it."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from redis import Redis
from rq import Worker

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """`python worker.py`, started as honcho starts it from the Procfile, in a session of its own."""

    def __init__(self, env: dict, log: Path):
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen([sys.executable, "worker.py"], env=env, cwd=ROOT, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.process.pid

    def registered(self, connection: Redis, timeout: float = 120) -> Worker:
        """Wait until the worker is in RQ's worker registry (it has built the app and read the PKI)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            for worker in Worker.all(connection=connection):
                if worker.pid == self.pid:
                    return worker
            time.sleep(0.1)
        raise AssertionError(f"worker did not register: {self.log.read_text()[-3000:]}")

    def horse_pid(self) -> int | None:
        """The work-horse running a job now: the child that RQ put in a process group of its own
        (the scheduler child stays in the worker's)."""
        for child in children(self.pid):
            try:
                if os.getpgid(child) == child:
                    return child
            except ProcessLookupError:
                continue
        return None

    def stop(self) -> None:
        """Kill what is left of it: the worker's session (worker and scheduler) and any work-horse."""
        horse = self.horse_pid() if self.process.poll() is None else None
        for pid, kill in ((horse, os.kill), (self.pid, os.killpg)):
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    kill(pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def children(pid: int) -> list[int]:
    """Process ids of `pid`'s children (Linux /proc)."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def descendants(pid: int) -> set[int]:
    """Process ids of `pid`'s children, their children, and so on."""
    found = set()
    for child in children(pid):
        found |= {child} | descendants(child)
    return found


def alive(pid: int) -> bool:
    """True while the process runs (not gone, not a zombie waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
