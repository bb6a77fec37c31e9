"""What `flask portal init` sets up on a fresh install, idempotently."""
from __future__ import annotations

from collections.abc import Iterator

from portal.services import terms_versions


def initialize() -> Iterator[str]:
    version = terms_versions.ensure_initial()
    yield f"terms version {version.version} in force"
