"""A data package's archive: a zip streamed as it is built (zipstream-ng), from the stored
files, with no temporary copy on disk and constant memory.

Entries are stored (no recompression: frames are compressed already or incompressible),
ZIP64 past 4 GiB, and the exact length is known before the first byte (a sized stream).
A range [start, end) is the same slice of the same bytes: the stream is generated again
and the bytes before `start` are dropped, so resuming at byte X re-reads the files up to
X (disk speed, no memory): simple, and exactly right while the files are unchanged (the
ETag covers their names, sizes and modification times).
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from zipstream import ZIP_STORED, ZipStream

CHUNK = 1024 * 1024


class ArchiveChanged(Exception):
    """A stored file changed or vanished after the archive was described."""


@dataclass(frozen=True)
class Entry:
    arcname: str
    path: Path
    size: int
    modified: datetime | None = None


def archive_name(package_name: str) -> str:
    """A safe download name: `<package name>.zip`."""
    return f"{_safe(package_name) or 'package'}.zip"


def _safe(part: str) -> str:
    cleaned = "".join(
        "_" if ch in '/\\:*?"<>|' or unicodedata.category(ch)[0] == "C" else ch for ch in part
    )
    return cleaned.strip().lstrip(".").strip()


def entry_names(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """`<dataset>/<file>` names, sanitised, with clashes numbered: "M31 (2)/..."."""
    names: list[str] = []
    folders: dict[str, str] = {}
    seen: set[str] = set()
    for dataset, name in pairs:
        folder = folders.setdefault(dataset, _unique(_safe(dataset) or "dataset", folders))
        arcname = f"{folder}/{_safe(name) or 'file'}"
        stem, n = arcname, 2
        while arcname in seen:
            arcname, n = f"{stem} ({n})", n + 1
        seen.add(arcname)
        names.append(arcname)
    return names


def _unique(folder: str, folders: dict[str, str]) -> str:
    taken, candidate, n = set(folders.values()), folder, 2
    while candidate in taken:
        candidate, n = f"{folder} ({n})", n + 1
    return candidate


class Archive:
    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries
        self.size = len(self._stream())
        identity = hashlib.sha256()
        for entry in entries:
            stat = os.stat(entry.path)
            identity.update(f"{entry.arcname}\0{entry.size}\0{stat.st_mtime_ns}\0".encode())
        self.etag = identity.hexdigest()[:32]

    def _stream(self) -> ZipStream:
        stream = ZipStream(compress_type=ZIP_STORED, sized=True)
        for entry in self.entries:
            try:
                if os.stat(entry.path).st_size != entry.size:
                    raise ArchiveChanged(f"{entry.arcname} changed size.")
            except FileNotFoundError as error:
                raise ArchiveChanged(f"{entry.arcname} is gone.") from error
            stream.add_path(str(entry.path), entry.arcname)
        return stream

    def iter_bytes(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes [start, end) of the zip, in chunks of about 1 MiB.

        zipstream-ng yields 64 KiB pieces; they are gathered into 1 MiB chunks, so that the
        server makes a sixteenth of the writes (measured in bench/archive.py).
        """
        end = self.size if end is None else min(end, self.size)
        position = 0
        pending = bytearray()
        try:
            for piece in self._stream():
                if position >= end:
                    break
                low, high = max(start - position, 0), min(end - position, len(piece))
                position += len(piece)
                if low < high:
                    pending += memoryview(piece)[low:high]
                    if len(pending) >= CHUNK:
                        yield bytes(pending)
                        pending.clear()
        except (OSError, RuntimeError) as error:
            raise ArchiveChanged(str(error)) from error
        if pending:
            yield bytes(pending)
