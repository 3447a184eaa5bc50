"""Derived data against what the data files say: night logs, observations, calibrations;
and the rows `arcsec-flask check` compares with the stored files.

The derived rows are recomputed from the files' own facts (night_grouping.refresh_files
on every file, then prune); what changed is the drift. Both a check and a repair go in
batches, each its own write transaction (BEGIN IMMEDIATE) held for HOLD_S at most (or
BATCH files), so that a server's uploads beside them wait for one batch (a fraction of a
second), never for the whole store: a check rolls each batch back, a repair commits it,
then prunes the groups no file uses in one last transaction. A repair is safe to
interrupt and run again: each batch commits files whose links are recomputed from their
own facts (a file's links depend on its facts and on the groups, never on other files),
and what an interrupted repair left (groups emptied, not pruned yet) is what the next
one finds and prunes. The counts the lists show (data_files_count, and a dataset's
data_files_size) are kept in the parent rows by schema.sql's triggers; `count_drift`
compares them with a recount.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from . import night_grouping
from .sqlite import COUNTED, transaction

GROUPS = ("night_logs", "observations", "calibrations")
COLUMNS = {"night_log_id": "night log", "observation_id": "observation",
           "calibration_id": "calibration"}  # fmt: skip


class _DryRun(Exception):
    """Raised to roll a check's batch back."""


BATCH = 10_000  # files recomputed at most per write transaction of a check or a repair
CHUNK = 250  # files recomputed at a time within a batch
# A batch takes chunks until it has held the write lock this long (or has BATCH files):
# an upload beside it waits a fraction of a second, on a fast machine or a loaded one.
HOLD_S = 0.3
# Between two batches: SQLite's lock is not a queue, and a writer waiting on its busy
# timeout polls it every 100 ms at most, so without a pause longer than that it may never
# find the lock free between one batch's COMMIT and the next BEGIN (measured: bench/repair.py).
# A fixed 500 files a batch spent most of a repair in these pauses on an idle machine
# (100,000 files: 4.8 s of work, 24 s of pauses); batches held for HOLD_S spend about
# PAUSE_S / HOLD_S more than the work itself.
PAUSE_S = 0.12


def derived_drift(
    conn: sqlite3.Connection,
    repair: bool = False,
    batch: int = BATCH,
    pause_s: float = PAUSE_S,
    hold_s: float = HOLD_S,
) -> dict[str, Any]:
    """{"files": [{"id", "dataset", "name", "fields"}...] whose derived links were wrong,
    "empty": {table: count} of groups no file uses}; committed only with `repair`.
    A write transaction recomputes at most `batch` files, and takes no more chunks once it
    has held the lock `hold_s`; `pause_s` between two lets other writers in (PAUSE_S)."""
    if repair:
        return _repair(conn, batch, pause_s, hold_s)
    return _dry_run(conn, batch, pause_s, hold_s)


class _Batch:
    """One write transaction's share of the files: chunks of at most CHUNK, until the
    batch holds `size` files or has held the lock `hold_s` (at least one chunk)."""

    def __init__(self, size: int, hold_s: float) -> None:
        self.size, self.hold_s = size, hold_s
        self.began = time.monotonic()
        self.taken = 0

    def next_size(self) -> int:
        """How many files the next chunk may take; 0 when the batch is done."""
        if self.taken and time.monotonic() - self.began >= self.hold_s:
            return 0
        return max(0, min(CHUNK, self.size - self.taken))


