"""The storage folder behind the Backend interface: the functions of local.py; its writer is
local.StreamingFile itself."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from . import durability, local
from .backend import LOST_FOUND, Backend, LimitedReader, Readable, StoredEntry, Stray


class LocalBackend(Backend):
    """Files under `files_dir`, written to `.tmp/` parts and renamed into place."""

    kind = "file"

    def __init__(
        self, files_dir: str | os.PathLike, lost_found: str | os.PathLike | None = None
    ) -> None:
        self.files_dir = Path(files_dir)
        # Default: beside the storage folder (the data folder, with the default settings).
        self.lost_found = Path(lost_found) if lost_found else self.files_dir.parent / LOST_FOUND

    def writer(self, relative: str | None = None) -> local.StreamingFile:
        return local.StreamingFile(self.files_dir, relative)

    def path(self, relative: str) -> Path:
        return local.absolute(self.files_dir, relative)

    def local_path(self, relative: str) -> Path:
        return self.path(relative)

    def open(self, relative: str) -> Readable:
        return self.path(relative).open("rb")

    def open_range(self, relative: str, start: int, length: int) -> Readable:
        if start < 0 or length < 0:
            raise ValueError(f"A range starts and lasts at least 0 bytes, not {start}+{length}.")
        handle = self.path(relative).open("rb")
        handle.seek(start)
        return LimitedReader(handle, length)

    def size(self, relative: str) -> int:
        return self.path(relative).stat().st_size

    def exists(self, relative: str) -> bool:
        return self.path(relative).is_file()

    def remove(self, relatives: Iterable[str]) -> None:
        local.remove(self.files_dir, relatives)

    def stored_paths(self) -> set[str]:
        return local.stored_paths(self.files_dir)

    def inventory(self) -> dict[str, StoredEntry]:
        return {
            relative: StoredEntry(size, changed)
            for relative, (size, changed) in local.inventory(self.files_dir).items()
        }

    def move_aside(self, relative: str, folder: str) -> str:
        """A hard link under lost+found, then the stored name removed: never a moment
        without the bytes under one name or the other. Across file systems (a lost+found
        on another disk) a durable copy comes first instead."""
        source = self.path(relative)
        if not source.is_file():
            raise FileNotFoundError(relative)
        target = _free_name(self.lost_found / folder / relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)  # fails rather than overwrite
        except OSError as error:
            if error.errno not in _NO_LINK:
                raise
            _copy_durably(source, target)
        durability.sync_directory(target.parent)
        source.unlink()
        durability.sync_directory(source.parent)
        return str(target)

    def presigned_url(
        self,
        relative: str,
        disposition: str | None = None,
        content_type: str | None = None,
        expires_s: int | None = None,
    ) -> str | None:
        return None

    def stray_uploads(self, older_than_s: float | None = None) -> list[Stray]:
        """Parts no running upload holds (a dead worker's lock died with it), and, with
        `older_than_s`, parts untouched that long (a hung upload)."""
        found = []
        for part in local.stale_parts(self.files_dir, older_than_s):
            try:
                started = part.stat().st_mtime
            except FileNotFoundError:  # finished or discarded meanwhile
                continue
            found.append(Stray(str(part.relative_to(self.files_dir)), started))
        return found

    def remove_strays(self, strays: Iterable[Stray]) -> int:
        removed = 0
        for stray in strays:
            part = self.files_dir / stray.key
            if part.parent != self.files_dir / local.TMP:
                raise ValueError(f"{stray.key} is not an upload part.")
            part.unlink(missing_ok=True)
            removed += 1
        return removed


# A hard link cannot be made: another file system, links not supported or not allowed.
_NO_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}


def _free_name(target: Path) -> Path:
    candidate, n = target, 0
    while candidate.exists():
        n += 1
        candidate = target.with_name(f"{target.name}.{n}")
    return candidate


def _copy_durably(source: Path, target: Path) -> None:
    """Copy to a new file (never over one), fsynced; a failure leaves no half copy."""
    with source.open("rb") as reader, target.open("xb") as writer:
        try:
            shutil.copyfileobj(reader, writer, 1024 * 1024)
            writer.flush()
            os.fsync(writer.fileno())
        except BaseException:
            target.unlink(missing_ok=True)
            raise
    shutil.copystat(source, target)
