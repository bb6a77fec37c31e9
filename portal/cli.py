"""`flask portal …` commands. Each calls services and commits once."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from flask_migrate import Migrate, upgrade

from portal.extensions import db
from portal.services import audit, health, integrity

portal_cli = AppGroup("portal", help="Ukeoi operations.")
migrate = Migrate()
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def init_app(app: Flask) -> None:
    """`flask portal …`, and `flask db …` from Flask-Migrate (Alembic is loaded only where commands run)."""
    migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=True, compare_type=True)
    app.cli.add_command(portal_cli)


@portal_cli.command("init")
def init_command() -> None:
    """Migrate the database and create what a fresh install needs. Safe to run again."""
    upgrade()
    from portal.services import bootstrap

    for line in bootstrap.initialize():
        click.echo(line)
    db.session.commit()


@portal_cli.command("create-admin")
@click.option("--login-id", required=True)
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.password_option()
def create_admin_command(login_id: str, name: str, email: str, password: str) -> None:
    """Create a staff administrator (staff_admin)."""
    from portal.services import accounts

    user = accounts.create_staff(login_id=login_id, name=name, email=email, password=password, role="staff_admin")
    db.session.commit()
    click.echo(f"created staff admin {user.login_id}")


@portal_cli.command("seed-demo")
def seed_demo_command() -> None:
    """Create the demo staff login and two demo companies once, then print the demo logins.

    Demo only: every demo login has the same published password. Running it again creates nothing."""
    from portal.services import demo

    logins = demo.seed_demo()
    db.session.commit()
    for login in logins:
        who = f"{login.role}（{login.company}）" if login.company else login.role
        click.echo(f"    {who}: {login.login_id} / {login.password}")


@portal_cli.command("check")
def check_command() -> None:
    """Startup check: database, Redis, store, worker, keys, TSA. Exit 1 if any fails."""
    report = health.check()
    click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    sys.exit(0 if report["ok"] else 1)


@portal_cli.command("lta-update")
def lta_update_command() -> None:
    """Enqueue an LTA update (root CRL and OCSP responses in the DSS, a new document timestamp) for every
    completed case sealed without them. Safe to run again: cases already updated are not enqueued."""
    from portal.services import archive

    due = archive.enqueue_revocation_updates()
    db.session.commit()
    click.echo(f"enqueued {len(due)} case(s) for an LTA update")


@portal_cli.command("audit-verify")
def audit_verify_command() -> None:
    """Check the audit trail's hash chain from the first event to the last."""
    problems = audit.verify_chain()
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        sys.exit(1)
    click.echo("audit trail intact")


@portal_cli.command("rehash")
def rehash_command() -> None:
    """Re-hash every stored original now; exit 1 and alert staff on any mismatch (R-STORE-1)."""
    report = integrity.rehash_store()
    db.session.commit()
    click.echo(f"checked {report.checked}, mismatched {len(report.mismatched)}, missing {len(report.missing)}")
    if not report.ok:
        sys.exit(1)


@portal_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="List what would be deleted, with rule and reason; change nothing.")
@click.option("--today", "today_text", metavar="YYYY-MM-DD", help="Apply the rules as on this day (JST).")
def purge_command(dry_run: bool, today_text: str | None) -> None:
    """Delete cases and ended companies' data that the retention rules say are due (R-RET-4)."""
    from datetime import date

    from portal.clock import today_jst
    from portal.services import purge

    try:
        today = date.fromisoformat(today_text) if today_text else today_jst()
    except ValueError as exc:
        raise click.BadParameter("use YYYY-MM-DD", param_hint="--today") from exc
    if dry_run:
        count = 0
        for item in purge.plan(today):
            count += 1
            click.echo(f"{item.subject}\t{item.name}\t{item.rule}\t{item.why}")
        db.session.rollback()
        click.echo(f"dry run on {today.isoformat()}: {count} would be deleted", err=True)
        return
    try:
        run = purge.run(today)
    except purge.PurgeIncomplete as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    except purge.PurgeBusy as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    click.echo(
        json.dumps(
            {"run_id": run.id, "run_on": today.isoformat(), "cases": run.deleted_cases,
             "companies": run.deleted_companies, "objects": run.deleted_objects},
        )
    )


@portal_cli.command("export")
@click.argument("case_numbers", nargs=-1)
@click.option("--all", "export_all", is_flag=True, help="Every completed case.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, writable=True),
              help="Folder to write DIR/<case number>/ into (created if missing).")
def export_command(case_numbers: tuple[str, ...], export_all: bool, out_dir: str) -> None:
    """Write each completed case's evidence package, unpacked, to OUT/<case number>/ (R-CASE-4).
    Exit 1 if a named case does not exist or is not complete (the others are still written)."""
    from pathlib import Path

    from portal.services import evidence

    if export_all == bool(case_numbers):
        raise click.UsageError("name one or more case numbers, or use --all")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = evidence.export(None if export_all else list(case_numbers), out)
    for number in result.written:
        click.echo(f"{number}\t{out / number}")
    for number, why in result.refused:
        click.echo(f"{number}\tnot exported: {why}", err=True)
    click.echo(f"exported {len(result.written)} case(s) to {out}", err=True)
    if result.refused:
        sys.exit(1)