def _repair(
    conn: sqlite3.Connection, batch_size: int, pause_s: float, hold_s: float
) -> dict[str, Any]:
    """Recomputed and committed batch by batch, in id order (a file uploaded meanwhile is
    derived by its upload, and recomputed if its id comes later), then pruned: the groups
    the last transaction removes are the empty ones."""
    files: list[dict[str, Any]] = []
    after_id = 0

    def take(size: int) -> tuple[list[int], bool]:
        nonlocal after_id
        query = "SELECT id FROM datafiles WHERE id > ? ORDER BY id LIMIT ?"
        chunk = [r[0] for r in conn.execute(query, (after_id, size))]
        after_id = chunk[-1] if chunk else after_id
        return chunk, len(chunk) == size  # a full chunk: more may follow

    def work(chunk: list[int]) -> None:
        _recompute(conn, chunk, files)

    _in_batches(conn, take, work, batch_size, pause_s, hold_s, commit=True)
    with transaction(conn):
        groups_before = _groups(conn)
        night_grouping.prune(conn)
        groups_after = _groups(conn)
    empty = {t: len(groups_before[t] - groups_after[t]) for t in GROUPS}
    return {"files": files, "empty": {t: n for t, n in empty.items() if n}}


def _dry_run(
    conn: sqlite3.Connection, batch_size: int, pause_s: float, hold_s: float
) -> dict[str, Any]:
    """The drift without changing anything, in rolled-back batches. A group is empty when
    no file's recomputed link points to it and prune would drop it: the same answer as
    recomputing everything at once (a file's links depend on its own facts and on the
    groups, never on other files)."""
    file_ids = [r[0] for r in conn.execute("SELECT id FROM datafiles ORDER BY id")]
    groups_before = _groups(conn)
    kept = {
        r[0] for r in conn.execute("SELECT id FROM night_logs WHERE notes != '' OR by_hand != 0")
    }
    used: dict[str, set[int]] = {t: set() for t in GROUPS}
    files: list[dict[str, Any]] = []
    at = 0

    def take(size: int) -> tuple[list[int], bool]:
        nonlocal at
        chunk, at = file_ids[at : at + size], min(at + size, len(file_ids))
        return chunk, at < len(file_ids)

    def work(chunk: list[int]) -> None:
        for link in _recompute(conn, chunk, files).values():
            for table, group_id in zip(GROUPS, link, strict=True):
                if group_id is not None:
                    used[table].add(group_id)

    _in_batches(conn, take, work, batch_size, pause_s, hold_s, commit=False)
    empty = {t: len(groups_before[t] - used[t] - (kept if t == "night_logs" else set()))
             for t in GROUPS}  # fmt: skip
    return {"files": files, "empty": {t: n for t, n in empty.items() if n}}


def _in_batches(
    conn: sqlite3.Connection,
    take: Callable[[int], tuple[list[int], bool]],
    work: Callable[[list[int]], None],
    batch_size: int,
    pause_s: float,
    hold_s: float,
    commit: bool,
) -> None:
    """`work` on the file ids `take(n)` hands out (at most n, and whether more may follow),
    chunk by chunk, in write transactions of _Batch's size, committed or (a check) rolled
    back; `pause_s` between two lets other writers in."""
    more = True
    while more:
        try:
            with transaction(conn):
                batch = _Batch(batch_size, hold_s)
                while more and (size := batch.next_size()):
                    chunk, more = take(size)
                    if chunk:
                        work(chunk)
                        batch.taken += len(chunk)
                if not commit:
                    raise _DryRun()
        except _DryRun:
            pass
        if more:
            time.sleep(pause_s)


def _recompute(
    conn: sqlite3.Connection, chunk: list[int], files: list[dict[str, Any]]
) -> dict[int, tuple[Any, ...]]:
    """Recompute these files' links (no prune: the caller's), add those that changed to
    `files`; their links after."""
    before = _links(conn, chunk)
    night_grouping.refresh_files(conn, chunk, new=True)
    after = _links(conn, chunk)
    files += _changed(conn, before, after)
    return after


def _links(
    conn: sqlite3.Connection, file_ids: list[int] | None = None
) -> dict[int, tuple[Any, ...]]:
    """{file id: (night log, observation, calibration ids)} of these files, or of all."""
    query = f"SELECT id, {', '.join(COLUMNS)} FROM datafiles"
    if file_ids is None:
        return {r[0]: tuple(r[1:]) for r in conn.execute(f"{query} ORDER BY id")}
    marks = ", ".join("?" * len(file_ids))
    rows = conn.execute(f"{query} WHERE id IN ({marks}) ORDER BY id", file_ids)
    return {r[0]: tuple(r[1:]) for r in rows}


