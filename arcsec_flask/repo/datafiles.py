"""Data files: rows for stored files, with the facts read from their headers."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..exceptions import Conflict, NotFound
from . import derived
from .common import OwnedQuery, insert_row, now, update_row
from .sqlite import transaction

FILTERS = {
    "dataset": "d.uuid = ?",
    "name": "f.name = ?",
    "night_log": "n.uuid = ?",
    "observation": "o.uuid = ?",
    "calibration": "c.uuid = ?",
    "is_raw": "f.is_raw = ?",
}
DUPLICATE = "A file named '{name}' already exists in dataset {dataset}."


def _dump(r: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": r["id"],
        "pk": r["id"],
        "dataset": r["dataset_uuid"],
        "name": r["name"],
        "size": r["size"],
        "checksum": r["checksum"],
        "is_raw": bool(r["is_raw"]),
        "tags": json.loads(r["tags"]),
        "format": r["format"],
        "compression": r["compression"],
        "date_obs": r["date_obs"],
        "observation": r["observation_uuid"],
        "calibration": r["calibration_uuid"],
        "night_log": r["night_log_uuid"],
        "creation_date": r["creation_date"],
        "storage_path": r["storage_path"],
        "content_type": r["content_type"],
    }


QUERY = OwnedQuery(
    columns=(
        "f.id, f.name, f.size, f.checksum, f.is_raw, f.tags, f.format, f.compression,"
        " f.date_obs, f.creation_date, f.storage_path, f.content_type, d.uuid AS dataset_uuid,"
        " o.uuid AS observation_uuid, c.uuid AS calibration_uuid, n.uuid AS night_log_uuid"
    ),
    from_=(
        "datafiles f JOIN datasets d ON d.id = f.dataset_id"
        " LEFT JOIN observations o ON o.id = f.observation_id"
        " LEFT JOIN calibrations c ON c.id = f.calibration_id"
        " LEFT JOIN night_logs n ON n.id = f.night_log_id"
    ),
    alias="f",
    filters=FILTERS,
    dump=_dump,
    owner="d.owner_id",
    key="id",
)
list_ = QUERY.list_
get = QUERY.get


def header(conn: sqlite3.Connection, owner_id: int, file_id: int) -> list[dict[str, Any]]:
    r = conn.execute(
        "SELECT f.header FROM datafiles f JOIN datasets d ON d.id = f.dataset_id"
        " WHERE f.id = ? AND d.owner_id = ?",
        (file_id, owner_id),
    ).fetchone()
    if r is None:
        raise NotFound()
    return json.loads(r["header"])


def name_taken(conn: sqlite3.Connection, dataset_id: int, name: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM datafiles WHERE dataset_id = ? AND name = ?", (dataset_id, name)
    ).fetchone()
    return found is not None


def insert(conn: sqlite3.Connection, owner_id: int, dataset: dict[str, Any], row: dict) -> dict:
    """Insert a file's row and derive its night log, observation or calibration, in one
    transaction. The same name in the same dataset is a Conflict, whoever came first."""
    columns = {**row, "dataset_id": dataset["id"], "creation_date": now()}
    try:
        with transaction(conn):
            file_id = insert_row(conn, "datafiles", columns)
            derived.refresh_files(conn, [file_id], new=True)
    except sqlite3.IntegrityError as error:
        if "datafiles.dataset_id, datafiles.name" in str(error):
            raise Conflict(DUPLICATE.format(name=row["name"], dataset=dataset["uuid"])) from error
        raise
    return get(conn, owner_id, file_id)


def update(conn: sqlite3.Connection, owner_id: int, file_id: int, data: dict) -> dict[str, Any]:
    columns = {}
    if "is_raw" in data:
        columns["is_raw"] = int(data["is_raw"])
    if "tags" in data:
        columns["tags"] = json.dumps(list(dict.fromkeys(data["tags"] or [])))
    with transaction(conn):
        get(conn, owner_id, file_id)
        update_row(conn, "datafiles", file_id, columns)
    return get(conn, owner_id, file_id)


def delete(conn: sqlite3.Connection, owner_id: int, file_id: int) -> str:
    """Delete a file's row and update the derived data; returns the storage path to remove."""
    with transaction(conn):
        found = get(conn, owner_id, file_id)
        conn.execute("DELETE FROM datafiles WHERE id = ?", (file_id,))
        derived.prune(conn)
    return found["storage_path"]


def all_storage_paths(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT storage_path FROM datafiles")}
