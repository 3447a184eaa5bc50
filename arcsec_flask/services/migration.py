"""Moving the stored files from one storage backend to the other (`migrate-storage`).

Every row's file is copied from the source backend into the target under the same storage
path, its sha256 computed as it streams and compared with the row's before the copy is
placed: a copy that differs is never placed. A file already in the target with the row's
size and checksum is skipped, so an interrupted run resumes where it stopped, and a run
just before switching copies only what arrived meanwhile. The checksum of a file already
there is the one recorded with it (an S3 object's `sha256` metadata, which this sets) or,
without one, that of its bytes, read. Nothing is removed from the source, and no setting
is changed: the command says what to set.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..repo import datafiles
from ..storage import Backend
from ..storage.s3 import CHECKSUM_KEY, S3Writer

CHUNK = 1024 * 1024


class CopyDiffers(Exception):
    """The bytes read from the source are not those the row describes."""


@dataclass
class MigrationSummary:
    copied: int = 0
    bytes: int = 0
    present: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def migrate(
    conn: sqlite3.Connection,
    source: Backend,
    target: Backend,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> MigrationSummary:
    """Copy every stored file of the rows from `source` into `target` (see the module)."""
    summary = MigrationSummary()
    after = 0
    while page := datafiles.stored_files(conn, after_id=after):
        for row in page:
            try:
                if already_there(target, row):
                    summary.present += 1
                else:
                    copy_one(source, target, row)
                    summary.copied += 1
                    summary.bytes += row["size"]
            except FileNotFoundError:
                summary.failed.append((row["storage_path"], "missing from the source storage"))
            except CopyDiffers as error:
                summary.failed.append((row["storage_path"], str(error)))
            if progress:
                progress(row)
        after = page[-1]["id"]
    return summary


def already_there(target: Backend, row: dict[str, Any]) -> bool:
    relative = row["storage_path"]
    try:
        if target.size(relative) != row["size"]:
            return False
        recorded = target.recorded_checksum(relative)
    except FileNotFoundError:
        return False
    if recorded is None:
        recorded = _sha256(target, relative)
    return recorded == row["checksum"]


def copy_one(source: Backend, target: Backend, row: dict[str, Any]) -> None:
    relative = row["storage_path"]
    with source.open(relative) as reader, target.writer(relative) as writer:
        if isinstance(writer, S3Writer):
            writer.metadata[CHECKSUM_KEY] = row["checksum"]
        while piece := reader.read(CHUNK):
            writer.write(piece)
        writer.finish()
        if (writer.size, writer.checksum) != (row["size"], row["checksum"]):
            raise CopyDiffers(
                f"its bytes ({writer.size} bytes, sha256 {writer.checksum[:12]}...) are not "
                f"those of its row ({row['size']} bytes, sha256 {row['checksum'][:12]}...)"
            )
        writer.place(relative)


def _sha256(backend: Backend, relative: str) -> str:
    digest = hashlib.sha256()
    with backend.open(relative) as reader:
        while piece := reader.read(CHUNK):
            digest.update(piece)
    return digest.hexdigest()
