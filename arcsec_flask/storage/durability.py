"""Getting a stored file's bytes to the disk: the threads that hash and write a large
upload as it arrives, the writeback started as it is written, and the fsyncs of files and
directories (grouped per folder for a batch) that come before a row commits."""

from __future__ import annotations

import ctypes
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

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


def after_both(release: Callable[[], None] | None) -> Callable[[], None] | None:
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


class BackgroundWriter:
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
