"""`flask portal init` on a fresh install: migrations build exactly the schema the models describe,
and running it again changes nothing; a migration that moves data does it right on an install with data."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

from config import normalize_database_url
from portal.extensions import db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_database(tmp_path):
    """An empty database of the kind under test: a SQLite file, or a new PostgreSQL database."""
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    url = make_url(normalize_database_url(base))
    name = f"{url.database}_fresh"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _flask(args: list[str], database_url: str, instance: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "UKEOI_INSTANCE": str(instance), "FLASK_APP": "wsgi"}
    env.pop("TEST_DATABASE_URL", None)
    return subprocess.run(
        [Path(sys.executable).parent / "flask", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_init_migrates_to_the_models_schema_and_is_idempotent(app, fresh_database, tmp_path):
    """Does `flask portal init` create every table the models define, and can it run twice?"""
    first = _flask(["portal", "init"], fresh_database, tmp_path / "instance")
    assert first.returncode == 0, first.stderr
    second = _flask(["portal", "init"], fresh_database, tmp_path / "instance")
    assert second.returncode == 0, second.stderr

    engine = create_engine(fresh_database)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
        terms_versions = conn.execute(text("SELECT count(*) FROM terms_versions")).scalar_one()
    engine.dispose()
    assert differences == [], "the migrations and the models disagree; run `flask db migrate`"
    assert terms_versions == 1
    assert (tmp_path / "instance" / "secret.env").stat().st_mode & 0o777 == 0o600


# ---------------------------------------------------------------------- the case_deliveries migration (R-STORE-4)

DELIVERIES_DOWN_REVISION = "5e2c8a91d4b7"  # accounts_secret_links


def _table(name: str):
    return db.metadata.tables[name]


def _company(conn, n: int) -> int:
    values = dict(corporate_number=f"{n:013d}", name=f"テスト建設{n}株式会社", name_kana="テストケンセツ",
                  postal_code="100-0001", address="東京都千代田区千代田1-1", representative_name="山田 太郎",
                  representative_title="代表取締役", phone="03-1234-5678", terms_version="2026-11")
    return conn.execute(insert(_table("companies")).values(**values)).inserted_primary_key[0]


def _case(conn, number: str, originator: int, sent: bool, revision: int) -> int:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    values = dict(number=number, title="工事", originator_company_id=originator, status="waiting" if sent else "draft",
                  revision=revision, construction_name="工事", construction_site="東京", period_start=date(2026, 12, 1),
                  period_end=date(2027, 3, 31), amount_excl_tax=1, tax_amount=0, amount_incl_tax=1,
                  payment_terms="月末", created_at=now, last_update=now, sent_at=now if sent else None)
    return conn.execute(insert(_table("cases")).values(**values)).inserted_primary_key[0]


def _doc(conn, case_id: int, role: str, revision: int) -> None:
    conn.execute(insert(_table("documents")).values(case_id=case_id, role=role, sha256="0" * 64, size=1, page_count=1,
                                                    revision=revision, created_at=datetime(2026, 11, 1, tzinfo=UTC)))


def test_r_store_4_the_migration_records_every_sent_revision_for_the_present_parties(app, fresh_database, tmp_path):
    """Upgrading an install with a returned-and-resent case and a draft: does each sent revision (it has a
    prepared, signed or sealed file) become readable by the case's parties, and the draft by nobody?"""
    instance = tmp_path / "instance"
    older = _flask(["db", "upgrade", DELIVERIES_DOWN_REVISION], fresh_database, instance)
    assert older.returncode == 0, older.stderr
    engine = create_engine(fresh_database)
    with engine.begin() as conn:
        kou, otsu = _company(conn, 1), _company(conn, 2)
        resent = _case(conn, "2026-000001", kou, sent=True, revision=2)
        draft = _case(conn, "2026-000002", kou, sent=False, revision=1)
        for case_id in (resent, draft):
            for position, company in enumerate((kou, otsu), start=1):
                conn.execute(insert(_table("parties")).values(case_id=case_id, company_id=company, position=position,
                                                              company_name="x", status="pending"))
        for role, revision in (("main", 1), ("prepared", 1), ("signed", 1), ("main", 2), ("prepared", 2)):
            _doc(conn, resent, role, revision)
        _doc(conn, draft, "main", 1)
    upgraded = _flask(["db", "upgrade"], fresh_database, instance)
    assert upgraded.returncode == 0, upgraded.stderr
    deliveries = _table("case_deliveries")
    with engine.connect() as conn:
        rows = conn.execute(select(deliveries.c.case_id, deliveries.c.revision, deliveries.c.company_id)
                            .order_by(deliveries.c.case_id, deliveries.c.revision, deliveries.c.company_id)).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [(resent, 1, kou), (resent, 1, otsu), (resent, 2, kou), (resent, 2, otsu)]


def test_upgrading_scrubs_the_secrets_mail_bodies_stored_before(fresh_database, tmp_path):
    """A database from before secret links were minted at delivery holds mail bodies with a reset
    token and a temporary password. Does the upgrade mask both, leaving the rest of the record?"""
    instance = tmp_path / "instance"
    old = _flask(["db", "upgrade", "74a454e42db0"], fresh_database, instance)
    assert old.returncode == 0, old.stderr
    body = (
        "下記のリンクを開いてください。\nhttp://example.jp/password/reset/Abc_def-123456789\n"
        "訂正: https://example.jp/apply/correct/Zyx-987_abc\n"
        "  仮パスワード：abcd-efgh-jkmn\n仮パスワード: Qw3rty-Secret\n"
    )
    engine = create_engine(fresh_database)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO sent_notices (kind, recipient, subject, body, created_at) VALUES (:k, :r, :s, :b, :c)"),
            {"k": "password_reset", "r": "a@example.jp", "s": "件名", "b": body, "c": "2026-11-01 00:00:00"},
        )
    upgraded = _flask(["db", "upgrade"], fresh_database, instance)
    assert upgraded.returncode == 0, upgraded.stderr
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT body FROM sent_notices")).scalar_one()
    engine.dispose()
    for secret in ("Abc_def-123456789", "Zyx-987_abc", "abcd-efgh-jkmn", "Qw3rty-Secret"):
        assert secret not in stored
    assert "http://example.jp/password/reset/••••" in stored and "/apply/correct/••••" in stored
    assert "仮パスワード：••••" in stored and "下記のリンクを開いてください。" in stored
