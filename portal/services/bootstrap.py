"""What `flask portal init` sets up on a fresh install, idempotently."""
from __future__ import annotations

from collections.abc import Iterator

from portal.services import certificates, terms_versions


def initialize() -> Iterator[str]:
    version = terms_versions.ensure_initial()
    yield f"terms version {version.version} in force"
    yield from _pki()


def _pki() -> Iterator[str]:
    """The portal's root CA, issuing CA and TSA (created once), and a CRL from the certificate rows."""
    pki = certificates.pki()
    created = pki.init()
    certificates.crl()
    yield f"portal PKI {'created' if created else 'present'} in {pki.directory}"
