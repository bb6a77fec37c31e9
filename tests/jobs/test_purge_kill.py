"""kill -9 during the purge (R-RET-4, SPEC §6): a purge process is killed twice — once by itself
right after a batch committed and before it removed that batch's files, once from outside in the
middle of its work — and then `flask portal purge` runs to the end. Everything due must be gone
exactly once (one tombstone each), nothing else, and no orphan left in the store."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import create_engine, func, insert, select, text

from portal.extensions import db
from portal.models import Case, Document, Party, PurgeRecord, PurgeRun
from portal.rules.retention import completed_case_delete_on
from portal.services.storage import LocalStore, sha256_hex
from tests import factories
from tests.jobs.processes import ROOT

TODAY = date(2031, 6, 1)
DUE, KEEP, HELD = 1200, 200, 5
BATCH = 20

# Runs one purge in a fresh process. CRASH_AFTER_COMMITS=n: SIGKILL itself right after the n-th
# batch committed, before that batch's store objects are removed. SLOW: sleep per batch so that the
# test can kill it from outside in the middle.
RUNNER = textwrap.dedent(
    """
    import os, signal, sys, time
    from datetime import date
    from portal import create_app
    from portal.services import purge

    app = create_app()
    crash_after = int(os.environ.get("CRASH_AFTER_COMMITS", "0"))
    slow = float(os.environ.get("SLOW", "0"))
    real_remove, real_batch = purge._remove_unreferenced, purge._purge_case_batch
    calls = {"n": 0}

    def remove(digests, *args):
        calls["n"] += 1
        if crash_after and calls["n"] >= crash_after:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_remove(digests, *args)

    def batch(*args, **kwargs):
        time.sleep(slow)
        return real_batch(*args, **kwargs)

    purge._remove_unreferenced, purge._purge_case_batch = remove, batch
    with app.app_context():
        purge.run(today=date.fromisoformat(sys.argv[1]))
    """
)


@pytest.fixture
def other_process_settings() -> dict:
    return {"PURGE_BATCH_SIZE": BATCH, "PURGE_ORPHAN_MIN_AGE_SECONDS": 3600}


def _bulk_cases(store: LocalStore, parties, count: int, completed_on: date, prefix: str,
                held: bool = False) -> list[str]:
    """`count` completed cases with two documents each, inserted in bulk; files written old."""
    rows = [
        dict(number=f"{prefix}{i:06d}", title=f"工事{i}", originator_company_id=parties[0].id, status="complete",
             construction_name=f"工事{i}", construction_site="東京都", period_start=date(2020, 1, 1),
             period_end=date(2020, 6, 30), amount_excl_tax=100, tax_amount=10, amount_incl_tax=110,
             payment_terms="末締め", notes="", checklist={}, revision=1, version=1, legal_hold=held,
             created_at=datetime(2020, 1, 1, tzinfo=UTC), last_update=datetime(2020, 1, 1, tzinfo=UTC),
             sent_at=datetime(2020, 1, 1, tzinfo=UTC), completed_on=completed_on,
             purge_due_on=completed_case_delete_on(completed_on))
        for i in range(count)
    ]
    db.session.execute(insert(Case), rows)
    ids = dict(db.session.execute(select(Case.number, Case.id).where(Case.number.like(f"{prefix}%"))).all())
    party_rows, doc_rows = [], []
    for number, case_id in ids.items():
        for position, company in enumerate(parties, start=1):
            party_rows.append(dict(case_id=case_id, company_id=company.id, position=position,
                                   company_name=company.name, status="signed"))
        for index in range(2):
            data = f"%PDF-1.7 {number}/{index}".encode()
            doc_rows.append(dict(case_id=case_id, role="main", label="", filename="c.pdf", sha256=_put_old(store, data),
                                 size=len(data), page_count=1, revision=1,
                                 created_at=datetime(2020, 1, 1, tzinfo=UTC)))
    db.session.execute(insert(Party), party_rows)
    db.session.execute(insert(Document), doc_rows)
    db.session.commit()
    return list(ids)


def _put_old(store: LocalStore, data: bytes) -> str:
    """Write an object the way the store lays it out, dated two hours ago (uploaded long since)."""
    digest = sha256_hex(data)
    path = store.root / digest[:2] / digest[2:4] / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    old = time.time() - 7200
    os.utime(path, (old, old))
    return digest


def _records(url: str) -> int:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM purge_records")).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.slow
def test_r_ret_4_kill_9_mid_purge_then_rerun_deletes_everything_due_exactly_once(target):
    """After two SIGKILLs (one between a commit and its file removals, one from outside mid-run) and
    a final `flask portal purge`, is every due case deleted with exactly one tombstone, every other
    case and its files kept, an upload in flight kept, and no orphan left in the store?"""
    app, env, store = target
    a = factories.company(name="甲建設株式会社")
    b = factories.company(name="乙工務店株式会社")
    db.session.commit()
    due = _bulk_cases(store, [a, b], DUE, date(2020, 1, 10), "D")
    keep = _bulk_cases(store, [a, b], KEEP, date(2025, 1, 10), "K")
    held = _bulk_cases(store, [a, b], HELD, date(2020, 1, 10), "H", held=True)
    # One kept case shares its main PDF's bytes with a due case: the object must stay.
    shared_digest = db.session.scalar(select(Document.sha256).join(Case).where(Case.number == due[0]))
    keep_doc = db.session.scalar(select(Document).join(Case).where(Case.number == keep[0]))
    keep_doc.sha256 = shared_digest
    db.session.commit()
    in_flight = store.put(b"%PDF-1.7 an upload whose row is not committed yet")  # young: must stay
    url = env["DATABASE_URL"]

    # 1. The process kills itself right after the 3rd batch committed, before removing its files.
    first = subprocess.run([sys.executable, "-c", RUNNER, TODAY.isoformat()], env={**env, "CRASH_AFTER_COMMITS": "3"},
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]
    after_first = _records(url)
    assert after_first == 3 * BATCH

    # 2. Killed from outside in the middle of its work.
    with subprocess.Popen([sys.executable, "-c", RUNNER, TODAY.isoformat()], env={**env, "SLOW": "0.05"},
                          cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as second:
        deadline = time.time() + 240
        while _records(url) < DUE // 2 and time.time() < deadline and second.poll() is None:
            time.sleep(0.05)
        second.send_signal(signal.SIGKILL)
        _, errors = second.communicate(timeout=60)
    assert second.returncode == -signal.SIGKILL, errors[-2000:]
    assert after_first < _records(url) < DUE

    # A kill can also land inside a deletion, between renaming an object aside and unlinking it. Leave
    # two such: one of a due case still waiting (an orphan after the run), one of a kept case.
    db.session.expire_all()
    for number in (due[-1], keep[-1]):
        digest = db.session.scalar(select(Document.sha256).join(Case).where(Case.number == number).limit(1))
        path = store.root / digest[:2] / digest[2:4] / digest
        path.rename(path.with_name(".del-" + digest))

    # 3. The real command, to the end.
    final = subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "portal", "purge",
                            "--today", TODAY.isoformat()], env=env, cwd=ROOT, capture_output=True, text=True,
                           timeout=600)
    assert final.returncode == 0, final.stderr[-3000:]

    db.session.expire_all()
    remaining = set(db.session.scalars(select(Case.number)))
    assert remaining == set(keep) | set(held)
    counts = dict(
        db.session.execute(select(PurgeRecord.case_number, func.count()).group_by(PurgeRecord.case_number)).all()
    )
    assert counts == dict.fromkeys(due, 1)
    referenced = set(db.session.scalars(select(Document.sha256)))
    stored = set(store.digests())
    assert stored - referenced == {in_flight}  # no orphan; the young upload kept
    assert referenced <= stored  # every kept case still has its files
    assert shared_digest in stored
    runs = db.session.scalars(select(PurgeRun).order_by(PurgeRun.id)).all()
    assert len(runs) == 3
    assert all("中断" in str(run.errors) for run in runs[:2]) and runs[2].errors == []
    assert sum(run.deleted_cases for run in runs) == DUE
