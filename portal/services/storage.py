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
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse

_HASH = re.compile(r"^[0-9a-f]{64}$")
TMP_PREFIX = ".tmp-"  # an object being written (new_object)
ASIDE_PREFIX = ".del-"  # an object being deleted (delete with untouched_since)


class StoreError(Exception):
    pass


class IntegrityError(StoreError):
    """The bytes under a hash no longer hash to it: tampering or corruption."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_of_file(handle: BinaryIO) -> str:
    """SHA-256 of an open file from its start, read in 1 MiB chunks (objects can be large)."""
    handle.seek(0)
    hasher = hashlib.sha256()
    for chunk in iter(lambda: handle.read(1 << 20), b""):
        hasher.update(chunk)
    return hasher.hexdigest()


@dataclass
class NewObject:
    """An object being written by `LocalStore.new_object`: `file` is open for writing and reading back
    (pyHanko does both); `digest` and `size` are set once the block has stored it."""

    file: BinaryIO
    digest: str = ""
    size: int = 0


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
        if not self._refresh_existing(digest):
            with self._writing(digest) as obj:
                obj.file.write(data)
        return digest

    def new_object(self) -> AbstractContextManager[NewObject]:
        """Write an object without holding it in memory: stream into `obj.file`; when the block ends the
        file is synced, hashed and renamed under its SHA-256. An exception in the block stores nothing."""
        return self._writing(None)

    @contextmanager
    def _writing(self, digest: str | None) -> Iterator[NewObject]:
        """The temporary file, its sync and rename; `digest` when the caller has hashed the bytes already
        (put), else the file is hashed once written."""
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=TMP_PREFIX)
        obj = NewObject(file=os.fdopen(fd, "w+b"))
        try:
            yield obj
            obj.file.flush()
            os.fsync(obj.file.fileno())
            obj.size = obj.file.seek(0, os.SEEK_END)
            obj.digest = digest or _sha256_of_file(obj.file)
            obj.file.close()
            if not self._refresh_existing(obj.digest):
                path = self._path(obj.digest)
                path.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp, 0o440)
                os.replace(tmp, path)  # same file system: atomic, never a partial object under a real hash
        finally:
            obj.file.close()
            Path(tmp).unlink(missing_ok=True)

    def _refresh_existing(self, digest: str) -> bool:
        """True if the object is stored already. Touch it: the purge leaves recently touched objects
        alone, and this one is about to be referenced again (the same PDF uploaded to another case)."""
        try:
            os.utime(self._path(digest))
        except FileNotFoundError:  # not stored, or a purge just took it away: write it (again)
            return False
        return True

    def get(self, digest: str, verify: bool = True) -> bytes:
        try:
            data = self._path(digest).read_bytes()
        except FileNotFoundError as exc:
            raise StoreError(f"no object {digest}") from exc
        if verify and sha256_hex(data) != digest:
            raise IntegrityError(f"object {digest} does not match its hash")
        return data

    def open(self, digest: str) -> BinaryIO:
        """The object as an open binary file, its hash checked first by streaming it: for large PDFs that
        pyHanko reads piecewise, instead of `get` holding them whole."""
        try:
            handle = self._path(digest).open("rb")
        except FileNotFoundError as exc:
            raise StoreError(f"no object {digest}") from exc
        if _sha256_of_file(handle) != digest:
            handle.close()
            raise IntegrityError(f"object {digest} does not match its hash")
        handle.seek(0)
        return handle

    def exists(self, digest: str) -> bool:
        return self._path(digest).exists()

    def delete(self, digest: str, untouched_since: float | None = None) -> bool:
        """Remove an object; True if it was there. Missing objects are fine (purge is idempotent).

        With `untouched_since` (a time.time() value) an object written or touched after it stays: put()
        touches an object it finds before the row that will reference it commits. The object is first
        renamed aside, so a racing put() has either touched it already (seen here; it goes back) or
        finds it gone and writes it again."""
        path = self._path(digest)
        target = path if untouched_since is None else path.with_name(ASIDE_PREFIX + digest)
        try:
            if untouched_since is not None:
                os.rename(path, target)
                if target.stat().st_mtime > untouched_since:
                    os.replace(target, path)
                    return False
            target.unlink()
            return True
        except FileNotFoundError:
            return False

    def put_back(self, aside: Path) -> str:
        """Restore an object that a killed delete(untouched_since=…) left renamed aside; returns its digest,
        or "" if `aside` names no object or another process finished with it meanwhile."""
        digest = aside.name.removeprefix(ASIDE_PREFIX)
        if not _HASH.match(digest):
            return ""
        try:
            if self._path(digest).exists():  # written again meanwhile: the same bytes
                aside.unlink()
            else:
                os.replace(aside, self._path(digest))
        except FileNotFoundError:
            return ""
        return digest

    def digests(self) -> Iterator[str]:
        for path in self.root.glob("*/*/*"):
            if _HASH.match(path.name):
                yield path.name

    def verify(self, digest: str) -> bool:
        """Re-hash a stored object by streaming it (archives can be large)."""
        with self._path(digest).open("rb") as handle:
            return _sha256_of_file(handle) == digest


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
