"""Ingesting a folder tree already on disk: the upload use case, file by file, without HTTP.

Every file goes the way an upload goes (services/uploads.py): the same base-name rule, the
same header reading (a file whose header cannot be read is kept and flagged), the same
duplicates rule, the same rows and night logs. What differs: headers are read by a pool of
threads while the rows of many files are written in one transaction, and a file is either
copied through the storage backend (hashed on the way, fsynced and renamed into place, or
uploaded into the bucket), hard-linked into the storage folder (`link`; a copy where the
link cannot be made, e.g. across file systems or into a bucket), or registered where it is
(`in-place`, local storage only): only read, never moved or changed; its row records its
absolute path (`external_path`) and everything that serves it reads it from there.

A re-run imports nothing twice: a file whose name is taken in the dataset by a file of the
same size and checksum is "already present" (skipped); by a different file, it is refused.
So that a re-run (a watcher's catch-up after a restart) does not read every file again, a
file of a taken name with the same size that was last modified before its namesake was
filed is taken for it without being read at all (no header read, no checksum): "already
present". Any other file of a taken name is compared by checksum as above; with `verify`,
every one is (a different file of the same size whose mtime was kept from long ago, e.g.
copied in with `cp -p` or `rsync -t`, is only told apart that way).

Stopping: `stop` (an Event, set by the command's Ctrl-C handler) is looked at between files;
the batch filed so far is committed and the run returns, `interrupted`. Any exception
(a second Ctrl-C included) rolls the batch back and removes the files it had placed, so
neither a row without its file nor a placed file without its row stays behind.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from .. import storage
from ..domain.errors import ArcsecError
from ..domain.names import base_name
from ..headers import HeaderError, HeaderInfo, read_header
from ..repo import datafiles, night_grouping
from ..repo.sqlite import transaction
from ..storage import Backend, sync_directory
from ..storage.durability import deferred_directory_syncs, sync_file
from .uploads import unreadable

Mode = Literal["copy", "link", "in-place"]
BATCH = 200  # rows a transaction: few fsyncs of the database, short write locks
CHUNK = 1024 * 1024


class InPlaceNeedsLocal(ArcsecError):
    status = 400

    def __init__(self) -> None:
        super().__init__(
            "--in-place registers files where they are on this machine's disk: it needs the "
            "local storage (ARCSEC_STORAGE=file). With S3 storage use --copy (the default) or "
            "--link, which upload each file into the bucket."
        )


@dataclass
class Summary:
    imported: int = 0
    present: int = 0
    unreadable: int = 0
    bytes: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False
    # Reads spent: headers read, and files read whole to be compared by checksum with the
    # dataset's file of the same name (a re-run over files filed already spends neither).
    headers_read: int = 0
    compared: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "skipped_present": self.present,
            "flagged_unreadable": self.unreadable,
            "refused": len(self.refused),
            "bytes": self.bytes,
            "interrupted": self.interrupted,
        }


@dataclass(frozen=True)
class _Read:
    path: Path
    name: str
    info: HeaderInfo
    problem: str | None


@dataclass(frozen=True)
class _Present:
    """Already filed, by name, size and mtime (not read): see the module's docstring."""

    path: Path
    size: int


def files_under(folder: Path) -> list[Path]:
    """Every regular file under `folder`, in a stable order (hidden ones left out)."""
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / n for n in sorted(names) if not n.startswith(".")]
    return [p for p in found if p.is_file() and not p.is_symlink()]


def ingest_folder(
    conn: sqlite3.Connection,
    backend: Backend,
    owner_id: int,
    dataset: dict[str, Any],
    folder: Path,
    mode: Mode = "copy",
    jobs: int = 4,
    progress: Callable[[Path, int], None] | None = None,
    stop: threading.Event | None = None,
    verify: bool = False,
) -> Summary:
    """Import every file under `folder` into `dataset` ({"id", "uuid"} of the owner's)."""
    return ingest_paths(
        conn, backend, owner_id, dataset, files_under(folder), mode, jobs, progress, stop, verify
    )


def ingest_paths(
    conn: sqlite3.Connection,
    backend: Backend,
    owner_id: int,
    dataset: dict[str, Any],
    paths: Iterable[Path],
    mode: Mode = "copy",
    jobs: int = 4,
    progress: Callable[[Path, int], None] | None = None,
    stop: threading.Event | None = None,
    verify: bool = False,
) -> Summary:
    """Import these files into `dataset`, in their order; see ingest_folder. `verify`:
    compare every file of a taken name by checksum (see the module's docstring)."""
    if mode == "in-place" and backend.kind != "file":
        raise InPlaceNeedsLocal()
    summary = Summary()
    # Sorted out here, in this thread (the connection's), before any is read.
    items = [p if verify else _present_unread(conn, dataset, p) or p for p in paths]
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        batch: list[_Read] = []
        for read in pool.map(_read_unless_present, items):
            if stop is not None and stop.is_set():
                summary.interrupted = True
                break
            if isinstance(read, _Present):
                summary.present += 1
                if progress:
                    progress(read.path, read.size)
                continue
            if isinstance(read, tuple):  # (path, reason): refused before reading
                summary.refused.append((str(read[0]), read[1]))
                if progress:
                    progress(read[0], 0)
                continue
            summary.headers_read += 1
            batch.append(read)
            if len(batch) >= BATCH:
                _file_batch(conn, backend, owner_id, dataset, batch, mode, summary, progress)
                batch = []
        _file_batch(conn, backend, owner_id, dataset, batch, mode, summary, progress)
    finally:
        # Headers not read yet are not waited for (an interrupted run returns at once).
        pool.shutdown(wait=True, cancel_futures=True)
    return summary


