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


def test_it_creates_the_key_directories_once_and_makes_them_durable(storage, monkeypatch):
    import dicom_gateway.storage as storage_module

    synced = []
    real_fsync_dir = storage_module._fsync_dir
    monkeypatch.setattr(storage_module, "_fsync_dir", lambda path: (synced.append(path), real_fsync_dir(path)))
    stored = storage.store(b"first")
    leaf = (storage.root / stored.key).parent
    # The new ab/ and ab/cd/ entries are synced in their parents, then the file's entry in ab/cd/.
    assert synced[-3:] == [leaf.parent.parent, leaf.parent, leaf]

    # Another file of the same ab/cd/ directory: no mkdir, one directory sync.
    neighbour = next(
        data
        for i in range(1_000_000)
        if storage_module.key_for(data := f"neighbour {i}".encode())[:5] == stored.key[:5]
    )

    def no_mkdir(*args, **kwargs):
        raise AssertionError("mkdir for a directory that exists")

    monkeypatch.setattr(storage_module.Path, "mkdir", no_mkdir)
    synced.clear()
    assert storage.store(neighbour).created
    assert synced == [leaf]


def test_a_store_whose_directory_vanished_recreates_it(storage):
    first = storage.store(b"one")
    (storage.root / first.key).unlink()
    (storage.root / first.key).parent.rmdir()
    again = storage.store(b"one")
    assert again.created and (storage.root / again.key).read_bytes() == b"one"
