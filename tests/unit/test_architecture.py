"""The part of ARCHITECTURE.md that import-linter cannot say: rules/ imports the standard library only."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "portal" / "rules"


def imported_top_level_names(source: str) -> set[str]:
    """Every absolute module a source file imports, by its top-level name (relative imports stay in rules/)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", sorted(RULES.glob("*.py")), ids=lambda path: path.name)
def test_rules_import_only_the_standard_library(module):
    """Does a rules module import anything but the standard library (a package, Flask, the portal)?"""
    outside = imported_top_level_names(module.read_text(encoding="utf-8")) - set(sys.stdlib_module_names)
    assert outside - {"__future__"} == set(), f"{module.name} imports {sorted(outside)}"


def test_the_import_check_sees_packages_and_ignores_relative_imports():
    """Would the check above notice a third-party import, and leave `from .dates import …` alone?"""
    source = "import re\nfrom email_validator import validate_email\nfrom .dates import ONE_DAY\n"
    names = imported_top_level_names(source)
    assert names - set(sys.stdlib_module_names) == {"email_validator"}
