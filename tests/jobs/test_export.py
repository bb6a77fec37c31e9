"""`flask portal export (CASE_NUMBER… | --all) --out DIR` (R-CASE-4): each completed case's evidence package,
unpacked into DIR/<case number>/, for staff handing a company its contracts (e.g. when its contract ends)."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Case
from portal.services import cases, evidence
from portal.services.storage import get_store
from tests.evidence_support import completed_case, parties, sent_case
from tests.web.cases_support import fresh


@pytest.fixture
def pair(ctx, portal_pki) -> list[int]:
    return parties(("甲建設株式会社", "kou"), ("乙工務店株式会社", "otsu"))


def _number(case_id: int) -> str:
    fresh()
    return db.session.get(Case, case_id).number


def _check_folder(folder, case_id: int) -> None:
    fresh()
    case = db.session.get(Case, case_id)
    signed = folder / f"{case.number}_signed.pdf"
    assert signed.read_bytes() == get_store().get(cases.final_document(case).sha256)
    for name in (evidence.REPORT_HTML, evidence.REPORT_PDF, evidence.AUDIT_CSV, evidence.AUDIT_JSON,
                 evidence.ROOT_PEM, evidence.ISSUING_PEM, evidence.TSA_PEM, evidence.README):
        assert (folder / name).is_file(), name
    for line in (folder / evidence.CHECKSUMS).read_text().splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


def test_r_case_4_export_all_writes_one_folder_per_completed_case(app, runner, pair, tmp_path):
    """Does --all write DIR/<case number>/ with the evidence package unpacked for every completed case, skip a case
    still waiting for a signature, record each export in the audit trail, and exit 0?"""
    first = completed_case(app, pair)
    second = completed_case(app, pair[::-1])
    waiting = sent_case(app, pair)
    numbers = [_number(first), _number(second)]
    out = tmp_path / "export"

    result = runner.invoke(args=["portal", "export", "--all", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(numbers)
    _check_folder(out / numbers[0], first)
    _check_folder(out / numbers[1], second)
    assert _number(waiting) not in result.output
    fresh()
    exported = db.session.scalars(select(AuditEvent.case_id).where(AuditEvent.action == "exported")).all()
    assert sorted(exported) == sorted([first, second])


def test_r_case_4_export_named_cases_and_refuse_the_others(app, runner, pair, tmp_path):
    """Given case numbers, does it write the completed one, and name (exit 1) an incomplete or unknown one?"""
    done = completed_case(app, pair)
    waiting = sent_case(app, pair)
    out = tmp_path / "named"

    result = runner.invoke(args=["portal", "export", _number(done), _number(waiting), "NO-SUCH-CASE",
                                 "--out", str(out)])
    assert result.exit_code == 1
    assert [p.name for p in out.iterdir()] == [_number(done)]
    _check_folder(out / _number(done), done)
    assert f"{_number(waiting)}\tnot exported: not complete (waiting)" in result.output
    assert "NO-SUCH-CASE\tnot exported: no such case" in result.output


def test_r_case_4_export_again_replaces_the_folder_contents(app, runner, pair, tmp_path):
    """Can an export be run again into the same folder (files replaced, nothing left half-written)?"""
    done = completed_case(app, pair)
    out = tmp_path / "again"
    for _ in range(2):
        assert runner.invoke(args=["portal", "export", _number(done), "--out", str(out)]).exit_code == 0
    folder = out / _number(done)
    assert not list(folder.rglob(".*.tmp"))
    _check_folder(folder, done)


def test_r_case_4_export_needs_case_numbers_or_all(runner, tmp_path):
    """Is a call with neither case numbers nor --all (or with both) a usage error?"""
    assert runner.invoke(args=["portal", "export", "--out", str(tmp_path)]).exit_code == 2
    assert runner.invoke(args=["portal", "export", "X", "--all", "--out", str(tmp_path)]).exit_code == 2
