"""When a file in a watched folder is complete: pure bookkeeping, no file system access.

A camera (or a copy over the network) writes a frame in pieces; the watcher must not take
it half-written. A file is ready once its size and modification time have stayed the same
for `stable_seconds` since the watcher first saw them so: every observation of a new
(size, mtime) restarts the clock. Once a file has been dealt with (imported, skipped or
refused), the caller may keep its signature (`done`): seeing it again unchanged is not a
reason to take it again, a change is (a refused file is retried only once it has been
rewritten). The watcher keeps only what the database cannot tell it (refused files):
a filed one is forgotten, its row says it is filed (services/watch.py).

The caller stats the files and passes the figures in, with its own clock (`now`, any
monotonic seconds), so that the rules are tested without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

# What acquisition programs, copiers and editors name a file they are still writing.
TEMPORARY_SUFFIXES = (".tmp", ".part", "~")

Signature = tuple[int, int]  # (size in bytes, mtime in nanoseconds)


def is_temporary(relative: str | PurePath) -> bool:
    """Whether a path (relative to the watched folder) is one to leave alone: a dotfile,
    anything inside a dot-folder, or a name ending in .tmp, .part or ~ (any case)."""
    parts = PurePath(relative).parts
    if any(part.startswith(".") for part in parts):
        return True
    return bool(parts) and parts[-1].lower().endswith(TEMPORARY_SUFFIXES)


@dataclass
class _Pending:
    signature: Signature
    since: float


class StabilityTracker:
    """path -> (size, mtime, first seen) -> ready? See the module's docstring."""

    def __init__(self, stable_seconds: float) -> None:
        self.stable_seconds = stable_seconds
        self._pending: dict[str, _Pending] = {}
        self._done: dict[str, Signature] = {}
        self._peaks: dict[str, int] = {}  # the largest size of each since it was copied

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, path: object) -> bool:
        return path in self._pending

    def knows(self, path: str) -> bool:
        """Whether `path` is pending or was dealt with (its signature kept by `done`)."""
        return path in self._pending or path in self._done

    def remembered(self) -> list[str]:
        """The paths dealt with whose signatures are kept (`done`, not forgotten since)."""
        return list(self._done)

    def observe(self, path: str, signature: Signature, now: float) -> bool:
        """Note that `path` is now `signature`; whether it is (still) waiting to settle.

        False when the file was dealt with already and is unchanged since."""
        if self._done.get(path) == signature:
            return False
        pending = self._pending.get(path)
        if pending is None or pending.signature != signature:
            self._pending[path] = _Pending(signature, now)
        return True

    def forget(self, path: str) -> bool:
        """The file is gone: drop it (and what was known of it); whether it was pending."""
        self._done.pop(path, None)
        pending = self._pending.pop(path, None) is not None
        self._shrink()
        return pending

    def due(self, now: float) -> list[str]:
        """The pending paths that have waited long enough to be looked at again."""
        limit = now - self.stable_seconds
        return [path for path, p in self._pending.items() if p.since <= limit]

    def next_due(self) -> float | None:
        """When the earliest pending path becomes due (None: nothing pending)."""
        if not self._pending:
            return None
        return min(p.since for p in self._pending.values()) + self.stable_seconds

    def settled(self, path: str, signature: Signature, now: float) -> bool:
        """Whether `path`, found now as `signature`, is ready to take. If it changed, its
        clock restarts; if it is ready, it stops being pending (call `done` once taken)."""
        pending = self._pending.get(path)
        if pending is None:
            return False
        if pending.signature != signature:
            self._pending[path] = _Pending(signature, now)
            return False
        if now - pending.since < self.stable_seconds:
            return False
        del self._pending[path]
        self._shrink()
        return True

    def done(self, path: str, signature: Signature) -> None:
        """`path` was dealt with as `signature`: ignore it until it changes."""
        self._done[path] = signature

    def _shrink(self) -> None:
        """A dict keeps the table of its largest size (a catch-up's 100,000 pending files,
        some 4 MB) after its entries are removed: copied once it holds a quarter of that."""
        for name in ("_pending", "_done"):
            table: dict[str, object] = getattr(self, name)
            peak = self._peaks.get(name, 0)
            if len(table) > peak:
                self._peaks[name] = len(table)
            elif peak > 1024 and len(table) * 4 < peak:
                setattr(self, name, dict(table))
                self._peaks[name] = len(table)

    def retry_later(self, path: str, signature: Signature, now: float) -> None:
        """Taking it failed for a passing reason (the database was busy): wait again."""
        self._pending[path] = _Pending(signature, now)