def _groups(conn: sqlite3.Connection) -> dict[str, set[int]]:
    return {t: {r[0] for r in conn.execute(f"SELECT id FROM {t}")} for t in GROUPS}


def _changed(
    conn: sqlite3.Connection,
    before: dict[int, tuple[Any, ...]],
    after: dict[int, tuple[Any, ...]],
) -> list[dict[str, Any]]:
    """The files whose links differ, with the links that do."""
    files = []
    for file_id, was in before.items():
        now = after[file_id]
        if was != now:
            row = conn.execute(
                "SELECT f.name, d.uuid FROM datafiles f JOIN datasets d ON d.id = f.dataset_id"
                " WHERE f.id = ?",
                (file_id,),
            ).fetchone()
            fields = [
                label for (label, a, b) in zip(COLUMNS.values(), was, now, strict=True) if a != b
            ]
            files.append({"id": file_id, "dataset": row[1], "name": row[0], "fields": fields})
    return files


class FileRow(NamedTuple):
    """What a check needs of a data file row (small: a store may hold millions)."""

    id: int
    storage_path: str
    external_path: str | None
    size: int
    checksum: str


def file_rows(conn: sqlite3.Connection) -> list[FileRow]:
    """Every data file row, in the storage folder or in place."""
    query = "SELECT id, storage_path, external_path, size, checksum FROM datafiles ORDER BY id"
    return [FileRow(*r) for r in conn.execute(query)]


def describe(conn: sqlite3.Connection, file_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """{id: {"id", "dataset", "name"}} of the files that still exist (for a report)."""
    found = {}
    for file_id in file_ids:
        row = conn.execute(
            "SELECT f.id, d.uuid, f.name FROM datafiles f JOIN datasets d ON d.id = f.dataset_id"
            " WHERE f.id = ?",
            (file_id,),
        ).fetchone()
        if row is not None:
            found[row[0]] = {"id": row[0], "dataset": row[1], "name": row[2]}
    return found


def referenced(conn: sqlite3.Connection, storage_path: str) -> bool:
    """Whether a row refers to this storage path now (asked again just before a repair)."""
    query = "SELECT 1 FROM datafiles WHERE storage_path = ?"
    return conn.execute(query, (storage_path,)).fetchone() is not None


# The kept counts: (table, column, what the column holds of the table's data files, the
# data files' link to the table). schema.sql's triggers keep them; migration 6 filled them.
KEPT_COUNTS = [
    *((table, "data_files_count", "COUNT(*)", link) for table, link in COUNTED.items()),
    ("datasets", "data_files_size", "IFNULL(SUM(f.size), 0)", "dataset_id"),
]


def count_drift(conn: sqlite3.Connection, repair: bool = False) -> list[dict[str, Any]]:
    """[{"table", "id", "column", "stored", "actual"}...] of the kept counts that differ from
    a recount of their files; with `repair`, rewritten, in one transaction."""
    found: list[dict[str, Any]] = []
    with transaction(conn):  # one snapshot for every count, and the repair in it
        for table, column, value, link in KEPT_COUNTS:
            actual = f"(SELECT {value} FROM datafiles f WHERE f.{link} = {table}.id)"
            wrong = conn.execute(
                f"SELECT id, {column}, {actual} FROM {table} WHERE {column} IS NOT {actual}"
            ).fetchall()
            found += [
                {"table": table, "id": r[0], "column": column, "stored": r[1], "actual": r[2]}
                for r in wrong
            ]
            if repair and wrong:
                conn.execute(
                    f"UPDATE {table} SET {column} = {actual} WHERE {column} IS NOT {actual}"
                )
    return found
