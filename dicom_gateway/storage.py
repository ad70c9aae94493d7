"""The image store: durable, content-addressed, no dataset text in any path.

An instance's bytes are written to a temporary file, fsynced, renamed to a key
derived from the SHA-256 of the bytes, and the directory is fsynced: once
``store`` returns, the file survives a crash. Keys are hex digests only, so a
UID (``../``, ``/``, NUL…) can never reach the filesystem.

``Storage`` is the interface the services use, so that an object store (for
instance S3 through django-storages) can be added without touching handlers.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from django.conf import settings

logger = logging.getLogger(__name__)

_KEY_RE = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}$")
_TMP_SUFFIX = ".part"


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    created: bool  # False when identical bytes were already stored


class StorageError(Exception):
    """The bytes could not be made durable (disk full, I/O error…)."""


class Storage(Protocol):
    def key_for(self, data: bytes) -> str: ...

    def store(self, data: bytes, key: str | None = None) -> StoredObject: ...

    def open(self, key: str) -> BinaryIO: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...


def key_for(data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return f"{digest[:2]}/{digest[2:4]}/{digest}"


class FileSystemStorage:
    """Content-addressed files under ``root``; temporary files under ``root/tmp``."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.tmp = self.root / "tmp"

    def _path(self, key: str) -> Path:
        # Defence in depth: only keys this class made are ever joined to the root.
        if not _KEY_RE.match(key):
            raise ValueError("invalid storage key")
        return self.root / key

    def key_for(self, data: bytes) -> str:
        return key_for(data)

    def store(self, data: bytes, key: str | None = None) -> StoredObject:
        """Make ``data`` durable under its key (``key``, when the caller already computed it)."""
        key = key or key_for(data)
        final = self._path(key)
        try:
            if os.stat(final).st_size == len(data):
                return StoredObject(key=key, size=len(data), created=False)
        except OSError:
            pass  # not stored yet (or unreadable: writing it will say why)
        tmp = self.tmp / f"{uuid.uuid4().hex}{_TMP_SUFFIX}"
        try:
            fd = _open_creating_parents(tmp)
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.replace(tmp, final)
            except FileNotFoundError:
                # The first file of its ab/cd directory. Creating directories only when
                # needed saves two failing mkdir system calls per instance.
                _makedirs_durably(final.parent)
                os.replace(tmp, final)
            _fsync_dir(final.parent)
        except OSError as exc:
            _unlink_quietly(tmp)
            raise StorageError(f"{type(exc).__name__}: {exc.strerror or exc}") from exc
        return StoredObject(key=key, size=len(data), created=True)

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        _unlink_quietly(self._path(key))

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def clean_orphans(self, older_than_seconds: float = 0) -> int:
        """Remove temporary files left by a crash; returns how many were removed."""
        if not self.tmp.exists():
            return 0
        limit = time.time() - older_than_seconds
        removed = 0
        for path in self.tmp.glob(f"*{_TMP_SUFFIX}"):
            try:
                if path.stat().st_mtime <= limit:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


def _open_creating_parents(path: Path) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        return os.open(path, flags, 0o640)
    except FileNotFoundError:
        _makedirs_durably(path.parent)
        return os.open(path, flags, 0o640)


def _makedirs_durably(path: Path) -> None:
    """mkdir -p, then fsync the parent of each directory created, so that they survive a crash."""
    created = []
    current = path
    while not current.exists():
        created.append(current)
        current = current.parent
    path.mkdir(parents=True, exist_ok=True)
    for directory in reversed(created):  # from the top: ab/ in the root, then cd/ in ab/
        _fsync_dir(directory.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: Path | None) -> None:
    if path is None:
        return
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        logger.warning("could not remove %s", path, exc_info=True)


def get_storage() -> FileSystemStorage:
    """The configured store (settings.STORAGE_ROOT)."""
    return FileSystemStorage(settings.STORAGE_ROOT)
