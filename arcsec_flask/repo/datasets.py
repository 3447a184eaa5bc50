"""Datasets."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from . import night_grouping
from .datafiles import Deleted
from .queries import OwnedQuery
from .rows import insert_owned, reference, update_row
from .sqlite import transaction

FILTERS = {
    "name": "d.name = ?",
    "telescope": "d.telescope_id = (SELECT id FROM telescopes WHERE uuid = ?)",
    "tags": "EXISTS (SELECT 1 FROM json_each(d.tags) WHERE json_each.value = ?)",
}


def _dump(r: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": r["id"],
        "uuid": r["uuid"],
        "name": r["name"],
        "description": r["description"],
        "telescope": r["telescope_uuid"],
        "tags": json.loads(r["tags"]),
        "data_files_count": r["data_files_count"],
        "creation_date": r["creation_date"],
    }


QUERY = OwnedQuery(
    columns="d.*, t.uuid AS telescope_uuid",
    from_="datasets d LEFT JOIN telescopes t ON t.id = d.telescope_id",
    alias="d",
    filters=FILTERS,
    dump=_dump,
)
list_ = QUERY.list_
get = QUERY.get


def _columns(conn: sqlite3.Connection, owner_id: int, data: dict[str, Any]) -> dict[str, Any]:
    columns: dict[str, Any] = {k: data[k] for k in ("name", "description") if k in data}
    if "tags" in data:
        columns["tags"] = json.dumps(list(dict.fromkeys(data["tags"] or [])))
    if "telescope" in data:
        columns["telescope_id"] = reference(
            conn, "telescopes", owner_id, "telescope", data["telescope"]
        )
    return columns


def create(conn: sqlite3.Connection, owner_id: int, data: dict[str, Any]) -> dict[str, Any]:
    with transaction(conn):
        uuid = insert_owned(conn, "datasets", owner_id, _columns(conn, owner_id, data))
    return get(conn, owner_id, uuid)


def update(conn: sqlite3.Connection, owner_id: int, uuid: str, data: dict) -> dict[str, Any]:
    with transaction(conn):
        current = get(conn, owner_id, uuid)
        columns = _columns(conn, owner_id, data)
        update_row(conn, "datasets", current["id"], columns)
        if "telescope_id" in columns:
            night_grouping.refresh_files(conn, night_grouping.files_of_dataset(conn, current["id"]))
    return get(conn, owner_id, uuid)


def delete(conn: sqlite3.Connection, owner_id: int, uuid: str) -> Deleted:
    """Delete a dataset and its data files' rows; returns what to remove after."""
    with transaction(conn):
        dataset = get(conn, owner_id, uuid)
        paths = Deleted.of(
            [
                (r[0], r[1])
                for r in conn.execute(
                    "SELECT storage_path, external_path FROM datafiles WHERE dataset_id = ?",
                    (dataset["id"],),
                )
            ]
        )
        conn.execute("DELETE FROM datafiles WHERE dataset_id = ?", (dataset["id"],))
        conn.execute("DELETE FROM datasets WHERE id = ?", (dataset["id"],))
        night_grouping.prune(conn)
    return paths


def writable(conn: sqlite3.Connection, owner_id: int, uuid: str) -> dict[str, Any]:
    """The {"id", "uuid"} of an owner's dataset that files are filed into; a 400 naming the
    `dataset` field for anything else."""
    row_id = reference(conn, "datasets", owner_id, "dataset", uuid)
    return {"id": row_id, "uuid": uuid}
