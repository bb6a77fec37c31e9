"""`flask portal init` on a fresh install: migrations build exactly the schema the models describe,
and running it again changes nothing."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
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
