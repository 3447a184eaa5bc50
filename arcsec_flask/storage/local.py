"""The storage folder on the local disk: streaming writes, atomic placement, removal.

An upload's file part is written by werkzeug's multipart parser straight into a
temporary file inside the storage folder (so the final rename is atomic and there is
no second copy), while its sha256 and size are computed as the bytes flow by.
Storage paths are made here from random tokens; no client text is ever part of one.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import secrets
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..domain.errors import ArcsecError

log = logging.getLogger(__name__)

TMP = ".tmp"
FILE_MODE = 0o644


class StorageFull(ArcsecError):
    status = 507

    def __init__(self) -> None:
        super().__init__("The server's storage is full: the file was not stored.")


class StreamingFile:
    """A temporary file in the storage folder that hashes what is written to it."""

    def __init__(self, files_dir: str | os.PathLike) -> None:
        directory = Path(files_dir) / TMP
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix="upload-", suffix=".part")
        # mkstemp makes 0600 files; stored files get the mode a plain open() would give
        # under the usual umask, so nginx's workers can send them (X-Accel-Redirect).
        os.fchmod(fd, FILE_MODE)
        self.path = Path(name)
        self.file = os.fdopen(fd, "w+b")
        self._sha256 = hashlib.sha256()
        self.size = 0
        self.placed = False

    def write(self, data: bytes) -> int:
        self._sha256.update(data)
        self.size += len(data)
        try:
            return self.file.write(data)
        except OSError as error:
            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFull() from error
            raise

    @property
    def checksum(self) -> str:
        return self._sha256.hexdigest()

    def __getattr__(self, name: str) -> Any:  # seek, read, tell, flush... of the file
        return getattr(self.file, name)

    def finish(self) -> None:
        """Flush to disk: after this the bytes survive a power cut."""
        self.file.flush()
        os.fsync(self.file.fileno())

    def place(self, files_dir: str | os.PathLike, relative: str) -> Path:
        """Move the finished file to its final path (atomic: no half file is visible)."""
        target = Path(files_dir) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, target)
        _fsync_dir(target.parent)
        self.path, self.placed = target, True
        return target

    def discard(self) -> None:
        self.file.close()
        if not self.placed:
            self.path.unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def new_relative_path(prefix: str) -> str:
    """A fresh storage path under `prefix` (a UUID of ours), from a random token."""
    return f"{prefix}/{secrets.token_hex(16)}"


def absolute(files_dir: str | os.PathLike, relative: str) -> Path:
    return Path(files_dir) / relative


def remove(files_dir: str | os.PathLike, relative_paths: Iterable[str]) -> None:
    """Remove stored files after their rows are gone; a missing file is not an error."""
    root = Path(files_dir)
    for relative in relative_paths:
        try:
            (root / relative).unlink()
        except FileNotFoundError:
            pass
        except OSError:
            log.exception("Could not remove stored file %s", relative)


def stored_paths(files_dir: str | os.PathLike) -> set[str]:
    """Relative paths of every placed file (temporary parts excluded)."""
    root = Path(files_dir)
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and p.relative_to(root).parts[0] != TMP
    }


def stale_parts(files_dir: str | os.PathLike, older_than_s: float) -> list[Path]:
    """Temporary upload parts untouched for `older_than_s` seconds: left by a crash."""
    import time

    cutoff = time.time() - older_than_s
    directory = Path(files_dir) / TMP
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.stat().st_mtime < cutoff)
