"""Watching a folder: files each new frame into a dataset once it is complete.

The files go through `services.ingest.ingest_paths` (the upload's own rules: names,
headers, duplicates, night logs), in the mode and with the header readers given. What this
adds: which files to take, and when.

- On start it catches up: every file already under the folder is looked at, as if it had
  just appeared (what arrived while the watcher was down); those already present are
  skipped by ingest's duplicates rule, so nothing is filed twice. Those filed already are
  not read again (same name, same size, not modified since filed: ingest's rule), unless
  `verify`: a restart over a folder of many thousand filed frames costs a stat each.
- File events (watchdog's native observer, inotify on Linux, or its polling observer:
  chosen by `poll`, or when the folder is on a network mount, or when inotify cannot
  start) only say which paths to look at; the folder is rescanned every RESCAN_SECONDS.
  A file is taken once its size and mtime have stayed the same for `stable_seconds`
  (services/stability.py), so a frame still being written is never taken half-way; one
  that vanishes before that is forgotten.
- Temporary names (`is_temporary`: dotfiles, dot-folders, `*.tmp`, `*.part`, `*~`) are left
  alone; a temporary file renamed to its final name is seen under that name.
- A file refused (name taken by another file, unreadable, ...) is reported once and taken
  again only when it changes. A database too busy to write (its lock held past the busy
  timeout) is a passing reason: the files wait and are tried again.
- Memory stays bounded however many files the folder holds: a file filed (imported or
  skipped as present) is not remembered once its row says so by ingest's rule (same name
  and size, not modified since filed); a rescan, or an event, that finds it unchanged asks
  the database (one indexed SELECT) and leaves it alone without a log line. What is kept:
  the files pending (not settled yet) and those refused (until they change or vanish).
  With `verify` every file dealt with is remembered (about 200 bytes each), since that
  rule is the one `verify` does not trust.
- `stop` (set on SIGTERM or Ctrl-C) ends the loop between files: the batch in hand is
  committed (ingest's own rule) and `run` returns; what was not filed yet is caught up
  at the next start. The folder itself vanishing (a share unmounted) raises FolderGone.

One log line per file dealt with goes to the `arcsec_flask.watch` logger.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import stat
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from ..domain.errors import ArcsecError
from ..domain.names import base_name
from ..repo import datafiles
from ..storage import Backend
from . import ingest
from .folder_events import PathEvents
from .mounts import network_file_system
from .stability import Signature, StabilityTracker, is_temporary

log = logging.getLogger("arcsec_flask.watch")

# Files an ingest pass: each pass is committed and logged before the next starts, so that
# the log of a long catch-up keeps up with what is filed.
CHUNK = 50
# The whole folder is looked at again this often, in case events were lost (inotify drops
# them when its queue overflows): files dealt with already cost a stat each.
RESCAN_SECONDS = 600.0


@dataclass(frozen=True)
class WatchTarget:
    """Where the files go, as `ingest` takes them."""

    backend: Backend
    owner_id: int
    dataset: dict[str, Any]
    mode: ingest.Mode = "copy"
    jobs: int = 4
    verify: bool = False  # compare files of taken names by checksum (ingest's docstring)


class FolderGone(ArcsecError):
    """The watched folder no longer exists: the watcher stops (its unit restarts it)."""


class Watcher:
    """`run()` watches `folder` until `stop` is set; see the module's docstring."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        target: WatchTarget,
        folder: Path,
        stable_seconds: float = 5.0,
        poll: bool = False,
        stop: threading.Event | None = None,
        rescan_seconds: float = RESCAN_SECONDS,
    ) -> None:
        self.conn = conn
        self.target = target
        self.folder = folder.absolute()
        self.rescan_seconds = rescan_seconds
        self.stop = stop or threading.Event()
        self.tracker = StabilityTracker(stable_seconds)
        self.events = PathEvents()
        self.tick = min(0.5, max(0.05, stable_seconds / 4))
        # A share another machine writes into sends no inotify events here: poll it.
        self.network = None if poll else network_file_system(self.folder)
        # Tried in turn: file events, else polling (each of watchdog's).
        self.observers: list[Any] = (
            [PollingObserver] if poll or self.network else [Observer, PollingObserver]
        )

    def run(self) -> None:
        if self.network:
            log.warning("%s is on a %s mount: polling it", self.folder, self.network)
        observer = self._start_observer()
        try:
            log.info("catching up on %s", self.folder)
            scanned = time.monotonic()
            # Everything goes to ingest (whose rule skips what is filed, a line each).
            self._look_under(self.folder, scanned, catching_up=True)
            log.info("%d files to look at; then watching for new ones", len(self.tracker))
            while not self.stop.is_set():
                if not self.folder.is_dir():  # a share unmounted, the folder moved away
                    raise FolderGone(f"The watched folder {self.folder} is gone: stopping.")
                now = time.monotonic()
                if now - scanned >= self.rescan_seconds:  # events lost (a queue overflow)
                    scanned = now
                    self.rescan(now)
                self.step(now)
                self.stop.wait(self.tick)
        finally:
            observer.stop()
            observer.join()

    def step(self, now: float) -> None:
        """Look at the paths events named, then file those that have settled."""
        while True:
            try:
                path, is_folder = self.events.paths.get_nowait()
            except queue.Empty:
                break
            if is_folder:
                self._look_under(Path(path), now)
            else:
                self._look_at(Path(path), now)
        ready = []
        for path in self.tracker.due(now):
            signature = _signature(Path(path))
            if signature is None:
                self.tracker.forget(path)
                log.info("gone before it was complete, forgotten: %s", self._shown(path))
            elif self.tracker.settled(path, signature, now):
                ready.append((Path(path), signature))
        for start in range(0, len(ready), CHUNK):
            if self.stop.is_set():
                break
            self._file(ready[start : start + CHUNK], now)

    def rescan(self, now: float) -> None:
        """Look at every file again (events may have been lost); forget the refused files
        that are gone (their deletion sends no event we listen to)."""
        for path in self.tracker.remembered():
            if _signature(Path(path)) is None:
                self.tracker.forget(path)
        self._look_under(self.folder, now)

    def _start_observer(self) -> BaseObserver:
        for kind in self.observers:
            observer = PollingObserver(timeout=self.tick * 2) if kind is PollingObserver else kind()
            try:
                observer.schedule(self.events, str(self.folder), recursive=True)
                observer.start()
            except OSError as error:  # e.g. the inotify watch limit (fs.inotify.*)
                observer.stop()
                log.warning("file events unavailable (%s): polling the folder instead", error)
                continue
            log.info("watching with %s", type(observer).__name__)
            return observer
        raise OSError(f"cannot watch {self.folder}")

    def _look_under(self, folder: Path, now: float, catching_up: bool = False) -> None:
        if self._ignored(folder):
            return
        for path in ingest.files_under(folder):
            self._look_at(path, now, catching_up)

    def _look_at(self, path: Path, now: float, catching_up: bool = False) -> None:
        if self._ignored(path):
            return
        signature = _signature(path)
        if signature is None:
            if self.tracker.forget(str(path)):
                log.info("gone before it was complete, forgotten: %s", self._shown(path))
            return
        known = self.tracker.knows(str(path))
        if not (known or catching_up or self.target.verify) and self._filed_as(path, signature):
            return  # filed, unchanged since: the database remembers it (see the docstring)
        self.tracker.observe(str(path), signature, now)

    def _ignored(self, path: Path) -> bool:
        try:
            relative = path.relative_to(self.folder)
        except ValueError:  # an event outside the folder (a move out of it, say)
            return True
        return is_temporary(relative)

    def _shown(self, path: str | Path) -> str:
        return str(Path(path).relative_to(self.folder))

    def _file(self, ready: list[tuple[Path, Signature]], now: float) -> None:
        """Ingest the settled files together (one pass, batched), then say what became
        of each; if the pass fails, each file is tried alone so one cannot block others."""
        try:
            self._ingest(ready)
        except sqlite3.OperationalError as error:  # busy, locked: try again later
            log.warning("database unavailable (%s): %d files wait", error, len(ready))
            for path, signature in ready:
                self.tracker.retry_later(str(path), signature, now)
        except (OSError, ArcsecError):
            for one in ready:
                if self.stop.is_set():
                    break
                self._file_alone(one, now)

    def _file_alone(self, one: tuple[Path, Signature], now: float) -> None:
        path, signature = one
        try:
            self._ingest([one])
        except sqlite3.OperationalError as error:
            log.warning("database unavailable (%s): %s waits", error, self._shown(path))
            self.tracker.retry_later(str(path), signature, now)
        except FileNotFoundError:
            self.tracker.forget(str(path))
            log.info("gone before it was filed, forgotten: %s", self._shown(path))
        except (OSError, ArcsecError) as error:
            reason = getattr(error, "detail", None) or getattr(error, "strerror", None) or error
            self.tracker.done(str(path), signature)
            log.warning("failed: %s: %s (taken again once it changes)", self._shown(path), reason)

    def _ingest(self, ready: list[tuple[Path, Signature]]) -> None:
        target = self.target
        present = {path: self._present(path) for path, _ in ready}
        summary = ingest.ingest_paths(
            self.conn,
            target.backend,
            target.owner_id,
            target.dataset,
            [path for path, _ in ready],
            mode=target.mode,
            jobs=target.jobs,
            stop=self.stop,
            verify=target.verify,
        )
        refused = dict(summary.refused)
        claimed: set[str] = set()
        for path, signature in ready:
            name = _name(path)
            if str(path) in refused or name is None:
                self.tracker.done(str(path), signature)
                reason = refused.get(str(path), "no usable name")
                log.warning("refused: %s: %s", self._shown(path), reason)
            elif present[path] or name in claimed:
                self._filed(path, signature)
                log.info("skipped, already present: %s", self._shown(path))
            elif (row := datafiles.by_name(self.conn, target.dataset["id"], name)) is None:
                # Not filed: the run was stopped before it (caught up at the next start).
                self.tracker.retry_later(str(path), signature, time.monotonic())
            else:
                claimed.add(name)
                self._filed(path, signature, row)
                self._log_imported(path, row)

    def _present(self, path: Path) -> bool:
        name = _name(path)
        return (
            name is not None
            and datafiles.by_name(self.conn, self.target.dataset["id"], name) is not None
        )

    def _filed(self, path: Path, signature: Signature, row: dict[str, Any] | None = None) -> None:
        """Dealt with, and filed: remembered only when its row cannot vouch for it."""
        if self.target.verify or not self._filed_as(path, signature, row):
            self.tracker.done(str(path), signature)

    def _filed_as(
        self, path: Path, signature: Signature, row: dict[str, Any] | None = None
    ) -> bool:
        """Whether the dataset's file of this name has this size and was filed after this
        mtime: ingest's rule for "already present" without reading (services/ingest.py)."""
        name = _name(path)
        if row is None and name is not None:
            row = datafiles.by_name(self.conn, self.target.dataset["id"], name)
        if row is None or row["size"] != signature[0]:
            return False
        filed = datetime.fromisoformat(row["creation_date"]).timestamp()
        return signature[1] / 1e9 < filed

    def _log_imported(self, path: Path, row: dict[str, Any]) -> None:
        filed = datafiles.get(self.conn, self.target.owner_id, row["id"])
        shown, size = self._shown(path), row["size"]
        if filed["header_status"] == "unreadable":
            log.warning("imported, flagged unreadable: %s: %s", shown, filed["header_error"])
        elif filed["header_status"] == "none":
            log.info("imported (no FITS or XISF header): %s (%d bytes)", shown, size)
        else:
            log.info("imported: %s (%d bytes)", shown, size)


def _name(path: Path) -> str | None:
    """The name its row has (the upload's rule), None for a name ingest refuses."""
    try:
        return base_name(path.name)
    except ArcsecError:
        return None


def _signature(path: Path) -> Signature | None:
    """(size, mtime) of a regular file; None when it is gone (or is not one)."""
    try:
        found = path.stat(follow_symlinks=False)
    except OSError:
        return None
    if not stat.S_ISREG(found.st_mode):
        return None
    return found.st_size, found.st_mtime_ns
