"""How fast the purge deletes, and whether its memory stays flat (R-RET-4).

Builds a dedicated PostgreSQL database (default ukeoi_bench; dropped and re-created) holding
1,000,000 completed cases × --scale, of which 10 % are due; each case has two parties and two
documents. The due cases' documents also exist as files in a fresh store folder (the others
have rows only: a million small files would measure the disk, not the purge). Data goes in
with COPY. Then `purge.run()` runs in a separate process (so its peak memory is its own) with
the default PURGE_BATCH_SIZE, and the bench checks that exactly the due cases went.

Prints JSON lines {"bench": "purge", "metric": ..., "value": ..., "unit": ...}. Targets:
cases_per_second >= 2000 (store objects included); peak memory flat in the number of cases
(compare --scale 0.1 with --scale 1: batches, never a full load).

    .venv/bin/python bench/purge.py              # 100,000 due among 1,000,000
    .venv/bin/python bench/purge.py --scale 0.1  # 10,000 among 100,000
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BASE_URL = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1")
TODAY = date(2031, 6, 1)
DUE_COMPLETED = date(2020, 1, 10)  # retention ended 2030-01-10
KEEP_COMPLETED = date(2025, 1, 10)
COMPANIES = 1000


def emit(metric: str, value, unit: str = "", **extra) -> None:
    print(json.dumps({"bench": "purge", "metric": metric, "value": value, "unit": unit, **extra},
                     ensure_ascii=False), flush=True)


def app_env(db_name: str, store: Path, instance: Path) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": f"{BASE_URL.replace('postgresql://', 'postgresql+psycopg://', 1)}/{db_name}",
        "STORAGE_URL": f"file://{store}",
        "SECRET_KEY": "bench-secret",
        "PKI_PASSPHRASE": "bench-pki",
        "UKEOI_INSTANCE": str(instance),
        "PYTHONPATH": str(ROOT),
    }


def recreate_database(db_name: str) -> None:
    with psycopg.connect(f"{BASE_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name}"')


def create_schema(env: dict) -> None:
    code = "from portal import create_app\nfrom portal.extensions import db\napp = create_app()\n" \
           "with app.app_context():\n    db.create_all()\n"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT)


def digest_of(case_id: int, index: int) -> tuple[str, bytes]:
    data = f"%PDF-1.7\n% bench case {case_id} document {index}\n%%EOF\n".encode()
    return hashlib.sha256(data).hexdigest(), data


def load(db_name: str, total: int, due: int, store: Path) -> None:
    """COPY companies, contracts, cases, parties and documents; write the due cases' files."""
    from portal.rules.retention import completed_case_delete_on

    due_delete_on = completed_case_delete_on(DUE_COMPLETED)
    keep_delete_on = completed_case_delete_on(KEEP_COMPLETED)
    instant = datetime(2020, 1, 10, 3, 0, tzinfo=UTC)
    with psycopg.connect(f"{BASE_URL}/{db_name}") as conn:
        with conn.cursor() as cur:
            with cur.copy(
                "COPY companies (id, corporate_number, name, name_kana, postal_code, address, representative_name,"
                " representative_title, phone, plan, status, terms_version, created_at) FROM STDIN"
            ) as copy:
                for i in range(1, COMPANIES + 1):
                    copy.write_row((i, f"{i:013d}", f"ベンチ建設{i}", f"ベンチケンセツ{i}", "100-0001", "東京都",
                                    "山田", "代表取締役", "03-0000-0000", "standard", "active", "2026-11", instant))
            with cur.copy("COPY contracts (id, company_id, start_date) FROM STDIN") as copy:
                for i in range(1, COMPANIES + 1):
                    copy.write_row((i, i, date(2019, 4, 1)))
            # Due cases are spread through the id range (every 10th), as they would be in life.
            step = max(1, total // due)
            with cur.copy(
                "COPY cases (id, number, title, originator_company_id, status, revision, version, construction_name,"
                " construction_site, period_start, period_end, amount_excl_tax, tax_amount, amount_incl_tax,"
                " payment_terms, notes, checklist, created_at, last_update, sent_at, completed_at, completed_on,"
                " legal_hold, purge_due_on) FROM STDIN"
            ) as copy:
                for case_id in range(1, total + 1):
                    is_due = case_id % step == 0 and case_id // step <= due
                    completed = DUE_COMPLETED if is_due else KEEP_COMPLETED
                    copy.write_row((
                        case_id, f"B{case_id:09d}", f"工事{case_id}", 1 + case_id % COMPANIES, "complete", 1, 1,
                        f"工事{case_id}", "東京都", date(2019, 5, 1), date(2019, 12, 31), 1_000_000, 100_000,
                        1_100_000, "月末締め翌月末払い", "", "{}", instant, instant, instant, instant, completed,
                        False, due_delete_on if is_due else keep_delete_on,
                    ))
            with cur.copy("COPY parties (case_id, company_id, position, company_name, status) FROM STDIN") as copy:
                for case_id in range(1, total + 1):
                    first, second = 1 + case_id % COMPANIES, 1 + (case_id + 1) % COMPANIES
                    copy.write_row((case_id, first, 1, f"ベンチ建設{first}", "signed"))
                    copy.write_row((case_id, second, 2, f"ベンチ建設{second}", "signed"))
            files = 0
            with cur.copy(
                "COPY documents (case_id, role, label, filename, sha256, size, page_count, revision, created_at)"
                " FROM STDIN"
            ) as copy:
                for case_id in range(1, total + 1):
                    is_due = case_id % step == 0 and case_id // step <= due
                    for index in range(2):
                        digest, data = digest_of(case_id, index)
                        copy.write_row((case_id, "main" if index == 0 else "signed", "契約書", "c.pdf", digest,
                                        len(data), 1, 1, instant))
                        if is_due:
                            path = store / digest[:2] / digest[2:4] / digest
                            path.parent.mkdir(parents=True, exist_ok=True)
                            path.write_bytes(data)
                            files += 1
            for table in ("companies", "contracts", "cases", "parties", "documents"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
    with psycopg.connect(f"{BASE_URL}/{db_name}", autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    old = time.time() - 7200
    for path in store.glob("*/*/*"):
        os.utime(path, (old, old))
    emit("store_files_written", files, "files")


RUNNER = """
import json, os, sys, threading, time
from datetime import date
from portal import create_app
from portal.extensions import db
from portal.services import purge

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


app = create_app()
with app.app_context():
    list(purge.plan(date(2000, 1, 1), limit=1))  # warm up: imports, connection, compiled statements
    db.session.rollback()
    start = rss()
    peak = [start]
    done = threading.Event()

    def sample():
        while not done.wait(0.02):
            peak[0] = max(peak[0], rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    run = purge.run(today=date.fromisoformat(sys.argv[1]))
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    peak[0] = max(peak[0], rss())
    print(json.dumps({"elapsed": elapsed, "cases": run.deleted_cases, "objects": run.deleted_objects,
                      "start_rss": start, "peak_rss": peak[0], "batch": app.config["PURGE_BATCH_SIZE"]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 100,000 due among 1,000,000")
    parser.add_argument("--db", default="ukeoi_bench")
    parser.add_argument("--keep", action="store_true", help="keep the database and store afterwards")
    parser.add_argument("--load-only", action="store_true", help="build the data, print the store path, stop")
    args = parser.parse_args()
    total = int(1_000_000 * args.scale)
    due = total // 10
    work = Path(tempfile.mkdtemp(prefix="ukeoi-bench-purge-"))
    store, instance = work / "store", work / "instance"
    store.mkdir()
    env = app_env(args.db, store, instance)
    try:
        started = time.perf_counter()
        recreate_database(args.db)
        create_schema(env)
        load(args.db, total, due, store)
        emit("load_seconds", round(time.perf_counter() - started, 1), "s", cases=total, due=due)
        if args.load_only:
            emit("store", str(store))
            args.keep = True
            return

        result = subprocess.run([sys.executable, "-c", RUNNER, TODAY.isoformat()], env=env, cwd=ROOT,
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            sys.stderr.write(result.stderr[-4000:])
            raise SystemExit(result.returncode)
        report = json.loads(result.stdout.strip().splitlines()[-1])
        with psycopg.connect(f"{BASE_URL}/{args.db}") as conn:
            left = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
            records = conn.execute("SELECT count(*), count(DISTINCT case_number) FROM purge_records").fetchone()
        remaining_files = sum(1 for _ in store.glob("*/*/*"))
        assert report["cases"] == due and left == total - due and records == (due, due), (report, left, records)
        assert remaining_files == 0, remaining_files
        emit("cases_purged", report["cases"], "cases", among=total)
        emit("objects_deleted", report["objects"], "files")
        emit("cases_per_second", round(report["cases"] / report["elapsed"]), "cases/s", target=">= 2000",
             batch=report["batch"])
        emit("elapsed_seconds", round(report["elapsed"], 1), "s")
        emit("peak_rss_mb", round(report["peak_rss"] / 2**20, 1), "MiB")
        emit("rss_growth_during_purge_mb", round((report["peak_rss"] - report["start_rss"]) / 2**20, 1), "MiB",
             note="flat: compare --scale 0.1 and 1")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
            with psycopg.connect(f"{BASE_URL}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
