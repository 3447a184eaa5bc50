"""The storage folder on the local disk: streaming writes, atomic placement, removal.

An upload's file part is written by werkzeug's multipart parser straight into a
temporary file inside the storage folder (so the final rename is atomic and there is
no second copy), while its sha256 and size are computed as the bytes flow by.
Storage paths are made here from random tokens; no client text is ever part of one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..domain.errors import ArcsecError
from .durability import (
    BACKGROUND_AFTER,
    WRITEBACK_EVERY,
    BackgroundWriter,
    after_both,
    start_writeback,
    sync_directory,
)

log = logging.getLogger(__name__)

TMP = ".tmp"
FILE_MODE = 0o644


class StorageFull(ArcsecError):
    status = 507

    def __init__(self) -> None:
        super().__init__("The server's storage is full: the file was not stored.")


# The parts this process made and has neither placed nor discarded: a command stopped by a
# second Ctrl-C (ingest, watch) may be interrupted anywhere, even between a part's creation
# and the `with` that would discard it; it removes what is left here (remove_unfinished).
_UNFINISHED: set[str] = set()


def remove_unfinished() -> int:
    """Remove this process's parts still unfinished; how many. For a command's last act
    after an interruption (a server's uploads discard their own)."""
    removed = 0
    for name in list(_UNFINISHED):
        _UNFINISHED.discard(name)
        with contextlib.suppress(FileNotFoundError):
            Path(name).unlink()
            removed += 1
    return removed


_PART_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _new_part(directory: Path) -> tuple[int, str]:
    """A new, empty part file (0600) in `directory`, made first if it is missing. Its name
    is in _UNFINISHED before the file exists: a Ctrl-C landing anywhere, even just after
    the file was created and before its descriptor was returned, leaves nothing that
    remove_unfinished does not know of (mkstemp made the name and the file at once)."""
    for _ in range(100):
        name = os.path.join(directory, f"upload-{secrets.token_hex(8)}.part")
        _UNFINISHED.add(name)
        try:
            return os.open(name, _PART_FLAGS, 0o600), name
        except FileExistsError:  # not ours: another name
            _UNFINISHED.discard(name)
        except FileNotFoundError:  # no folder yet (nothing was created)
            _UNFINISHED.discard(name)
            directory.mkdir(parents=True, exist_ok=True)
    raise FileExistsError(errno.EEXIST, "No free name for an upload part", str(directory))


class StreamingFile:
    """A temporary file in the storage folder that hashes what is written to it: the local
    backend's `Writer` (backend.py), and a file werkzeug's parser and the header reader use
    as one (`path`, `seek`, `read`... are the temporary file's).

    `destination`: where the caller means to `place()` it, when known at the start (only
    recorded: a local part is renamed wherever place() says)."""

    def __init__(self, files_dir: str | os.PathLike, destination: str | None = None) -> None:
        self.files_dir = Path(files_dir)
        self.destination = destination
        fd, name = _new_part(self.files_dir / TMP)  # already in _UNFINISHED
        self.path = Path(name)
        try:
            # Parts are made 0600; stored files get the mode a plain open() would
            # give under the usual umask, so nginx's workers can send them (X-Accel).
            os.fchmod(fd, FILE_MODE)
            # Held while the upload runs and released by the kernel when its process
            # dies: a part nobody holds is a crash's leftover (stale_parts), whatever
            # its age.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Unbuffered: a full disk fails the write that filled it (a 507 the client
            # sees), never a flush at close time, after the answer was built.
            self.file = os.fdopen(fd, "w+b", buffering=0)
        except BaseException:  # a Ctrl-C included: no part left behind
            self.path.unlink(missing_ok=True)
            _UNFINISHED.discard(name)
            # A Ctrl-C inside fdopen may land after its file object took the descriptor
            # (and closed it on the way out): EBADF here must not replace the interrupt.
            with contextlib.suppress(OSError):
                os.close(fd)
            raise
        self._sha256 = hashlib.sha256()
        self._writer: BackgroundWriter | None = None
        self._hasher: BackgroundWriter | None = None
        self.size = 0
        self.placed = False
        self._written = 0  # bytes written to the file (size counts those queued too)
        self._writeback_from = 0  # where the bytes not yet handed to start_writeback begin

    def write(self, data: bytes | memoryview) -> int:
        """Hash and write `data` (bytes or a memoryview of the request's read: hashed and
        written from the same buffer, never copied).

        Past BACKGROUND_AFTER bytes, two threads of this file's own hash and write
        while the request's thread reads the next piece of the body (all release the
        GIL): a large upload uses every core. A write error found there is raised by the next
        call (write, finish, checksum, or any file method). A buffer other than bytes is
        copied for that thread (its owner may reuse it once write returns): see
        write_lent for one that need not be."""
        return self.write_lent(data, None)

    def write_lent(self, data: bytes | memoryview, release: Callable[[], None] | None) -> int:
        """write() for a buffer its owner lends until `release()` is called (once, from
        the thread that wrote it, or dropped it after an error): no copy,
        even of a buffer the owner will refill (the multipart parser's reads)."""
        view = data if isinstance(data, memoryview) else memoryview(data)
        if self._writer is None and self.size + len(view) > BACKGROUND_AFTER:
            self._writer = BackgroundWriter(self._write_all)
            self._hasher = BackgroundWriter(self._sha256.update, name="upload-hasher")
        self.size += len(view)
        if self._writer is not None:
            if release is None and not isinstance(view.obj, bytes):
                view = memoryview(bytes(view))  # a buffer the caller may reuse: copied
            # Hashed and written by two threads at once (sha256 about 0.7 s a GiB, the
            # write into the page cache 0.3-3 s), each in order, while the request's
            # thread reads on; the piece goes back to its owner once both are done.
            assert self._hasher is not None
            done = after_both(release)
            self._hasher.put(view, done)
            self._writer.put(view, done)
            self._raise_failure()
            return len(view)
        try:
            return self._hash_and_write(view)
        except OSError as error:
            raise self._failed(error) from error
        finally:
            if release is not None:
                release()

    def _hash_and_write(self, view: memoryview) -> int:
        self._sha256.update(view)
        return self._write_all(view)

    def _write_all(self, view: memoryview) -> int:
        written = 0
        while written < len(view):  # an unbuffered write may be short
            written += self.file.write(view[written:]) or 0
        self._written += written
        if self._written - self._writeback_from >= WRITEBACK_EVERY:
            start_writeback(self.file.fileno(), self._writeback_from, self._written)
            self._writeback_from = self._written
        return written

    def _settle(self) -> None:
        """Wait until every byte given to write() is hashed and written."""
        if self._writer is not None:
            assert self._hasher is not None
            self._hasher.wait()
            self._writer.wait()
            self._raise_failure()

    def _raise_failure(self) -> None:
        if self._hasher is not None and self._hasher.error is not None:
            raise self._hasher.error  # never expected: the checksum would be wrong
        if self._writer is not None and self._writer.error is not None:
            error, self._writer.error = self._writer.error, None
            if not isinstance(error, OSError):
                raise error
            raise self._failed(error) from error

    @property
    def checksum(self) -> str:
        self._settle()
        return self._sha256.hexdigest()

    def __getattr__(self, name: str) -> Any:  # seek, read, tell, flush... of the file
        self._settle()
        return getattr(self.file, name)

    def _failed(self, error: OSError) -> OSError | StorageFull:
        """A full disk: the part is removed at once (its space is wanted) and the upload
        answered 507; any other error is left as it is."""
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            return error
        self.discard()
        return StorageFull()

    def finish(self) -> None:
        """Flush to disk: after this the bytes survive a power cut. Some file systems
        (NFS, delayed allocation) only report a full disk here."""
        self._settle()
        try:
            os.fsync(self.file.fileno())
        except OSError as error:
            raise self._failed(error) from error

    def place(self, *where: str | os.PathLike) -> Path:
        """Move the finished file to its final path `place(relative)` (atomic: no half file
        is visible), and make its directory entry durable before returning (coalesced: see
        sync_directory). A directory made here gets its own entry synced too.

        The older form `place(files_dir, relative)` is still accepted (files_dir must be
        this file's own)."""
        if len(where) == 2 and Path(where[0]) != self.files_dir:
            raise ValueError(f"This upload's storage folder is {self.files_dir}, not {where[0]}.")
        if len(where) not in (1, 2):
            raise TypeError("place(relative) takes one storage path.")
        target = self.files_dir / str(where[-1])
        if not target.parent.is_dir():
            target.parent.mkdir(parents=True, exist_ok=True)
            sync_directory(target.parent.parent)
        os.replace(self.path, target)
        _UNFINISHED.discard(str(self.path))
        sync_directory(target.parent)
        self.path, self.placed = target, True
        return target

    def discard(self) -> None:
        """Close the file (releasing its lock) and, unless it was placed, remove it."""
        if not self.placed:  # first: an interruption after this leaves no part
            self.path.unlink(missing_ok=True)
        _UNFINISHED.discard(str(self.path))
        if self._writer is not None:
            self._writer.stop()
        if self._hasher is not None:
            self._hasher.stop()
        try:
            self.file.close()
        except OSError:
            log.warning("Closing upload part %s failed", self.path, exc_info=True)

    def __enter__(self) -> StreamingFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.discard()


def new_relative_path(prefix: str) -> str:
    """A fresh storage path under `prefix` (a UUID of ours), from a random token."""
    return f"{prefix}/{secrets.token_hex(16)}"


def absolute(files_dir: str | os.PathLike, relative: str) -> Path:
    return Path(files_dir) / relative


def location(files_dir: str | os.PathLike, datafile: Mapping[str, Any]) -> Path:
    """Where a data file's bytes are read from: its external path when it was registered in
    place (`ingest --in-place`), else its storage path in the storage folder."""
    if datafile.get("external_path"):
        return Path(datafile["external_path"])
    return absolute(files_dir, datafile["storage_path"])


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


# Top-level folders of the storage folder that hold no placed file: upload parts, and
# lost+found should a configuration put it inside (storage paths are `<uuid>/<token>`).
NOT_STORED = frozenset({TMP, "lost+found"})


def stored_paths(files_dir: str | os.PathLike) -> set[str]:
    """Relative paths of every placed file (temporary parts excluded)."""
    return {relative for relative, _path in _placed(files_dir)}


def _placed(files_dir: str | os.PathLike) -> Iterator[tuple[str, Path]]:
    root = Path(files_dir)
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if relative.parts[0] not in NOT_STORED and path.is_file():
            yield str(relative), path


def inventory(files_dir: str | os.PathLike) -> dict[str, tuple[int, float]]:
    """{relative path: (size, change time)} of every placed file. The change time is the
    later of mtime and ctime: a hard link or a copy keeping an old mtime (ingest --link)
    still shows when it was placed."""
    found = {}
    for relative, path in _placed(files_dir):
        try:
            stat = path.stat()
        except FileNotFoundError:  # removed meanwhile
            continue
        found[relative] = (stat.st_size, max(stat.st_mtime, stat.st_ctime))
    return found


def stale_parts(files_dir: str | os.PathLike, older_than_s: float | None = None) -> list[Path]:
    """Temporary upload parts left behind: those no running upload holds (a killed worker's
    lock is gone with it), and, with `older_than_s`, those untouched that long (a hung one)."""
    cutoff = time.time() - older_than_s if older_than_s is not None else None
    directory = Path(files_dir) / TMP
    if not directory.is_dir():
        return []
    found = []
    for part in sorted(p for p in directory.iterdir() if p.is_file()):
        try:
            if not _held(part) or (cutoff is not None and part.stat().st_mtime < cutoff):
                found.append(part)
        except FileNotFoundError:  # finished or discarded meanwhile
            continue
    return found


def sweep_stale_parts(files_dir: str | os.PathLike) -> int:
    """Remove the parts no running upload holds (at start-up); returns how many."""
    removed = 0
    for part in stale_parts(files_dir):
        part.unlink(missing_ok=True)
        removed += 1
    return removed


def _held(part: Path) -> bool:
    fd = os.open(part, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the lock taken just now, if any
    return False
