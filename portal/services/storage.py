"""Content-addressed store of originals (R-STORE-1): bytes live under their SHA-256, never overwritten.

A write goes to a temporary name, is fsynced, then renamed, so a crash never leaves a partial object
under a real hash. Deletion is for the purge job only.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

_HASH = re.compile(r"^[0-9a-f]{64}$")


class StoreError(Exception):
    pass


class IntegrityError(StoreError):
    """The bytes under a hash no longer hash to it: tampering or corruption."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LocalStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, digest: str) -> Path:
        if not _HASH.match(digest):
            raise StoreError(f"not a SHA-256 hex digest: {digest!r}")
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        """Store `data` and return its SHA-256; storing the same bytes again is a no-op."""
        digest = sha256_hex(data)
        path = self._path(digest)
        if path.exists():
            # Touch it: the purge leaves recently written objects alone, and this object was just
            # referenced again (the same PDF uploaded to another case).
            os.utime(path)
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o440)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, digest: str, verify: bool = True) -> bytes:
        try:
            data = self._path(digest).read_bytes()
        except FileNotFoundError as exc:
            raise StoreError(f"no object {digest}") from exc
        if verify and sha256_hex(data) != digest:
            raise IntegrityError(f"object {digest} does not match its hash")
        return data

    def exists(self, digest: str) -> bool:
        return self._path(digest).exists()

    def delete(self, digest: str) -> bool:
        """Remove an object; True if it was there. Missing objects are fine (purge is idempotent)."""
        try:
            self._path(digest).unlink()
            return True
        except FileNotFoundError:
            return False

    def digests(self) -> Iterator[str]:
        for path in self.root.glob("*/*/*"):
            if _HASH.match(path.name):
                yield path.name

    def verify(self, digest: str) -> bool:
        """Re-hash a stored object by streaming it (archives can be large)."""
        hasher = hashlib.sha256()
        with self._path(digest).open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(chunk)
        return hasher.hexdigest() == digest


def open_store(url: str) -> LocalStore:
    """STORAGE_URL → store. file:///path is built in; s3:// is documented in docs/operations.md."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalStore(Path(parsed.path))
    raise StoreError(f"unsupported STORAGE_URL scheme: {parsed.scheme!r}")


def get_store() -> LocalStore:
    """The app's store, opened once per app from STORAGE_URL."""
    from flask import current_app

    ext = current_app.extensions
    if "ukeoi_store" not in ext:
        ext["ukeoi_store"] = open_store(current_app.config["STORAGE_URL"])
    return ext["ukeoi_store"]
