"""What `flask portal init` sets up on a fresh install, idempotently."""
from __future__ import annotations

from collections.abc import Iterator

from portal.services import certificates, terms_versions


def initialize() -> Iterator[str]:
    version = terms_versions.ensure_initial()
    yield f"terms version {version.version} in force"
    yield from _pki()


def _pki() -> Iterator[str]:
    """The portal's root CA, issuing CA, TSA and OCSP responder (created, or brought up to date, once), and
    both CRLs afresh."""
    pki = certificates.pki()
    created = pki.init()
    certificates.refresh_revocation()
    yield f"portal PKI {'created or updated' if created else 'present'} in {pki.directory}"
