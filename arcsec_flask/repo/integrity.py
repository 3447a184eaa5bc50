"""Derived data against what the data files say: night logs, observations, calibrations.

The derived rows are recomputed from the files' own facts (night_grouping.refresh_files on
every file, then prune) inside one write transaction; what changed is the drift. Without
`repair` the transaction is rolled back, so a check changes nothing. The counts the API
shows (data_files_count, size) are computed by the queries, never stored: nothing to drift.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from . import night_grouping
from .sqlite import transaction

GROUPS = ("night_logs", "observations", "calibrations")
COLUMNS = {"night_log_id": "night log", "observation_id": "observation",
           "calibration_id": "calibration"}  # fmt: skip


class _DryRun(Exception):
    """Raised to roll the recomputation back."""


def derived_drift(conn: sqlite3.Connection, repair: bool = False) -> dict[str, Any]:
    """{"files": [{"id", "dataset", "name", "fields"}...] whose derived links were wrong,
    "empty": {table: count} of groups no file uses}; committed only with `repair`."""
    found: dict[str, Any] = {}
    try:
        with transaction(conn):
            before, groups_before = _links(conn), _groups(conn)
            night_grouping.refresh_files(conn, list(before))
            after, groups_after = _links(conn), _groups(conn)
            found = _diff(conn, before, after, groups_before, groups_after)
            if not repair:
                raise _DryRun()
    except _DryRun:
        pass
    return found


def _links(conn: sqlite3.Connection) -> dict[int, tuple[Any, ...]]:
    query = f"SELECT id, {', '.join(COLUMNS)} FROM datafiles ORDER BY id"
    return {r[0]: tuple(r[1:]) for r in conn.execute(query)}


def _groups(conn: sqlite3.Connection) -> dict[str, set[int]]:
    return {t: {r[0] for r in conn.execute(f"SELECT id FROM {t}")} for t in GROUPS}


def _diff(
    conn: sqlite3.Connection,
    before: dict[int, tuple[Any, ...]],
    after: dict[int, tuple[Any, ...]],
    groups_before: dict[str, set[int]],
    groups_after: dict[str, set[int]],
) -> dict[str, Any]:
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
    # Groups that existed and are gone after the recomputation held no file (or only
    # wrongly linked ones, counted above): they were left behind.
    empty = {t: len(groups_before[t] - groups_after[t]) for t in GROUPS}
    return {"files": files, "empty": {t: n for t, n in empty.items() if n}}
