"""The paths watchdog's events name, handed to the watcher's loop (services/watch.py)."""

from __future__ import annotations

import os
import queue

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)

# Events that may mean new bytes at a path. Opening and reading a file (ingest does) and
# attribute changes say nothing new, and are not listened to.
_WRITES = (FileCreatedEvent, FileModifiedEvent, FileClosedEvent)


class PathEvents(FileSystemEventHandler):
    """Hands the paths events name to the watcher's loop (watchdog calls this from its
    own thread); the loop stats them itself, so a lost or late event costs nothing."""

    def __init__(self) -> None:
        self.paths: queue.SimpleQueue[tuple[str, bool]] = queue.SimpleQueue()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if isinstance(event, DirMovedEvent | DirCreatedEvent):
            # A folder made or moved in: its files may have landed before its watch did.
            self.paths.put((_text(event.dest_path or event.src_path), True))
        elif isinstance(event, FileMovedEvent):
            self.paths.put((_text(event.dest_path), False))
        elif isinstance(event, _WRITES):
            self.paths.put((_text(event.src_path), False))


def _text(path: str | bytes) -> str:
    return os.fsdecode(path)
