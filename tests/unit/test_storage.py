"""R-STORE-1: the content-addressed store keeps bytes under their SHA-256, never half-written."""
from __future__ import annotations

import hashlib
import os
import time

import pytest

from portal.services.storage import IntegrityError, LocalStore, StoreError, open_store


@pytest.fixture
def store(tmp_path):
    return LocalStore(tmp_path / "store")


def test_r_store_1_put_names_the_object_by_its_sha256_and_reads_it_back(store):
    """Is an object stored under the SHA-256 of its bytes and read back unchanged?"""
    data = b"%PDF-1.7 contract"
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.get(digest) == data
    assert store.exists(digest) and list(store.digests()) == [digest]
    assert not any(p.name.startswith(".tmp-") for p in store.root.rglob("*"))


def test_r_store_1_storing_the_same_bytes_again_keeps_one_object_and_refreshes_its_time(store):
    """Does a second put of the same bytes keep the one object (never overwritten) and touch its mtime,
    so that a purge sweeping old unreferenced objects leaves it alone?"""
    digest = store.put(b"same bytes")
    path = store._path(digest)
    os.utime(path, (1_000_000, 1_000_000))
    assert store.put(b"same bytes") == digest
    assert path.stat().st_mtime > 1_000_000
    assert list(store.digests()) == [digest]


def test_r_store_1_tampered_object_is_detected_on_read_and_verify(store):
    """If the bytes under a hash change, do get() and verify() say so?"""
    digest = store.put(b"original")
    path = store._path(digest)
    os.chmod(path, 0o640)
    path.write_bytes(b"changed!")
    assert store.verify(digest) is False
    with pytest.raises(IntegrityError):
        store.get(digest)


def test_r_store_1_new_object_streams_into_the_store_under_its_sha256(store):
    """Is an object written piecewise (and read back while writing, as pyHanko does) stored under the
    SHA-256 of its final bytes, with its size, and no temporary file left?"""
    with store.new_object() as obj:
        obj.file.write(b"%PDF-1.7 " + b"x" * 3_000_000)
        obj.file.seek(5)
        obj.file.write(b"2")  # patch in place, as a signature fills its reserved space
    expected = b"%PDF-2.7 " + b"x" * 3_000_000
    assert obj.digest == hashlib.sha256(expected).hexdigest()
    assert obj.size == len(expected)
    assert store.get(obj.digest) == expected
    assert not any(p.name.startswith(".tmp-") for p in store.root.rglob("*"))


def test_r_store_1_new_object_that_fails_half_way_stores_nothing(store):
    """Does an error while writing leave the store as it was: no object, no temporary file?"""
    with pytest.raises(RuntimeError), store.new_object() as obj:
        obj.file.write(b"half a document")
        raise RuntimeError("signing failed")
    assert list(store.digests()) == []
    assert list(store.root.iterdir()) == []


def test_r_store_1_new_object_with_stored_bytes_keeps_the_one_object_and_refreshes_it(store):
    """Streaming bytes that are stored already: one object, never overwritten, its mtime refreshed?"""
    digest = store.put(b"same bytes")
    os.utime(store._path(digest), (1_000_000, 1_000_000))
    with store.new_object() as obj:
        obj.file.write(b"same bytes")
    assert obj.digest == digest and list(store.digests()) == [digest]
    assert store._path(digest).stat().st_mtime > 1_000_000


def test_r_store_1_open_checks_the_hash_before_handing_out_the_file(store):
    """Does open() give the object's bytes from the start, and refuse a tampered or missing object?"""
    digest = store.put(b"original")
    with store.open(digest) as handle:
        assert handle.read() == b"original"
    path = store._path(digest)
    os.chmod(path, 0o640)
    path.write_bytes(b"changed!")
    with pytest.raises(IntegrityError):
        store.open(digest)
    with pytest.raises(StoreError):
        store.open(hashlib.sha256(b"never stored").hexdigest())


def test_r_store_1_delete_untouched_since_spares_an_object_stored_again_meanwhile(store):
    """Does a purge's delete(untouched_since=…) remove an object last written before that moment, keep
    one touched after it (a put() of the same bytes), and leave no file renamed aside either way?"""
    old, touched = store.put(b"old contract"), store.put(b"contract uploaded again")
    long_ago = time.time() - 7200
    for digest in (old, touched):
        os.utime(store._path(digest), (long_ago, long_ago))
    since = time.time() - 3600
    assert store.put(b"contract uploaded again") == touched
    assert store.delete(old, untouched_since=since) is True
    assert store.delete(touched, untouched_since=since) is False
    assert not store.exists(old) and store.get(touched) == b"contract uploaded again"
    assert not any(p.name.startswith(".del-") for p in store.root.rglob("*"))


def test_r_store_1_put_while_the_object_is_being_deleted_writes_it_again(store):
    """If put() finds the object renamed aside by a deletion in progress, does it store the bytes anew?"""
    digest = store.put(b"contract")
    path = store._path(digest)
    path.rename(path.with_name(".del-" + digest))  # the purge's delete, half-way
    assert store.put(b"contract") == digest
    assert store.get(digest) == b"contract"


def test_delete_is_idempotent_and_names_must_be_sha256(store):
    """Can a purge delete twice without error, and is a path-like name refused?"""
    digest = store.put(b"to delete")
    assert store.delete(digest) is True
    assert store.delete(digest) is False
    with pytest.raises(StoreError):
        store.get(digest)
    with pytest.raises(StoreError):
        store.get("../../etc/passwd")


def test_open_store_accepts_file_urls_only(tmp_path):
    """Is an unsupported STORAGE_URL refused at start instead of failing later?"""
    assert isinstance(open_store(f"file://{tmp_path}/s"), LocalStore)
    with pytest.raises(StoreError):
        open_store("ftp://example.invalid/store")
