"""Night logs, observations and calibrations: derived from the data files.

Each data file keeps its own facts (observation time, frame kind, target, type).
Everything else follows from them, the dataset's telescope and the site's time
zone, and is recomputed here whenever one of those changes. Callers run these
inside their write transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime

from ..domain.ids import new_uuid, now
from ..domain.nights import night_date

FILE_FACTS = (
    "SELECT f.id, f.dataset_id, f.date_obs, f.frame_kind, f.calibration_type, f.target_name,"
    " d.owner_id, d.telescope_id, s.time_zone"
    " FROM datafiles f JOIN datasets d ON d.id = f.dataset_id"
    " LEFT JOIN telescopes t ON t.id = d.telescope_id"
    " LEFT JOIN observing_sites s ON s.id = t.observing_site_id"
    " WHERE f.id = ?"
)


def files_of_dataset(conn: sqlite3.Connection, dataset_id: int) -> list[int]:
    return [
        r[0] for r in conn.execute("SELECT id FROM datafiles WHERE dataset_id = ?", (dataset_id,))
    ]


def files_of_telescope(conn: sqlite3.Connection, telescope_id: int) -> list[int]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT f.id FROM datafiles f JOIN datasets d ON d.id = f.dataset_id"
            " WHERE d.telescope_id = ?",
            (telescope_id,),
        )
    ]


def files_of_site(conn: sqlite3.Connection, site_id: int) -> list[int]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT f.id FROM datafiles f JOIN datasets d ON d.id = f.dataset_id"
            " JOIN telescopes t ON t.id = d.telescope_id WHERE t.observing_site_id = ?",
            (site_id,),
        )
    ]


def refresh_files(conn: sqlite3.Connection, file_ids: Iterable[int], new: bool = False) -> None:
    """Recompute the night log, observation and calibration of each file, then drop
    the derived rows no file uses any more (not needed for `new` files: adding a
    file never empties a group, and pruning scans the derived tables)."""
    for file_id in file_ids:
        facts = conn.execute(FILE_FACTS, (file_id,)).fetchone()
        if facts is not None:
            _attach(conn, facts)
    if not new:
        prune(conn)


def _attach(conn: sqlite3.Connection, f: sqlite3.Row) -> None:
    night_log_id = observation_id = calibration_id = None
    if f["frame_kind"] is not None:
        if f["telescope_id"] and f["time_zone"] and f["date_obs"]:
            night = night_date(datetime.fromisoformat(f["date_obs"]), f["time_zone"])
            night_log_id = _night_log(conn, f["owner_id"], f["telescope_id"], night.isoformat())
        # Without a night log, files are grouped per dataset instead.
        dataset_id = None if night_log_id else f["dataset_id"]
        if f["frame_kind"] == "calibration":
            calibration_id = _group(
                conn,
                "calibrations",
                "type",
                f["calibration_type"],
                f["calibration_type"],
                f["owner_id"],
                night_log_id,
                dataset_id,
            )
        else:
            target = f["target_name"] or ""
            observation_id = _group(
                conn,
                "observations",
                "target_name",
                target,
                target or "Unknown target",
                f["owner_id"],
                night_log_id,
                dataset_id,
            )
    conn.execute(
        "UPDATE datafiles SET night_log_id = ?, observation_id = ?, calibration_id = ?"
        " WHERE id = ?",
        (night_log_id, observation_id, calibration_id, f["id"]),
    )


def _night_log(conn: sqlite3.Connection, owner_id: int, telescope_id: int, date: str) -> int:
    conn.execute(
        "INSERT OR IGNORE INTO night_logs (uuid, owner_id, telescope_id, date, creation_date)"
        " VALUES (?, ?, ?, ?, ?)",
        (new_uuid(), owner_id, telescope_id, date, now()),
    )
    return conn.execute(
        "SELECT id FROM night_logs WHERE owner_id = ? AND telescope_id = ? AND date = ?",
        (owner_id, telescope_id, date),
    ).fetchone()[0]


def _group(
    conn: sqlite3.Connection,
    table: str,
    key_column: str,
    key: str,
    name: str,
    owner_id: int,
    night_log_id: int | None,
    dataset_id: int | None,
) -> int:
    """Get or create the observation/calibration of (owner, night log or dataset, key)."""
    conn.execute(
        f"INSERT OR IGNORE INTO {table}"
        f" (uuid, owner_id, night_log_id, dataset_id, name, {key_column}, creation_date)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (new_uuid(), owner_id, night_log_id, dataset_id, name, key, now()),
    )
    return conn.execute(
        f"SELECT id FROM {table} WHERE owner_id = ? AND IFNULL(night_log_id, 0) = ?"
        f" AND IFNULL(dataset_id, 0) = ? AND {key_column} = ?",
        (owner_id, night_log_id or 0, dataset_id or 0, key),
    ).fetchone()[0]


def prune(conn: sqlite3.Connection) -> None:
    """Drop observations, calibrations and night logs no file uses (a night log with notes,
    or made by hand, is kept)."""
    for table, column in (("observations", "observation_id"), ("calibrations", "calibration_id")):
        conn.execute(
            f"DELETE FROM {table} WHERE NOT EXISTS"
            f" (SELECT 1 FROM datafiles WHERE datafiles.{column} = {table}.id)"
        )
    conn.execute(
        "DELETE FROM night_logs WHERE notes = '' AND by_hand = 0 AND NOT EXISTS"
        " (SELECT 1 FROM datafiles WHERE datafiles.night_log_id = night_logs.id)"
    )
