"""Night logs, observations and calibrations: derived from the data files.

Each data file keeps its own facts (observation time, frame kind, target, type).
Everything else follows from them, the dataset's telescope and the site's time
zone, and is recomputed here whenever one of those changes. Callers run these
inside their write transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


@dataclass(frozen=True)
class Setting:
    """What a dataset's files are grouped by besides their own facts: the dataset's owner,
    its telescope and the time zone of the telescope's site (None when it has none)."""

    owner_id: int
    telescope_id: int | None
    time_zone: str | None


@dataclass(frozen=True)
class Groups:
    """The night log, observation and calibration of one file: (id, uuid) or None each."""

    night_log: tuple[int, str] | None = None
    observation: tuple[int, str] | None = None
    calibration: tuple[int, str] | None = None


def setting_of(conn: sqlite3.Connection, dataset_id: int) -> Setting | None:
    """The dataset's Setting; None when there is no such dataset. Valid for as long as the
    caller's write transaction holds (a batch of files looks it up once)."""
    found = conn.execute(
        "SELECT d.owner_id, d.telescope_id, s.time_zone FROM datasets d"
        " LEFT JOIN telescopes t ON t.id = d.telescope_id"
        " LEFT JOIN observing_sites s ON s.id = t.observing_site_id"
        " WHERE d.id = ?",
        (dataset_id,),
    ).fetchone()
    return Setting(found[0], found[1], found[2]) if found is not None else None


def groups_of(
    conn: sqlite3.Connection,
    setting: Setting,
    dataset_id: int,
    facts: Mapping[str, Any] | sqlite3.Row,
) -> Groups:
    """Get or create the groups of a file of the dataset with these facts (its date_obs,
    frame_kind, calibration_type and target_name, as its row holds them)."""
    kind = facts["frame_kind"]
    if kind is None:
        return Groups()
    night_log = None
    if setting.telescope_id and setting.time_zone and facts["date_obs"]:
        night = night_date(datetime.fromisoformat(facts["date_obs"]), setting.time_zone)
        night_log = _night_log(conn, setting.owner_id, setting.telescope_id, night.isoformat())
    # Without a night log, files are grouped per dataset instead.
    night_log_id = night_log[0] if night_log else None
    grouped_in = None if night_log else dataset_id
    if kind == "calibration":
        calibration_type = facts["calibration_type"]
        calibration = _group(
            conn,
            "calibrations",
            "type",
            calibration_type,
            calibration_type,
            setting.owner_id,
            night_log_id,
            grouped_in,
        )
        return Groups(night_log, calibration=calibration)
    target = facts["target_name"] or ""
    observation = _group(
        conn,
        "observations",
        "target_name",
        target,
        target or "Unknown target",
        setting.owner_id,
        night_log_id,
        grouped_in,
    )
    return Groups(night_log, observation=observation)


def _attach(conn: sqlite3.Connection, f: sqlite3.Row) -> None:
    setting = Setting(f["owner_id"], f["telescope_id"], f["time_zone"])
    groups = groups_of(conn, setting, f["dataset_id"], f)
    conn.execute(
        "UPDATE datafiles SET night_log_id = ?, observation_id = ?, calibration_id = ?"
        " WHERE id = ?",
        (*group_ids(groups), f["id"]),
    )


def group_ids(groups: Groups) -> tuple[int | None, int | None, int | None]:
    """(night_log_id, observation_id, calibration_id)."""
    return _id(groups.night_log), _id(groups.observation), _id(groups.calibration)


def _id(group: tuple[int, str] | None) -> int | None:
    return group[0] if group else None


def _night_log(
    conn: sqlite3.Connection, owner_id: int, telescope_id: int, date: str
) -> tuple[int, str]:
    # Looked up first: it exists for all but a night's first file, and an INSERT OR IGNORE
    # that is ignored still costs a new uuid and timestamp. Inside the caller's write
    # transaction nobody else can add it between the two.
    find = "SELECT id, uuid FROM night_logs WHERE owner_id = ? AND telescope_id = ? AND date = ?"
    found = conn.execute(find, (owner_id, telescope_id, date)).fetchone()
    if found is None:
        conn.execute(
            "INSERT OR IGNORE INTO night_logs (uuid, owner_id, telescope_id, date, creation_date)"
            " VALUES (?, ?, ?, ?, ?)",
            (new_uuid(), owner_id, telescope_id, date, now()),
        )
        found = conn.execute(find, (owner_id, telescope_id, date)).fetchone()
    return found[0], found[1]


def _group(
    conn: sqlite3.Connection,
    table: str,
    key_column: str,
    key: str,
    name: str,
    owner_id: int,
    night_log_id: int | None,
    dataset_id: int | None,
) -> tuple[int, str]:
    """Get or create the observation/calibration of (owner, night log or dataset, key)."""
    find = (
        f"SELECT id, uuid FROM {table} WHERE owner_id = ? AND IFNULL(night_log_id, 0) = ?"
        f" AND IFNULL(dataset_id, 0) = ? AND {key_column} = ?"
    )
    where = (owner_id, night_log_id or 0, dataset_id or 0, key)
    found = conn.execute(find, where).fetchone()
    if found is None:
        conn.execute(
            f"INSERT OR IGNORE INTO {table}"
            f" (uuid, owner_id, night_log_id, dataset_id, name, {key_column}, creation_date)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (new_uuid(), owner_id, night_log_id, dataset_id, name, key, now()),
        )
        found = conn.execute(find, where).fetchone()
    return found[0], found[1]


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
