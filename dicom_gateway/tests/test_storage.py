import os
import re

import pytest

from dicom_gateway.storage import FileSystemStorage, StorageError


@pytest.fixture
def storage(tmp_path):
    return FileSystemStorage(tmp_path / "store")


def test_it_stores_bytes_under_a_hash_key(storage):
    stored = storage.store(b"DICM-bytes")
    assert re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}", stored.key)
    assert stored.created and stored.size == 10
    with storage.open(stored.key) as f:
        assert f.read() == b"DICM-bytes"


def test_storing_the_same_bytes_twice_keeps_one_file(storage):
    first = storage.store(b"same")
    second = storage.store(b"same")
    assert first.key == second.key
    assert not second.created
    files = [p for p in storage.root.rglob("*") if p.is_file()]
    assert len(files) == 1


def test_it_leaves_no_temporary_file_behind(storage):
    storage.store(b"x" * 100_000)
    assert list(storage.tmp.iterdir()) == []


def test_it_refuses_keys_it_did_not_make(storage):
    for key in ["../../etc/passwd", "1.2.3", "ab/cd/../../x", "/abs"]:
        with pytest.raises(ValueError):
            storage.open(key)


def test_it_raises_storage_error_when_the_disk_refuses(storage, monkeypatch):
    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(StorageError, match="No space left"):
        storage.store(b"abc")
    monkeypatch.undo()
    assert list(storage.tmp.iterdir()) == []
    assert [p for p in storage.root.rglob("*") if p.is_file()] == []


def test_it_cleans_orphan_temporary_files(storage):
    storage.tmp.mkdir(parents=True)
    (storage.tmp / "dead.part").write_bytes(b"half")
    (storage.tmp / "keep.txt").write_bytes(b"not ours")
    assert storage.clean_orphans() == 1
    assert sorted(p.name for p in storage.tmp.iterdir()) == ["keep.txt"]
