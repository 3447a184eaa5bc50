"""A data package's archive: a zip streamed as it is built (zipstream-ng), from the stored
files, with no temporary copy on disk and constant memory.

Entries are stored (no recompression: frames are compressed already or incompressible),
ZIP64 past 4 GiB, and the exact length is known before the first byte (a sized stream).
A range [start, end) is the same slice of the same bytes: the stream is generated again
and the bytes before `start` are dropped, so resuming at byte X re-reads the files up to
X (disk speed, no memory): simple, and exactly right while the files are unchanged (the
ETag covers their names, sizes and modification times).

An entry is a file on this disk (`path`: zipstream-ng reads it) or an object in a bucket
(`open`: a reader of it, read in 1 MiB pieces as the zip is sent). Objects are never
rewritten (a storage path is used once), so their ETag part is their storage path; their
date in the zip is the upload date, fixed, so that a regenerated stream has the same bytes
(zipstream-ng would date an added iterable "now": see _ZipStream).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from zipstream import ZIP_STORED, ZipStream
from zipstream.ng import ZipStreamInfo

from ..domain.errors import NotFound
from ..storage import Readable

CHUNK = 1024 * 1024


class ArchiveChanged(NotFound):
    """A stored file changed or vanished after the archive was described (a 404 when
    found before the first byte is sent, as the single file's missing bytes are)."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"A stored file of this package is missing or changed: {detail}")


@dataclass(frozen=True)
class Entry:
    arcname: str
    path: Path | None
    size: int
    modified: datetime | None = None
    open: Callable[[], Readable] | None = None  # when `path` is None: the object's reader
    version: str = ""  # when `path` is None: what names these bytes (the ETag's part)


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
            version = str(os.stat(entry.path).st_mtime_ns) if entry.path else entry.version
            identity.update(f"{entry.arcname}\0{entry.size}\0{version}\0".encode())
        self.etag = identity.hexdigest()[:32]

    def _stream(self) -> ZipStream:
        stream = _ZipStream(compress_type=ZIP_STORED, sized=True)
        for entry in self.entries:
            if entry.path is None:
                stream.add_object(entry)
                continue
            try:
                if os.stat(entry.path).st_size != entry.size:
                    raise ArchiveChanged(f"{entry.arcname} changed size.")
            except FileNotFoundError as error:
                raise ArchiveChanged(f"{entry.arcname} is gone.") from error
            stream.add_path(str(entry.path), entry.arcname)
        return stream

    def iter_bytes(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes [start, end) of the zip, in chunks of about 1 MiB.

        The first chunk is made before this returns, so that a store that cannot be read
        at the start (a bucket unreachable: StorageUnavailable, a 503; a file gone:
        ArchiveChanged, a 404) is an error answer, not a 200 cut short. Later failures
        can only cut the stream (its Content-Length tells the client, which resumes).
        """
        chunks = self._chunks(start, end)
        first = next(chunks, None)
        return itertools.chain(() if first is None else (first,), chunks)

    def _chunks(self, start: int, end: int | None) -> Iterator[bytes]:
        """zipstream-ng yields 64 KiB pieces; they are gathered into 1 MiB chunks, so that
        the server makes a sixteenth of the writes (measured in bench/archive.py)."""
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


def _object_bytes(entry: Entry) -> Iterator[bytes]:
    """The object's bytes, opened only when zipstream reaches its entry."""
    assert entry.open is not None
    with entry.open() as reader:
        while piece := reader.read(CHUNK):
            yield piece


EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip holds


class _ZipStream(ZipStream):
    """A ZipStream whose objects' entries carry a fixed date (zipstream-ng gives an added
    iterable the time it is streamed, so two streams of one archive would differ by their
    dates, and a resumed download would mix them). Relies on zipstream-ng's private
    `_gen_file_entry` (1.7 to 1.9): tests/resources/test_datapackages*.py check resumed
    ranges byte for byte on both backends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._dates: dict[str, tuple[int, int, int, int, int, int]] = {}

    def add_object(self, entry: Entry) -> None:
        when = entry.modified.timetuple()[:6] if entry.modified else EPOCH
        self._dates[entry.arcname] = max(when, EPOCH)
        self.add(_object_bytes(entry), entry.arcname, size=entry.size)

    def _gen_file_entry(self, **kwargs: Any) -> Iterator[bytes]:
        arcname, iterable, size = kwargs["arcname"], kwargs.get("iterable"), kwargs.get("size")
        if iterable is None or arcname not in self._dates or size is None:
            yield from super()._gen_file_entry(**kwargs)
            return
        zinfo = ZipStreamInfo(arcname, self._dates[arcname])
        zinfo.external_attr = 0o644 << 16  # -rw-r--r--, as a stored file
        zinfo.file_size = size
        zinfo.compress_type = ZIP_STORED
        zinfo._compresslevel = None
        zinfo.header_offset = self._pos
        for piece in zinfo._file_data(iterable, force_zip64=False):
            yield self._track(piece)
        if zinfo.file_size != size:
            raise RuntimeError(f"{arcname} is {zinfo.file_size} bytes, not {size}.")
        self._filelist.append(zinfo)