def _present_unread(
    conn: sqlite3.Connection, dataset: dict[str, Any], path: Path
) -> _Present | None:
    """The file as already present when the dataset's file of its name has its size and
    was filed after the file was last modified; None when it has to be read to know."""
    try:
        existing = datafiles.by_name(conn, dataset["id"], base_name(path.name))
        found = path.stat()
    except (ArcsecError, OSError):  # a refused name, a vanished file: _read says why
        return None
    if existing is None or existing["size"] != found.st_size:
        return None
    filed = datetime.fromisoformat(existing["creation_date"]).timestamp()
    return _Present(path, found.st_size) if found.st_mtime < filed else None


def _read_unless_present(item: Path | _Present) -> _Read | _Present | tuple[Path, str]:
    return item if isinstance(item, _Present) else _read(item)


def _read(path: Path) -> _Read | tuple[Path, str]:
    try:
        name = base_name(path.name)
    except ArcsecError as error:
        return path, error.detail
    try:
        return _Read(path, name, read_header(path, name), None)
    except HeaderError as error:
        return _Read(path, name, unreadable(name), str(error))
    except OSError as error:
        return path, f"cannot be read: {error.strerror or error}"


def _file_batch(
    conn: sqlite3.Connection,
    backend: Backend,
    owner_id: int,
    dataset: dict[str, Any],
    batch: list[_Read],
    mode: Mode,
    summary: Summary,
    progress: Callable[[Path, int], None] | None,
) -> None:
    placed: list[str] = []
    try:
        # The placed files' directory entries are synced at the end of the inner block,
        # before the COMMIT: a committed row always has its file, after a power cut too.
        with transaction(conn), deferred_directory_syncs():
            # The dataset's owner, telescope and site: looked up once a batch (the write
            # lock held meanwhile, they cannot change).
            setting = night_grouping.setting_of(conn, dataset["id"])
            for read in batch:
                size = read.path.stat().st_size
                outcome = _file_one(
                    conn, backend, owner_id, dataset, read, mode, placed, summary, setting
                )
                if outcome == "imported":
                    summary.imported += 1
                    summary.bytes += size
                    summary.unreadable += read.problem is not None
                elif outcome == "present":
                    summary.present += 1
                else:
                    summary.refused.append((str(read.path), outcome))
                if progress:
                    progress(read.path, size)
    except BaseException:
        # Rolled back (or, if the interruption came just after COMMIT, committed): remove
        # only the placed files that no row refers to, so no row ever loses its file.
        try:
            kept = datafiles.all_storage_paths(conn) if placed else set()
        except sqlite3.Error:  # the database is gone: so is the transaction
            kept = set()
        backend.remove([p for p in placed if p not in kept])
        raise


def _file_one(
    conn: sqlite3.Connection,
    backend: Backend,
    owner_id: int,
    dataset: dict[str, Any],
    read: _Read,
    mode: Mode,
    placed: list[str],
    summary: Summary,
    setting: night_grouping.Setting | None,
) -> str:
    existing = datafiles.by_name(conn, dataset["id"], read.name)
    if existing is not None:
        taken = f"the dataset already holds another file named '{read.name}'"
        if existing["size"] != read.path.stat().st_size:  # another file: no need to hash it
            return taken
        summary.compared += 1
        if existing["checksum"] == _digest(read.path)[1]:
            return "present"
        return taken
    # A unique storage path even in place (the column is NOT NULL UNIQUE): none is made.
    relative = storage.new_relative_path(dataset["uuid"])
    if mode == "in-place":
        size, checksum = _digest(read.path)
        external: str | None = str(read.path.absolute())
    else:
        placed.append(relative)  # before placing: an interruption mid-place removes it
        size, checksum = _place(read.path, backend, relative, mode)
        external = None
    stored = datafiles.StoredFile(read.name, relative, size, checksum, external)
    datafiles.create(conn, owner_id, dataset, stored, read.info, {}, read.problem, setting)
    return "imported"


def _place(source: Path, backend: Backend, relative: str, mode: Mode) -> tuple[int, str]:
    """Put `source` at `relative` in the storage; its size and sha256. Into a bucket, a
    link is a copy (an upload of the file, streamed)."""
    target = backend.local_path(relative) if mode == "link" else None
    if target is not None:
        if not target.parent.is_dir():  # a new dataset folder: its own entry synced too
            target.parent.mkdir(parents=True, exist_ok=True)
            sync_directory(target.parent.parent)
        try:
            os.link(source, target)
        except OSError:  # another file system, or links not allowed: copy instead
            target.unlink(missing_ok=True)
        else:
            # The source's bytes may not be on the disk yet (a camera that never fsyncs):
            # the row says they are stored, so they are flushed, as a copy's are.
            size_and_checksum = _digest(target, sync=True)
            sync_directory(target.parent)
            return size_and_checksum
    with backend.writer(relative) as part, source.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            part.write(chunk)
        part.finish()
        part.place(relative)
        return part.size, part.checksum


def _digest(path: Path, sync: bool = False) -> tuple[int, str]:
    sha, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        for chunk in _chunks(handle):
            sha.update(chunk)
            size += len(chunk)
        if sync:
            sync_file(handle.fileno())
    return size, sha.hexdigest()


def _chunks(handle: Any) -> Iterator[bytes]:
    return iter(lambda: handle.read(CHUNK), b"")
