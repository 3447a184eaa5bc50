"""The storage folder on the local disk: streaming writes, atomic placement, removal.

An upload's file part is written by werkzeug's multipart parser straight into a
temporary file inside the storage folder (so the final rename is atomic and there is
no second copy), while its sha256 and size are computed as the bytes flow by.
Storage paths are made here from random tokens; no client text is ever part of one.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import logging
import os
import queue
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
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


class StreamingFile:
    """A temporary file in the storage folder that hashes what is written to it: the local
    backend's `Writer` (backend.py), and a file werkzeug's parser and the header reader use
    as one (`path`, `seek`, `read`... are the temporary file's).

    `destination`: where the caller means to `place()` it, when known at the start (only
    recorded: a local part is renamed wherever place() says)."""

    def __init__(self, files_dir: str | os.PathLike, destination: str | None = None) -> None:
        self.files_dir = Path(files_dir)
        self.destination = destination
        directory = self.files_dir / TMP
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix="upload-", suffix=".part")
        _UNFINISHED.add(name)
        self.path = Path(name)
        try:
            # mkstemp makes 0600 files; stored files get the mode a plain open() would
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
        self._writer: _BackgroundWriter | None = None
        self._hasher: _BackgroundWriter | None = None
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
            self._writer = _BackgroundWriter(self._write_all)
            self._hasher = _BackgroundWriter(self._sha256.update, name="upload-hasher")
        self.size += len(view)
        if self._writer is not None:
            if release is None and not isinstance(view.obj, bytes):
                view = memoryview(bytes(view))  # a buffer the caller may reuse: copied
            # Hashed and written by two threads at once (sha256 about 0.7 s a GiB, the
            # write into the page cache 0.3-3 s), each in order, while the request's
            # thread reads on; the piece goes back to its owner once both are done.
            assert self._hasher is not None
            done = _after_both(release)
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


# Small files are written in the request's thread: a thread costs more than it saves.
BACKGROUND_AFTER = 4 * 1024 * 1024
BACKGROUND_QUEUE = 4  # pieces (of up to 1 MiB) waiting: bounds the memory an upload holds


# A large upload's bytes are handed to the disk as they are written, WRITEBACK_EVERY at
# a time (asynchronously: the write does not wait for the disk), so that the disk works
# while the body is still arriving and finish()'s fsync has the last few MiB left to do
# instead of the whole file (about a second a GiB here).
WRITEBACK_EVERY = 8 * 1024 * 1024
_SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>: start writeback of the range's dirty pages


def _sync_file_range() -> Callable[..., int] | None:
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):  # not Linux, or no such symbol in this libc
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    function.restype = ctypes.c_int
    return function


_SYNC_RANGE = _sync_file_range()
_WRITEBACKS = [0]  # ranges handed to the disk by start_writeback(), for writeback_count()


def start_writeback(fd: int, start: int, end: int) -> bool:
    """Start writing the bytes `start:end` of an open file to the disk, without waiting
    for them (a hint: durability is still fsync's). False where the system has no way."""
    if _SYNC_RANGE is None:
        return False
    with _SYNCS_LOCK:
        _WRITEBACKS[0] += 1
    return _SYNC_RANGE(fd, start, end - start, _SYNC_FILE_RANGE_WRITE) == 0


def writeback_count() -> int:
    """Ranges handed to the disk by start_writeback() in this process so far."""
    with _SYNCS_LOCK:
        return _WRITEBACKS[0]


def _after_both(release: Callable[[], None] | None) -> Callable[[], None] | None:
    """`release`, called at the second of two calls (the hasher's and the writer's)."""
    if release is None:
        return None
    calls = [0]
    lock = threading.Lock()

    def done() -> None:
        with lock:
            calls[0] += 1
            last = calls[0] == 2
        if last:
            release()

    return done


class _BackgroundWriter:
    """One thread running `work` on each queued piece, in order, then calling the piece's
    release function (if any). After an error it only drains the queue (so that the
    producer never blocks), still releasing each piece, and keeps the first error."""

    def __init__(self, work: Callable[[memoryview], Any], name: str = "upload-writer") -> None:
        self.work = work
        self.error: Exception | None = None
        self._queue: queue.Queue[tuple[memoryview, Callable[[], None] | None] | None] = queue.Queue(
            BACKGROUND_QUEUE
        )
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        failed = False
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if not failed:
                    self.work(item[0])
            except Exception as error:  # kept for the producer, which raises it
                self.error, failed = error, True
            finally:
                if item is not None and item[1] is not None:
                    item[1]()
                self._queue.task_done()

    def put(self, piece: memoryview, release: Callable[[], None] | None = None) -> None:
        self._queue.put((piece, release))

    def wait(self) -> None:
        self._queue.join()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


class _DirectorySync:
    """The fsync state of one directory, shared by the threads of this process."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.requested = 0  # tickets handed out, one per caller
        self.synced = 0  # every ticket up to this one is covered by a finished fsync
        self.running = False
        self.fsyncs = 0  # fsyncs run, for sync_counts()


_SYNCS: dict[str, _DirectorySync] = {}
_SYNCS_LOCK = threading.Lock()


def sync_counts() -> tuple[int, int]:
    """(directory fsyncs run, callers they covered) in this process so far."""
    with _SYNCS_LOCK:
        states = list(_SYNCS.values())
    return sum(s.fsyncs for s in states), sum(s.requested for s in states)


# Per thread: the directories a `deferred_directory_syncs()` block has yet to sync.
_DEFERRED = threading.local()
_FILE_SYNCS = [0]  # files fsynced by sync_file(), for file_sync_count()


def sync_file(fd: int) -> None:
    """fsync an open file (a read-only descriptor will do: the file's data and inode are
    flushed, whoever wrote them), counted for file_sync_count()."""
    os.fsync(fd)
    with _SYNCS_LOCK:
        _FILE_SYNCS[0] += 1


def file_sync_count() -> int:
    """Files fsynced by sync_file() in this process so far."""
    with _SYNCS_LOCK:
        return _FILE_SYNCS[0]


@contextmanager
def deferred_directory_syncs() -> Iterator[None]:
    """Within the block, this thread's sync_directory() calls (StreamingFile.place's
    included) only note the directory; the block's end syncs each noted directory once.
    For a writer that places many files and then commits their rows (ingest's batches):
    the block ends before the commit, so each committed row's directory entry is durable,
    at one fsync a directory instead of one a file. A block that raises syncs nothing (its
    rows are rolled back, its files removed). Nested blocks join the outer one."""
    if getattr(_DEFERRED, "directories", None) is not None:
        yield
        return
    directories: dict[Path, None] = {}
    _DEFERRED.directories = directories
    try:
        yield
    finally:
        _DEFERRED.directories = None
    for directory in directories:  # not reached when the block raised
        sync_directory(directory)


def sync_directory(directory: Path) -> None:
    """Make the entries renamed into `directory` so far durable, as one group commit
    (inside a deferred_directory_syncs() block: at the block's end).

    A caller takes a ticket after its rename. An fsync that started after that covers
    it; so a caller arriving while an fsync of the same directory runs waits for the next
    one, which one of the waiters runs for all of them: N uploads finishing together in
    one dataset cost two directory fsyncs, not N. An fsync that fails wakes the waiters,
    which try again themselves (and see the error)."""
    deferred = getattr(_DEFERRED, "directories", None)
    if deferred is not None:
        deferred[Path(directory)] = None  # a dict: noted once, in order
        return
    with _SYNCS_LOCK:
        state = _SYNCS.setdefault(str(directory), _DirectorySync())
    with state.changed:
        state.requested += 1
        ticket = state.requested
        while state.synced < ticket:
            if state.running:
                state.changed.wait()
                continue
            state.running, covers = True, state.requested
            state.fsyncs += 1
            state.changed.release()
            try:
                _fsync_dir(directory)
            finally:
                state.changed.acquire()
                state.running = False
                state.changed.notify_all()
            state.synced = max(state.synced, covers)


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
