"""Data packages: datasets of one owner handed over together, and what their archive holds.

`size` and `data_files_count` are read from the files of the package's datasets when the
package is read, so they stay right as files come and go. Public packages are read by
anyone: `owner_id=None` means "every owner's public packages".
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from typing import Any

from ..domain.errors import Invalid
from .queries import OwnedQuery
from .rows import insert_owned, update_row
from .sqlite import transaction

# Summed from the datasets' kept counts (schema.sql's triggers), not from their files.
DATASETS_OF_PACKAGE = (
    "FROM datasets d JOIN datapackage_datasets pd ON pd.dataset_id = d.id"
    " WHERE pd.datapackage_id = p.id"
)


def _dump(r: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": r["id"],
        "uuid": r["uuid"],
        "name": r["name"],
        "description": r["description"],
        "datasets": json.loads(r["dataset_uuids"]),
        "is_public": bool(r["is_public"]),
        "data_files_count": r["files"],
        "size": r["bytes"],
        "owner_id": r["owner_id"],
        "creation_date": r["creation_date"],
    }


QUERY = OwnedQuery(
    columns=(
        "p.*,"
        " (SELECT json_group_array(uuid) FROM (SELECT d.uuid FROM datapackage_datasets pd"
        "  JOIN datasets d ON d.id = pd.dataset_id WHERE pd.datapackage_id = p.id"
        "  ORDER BY pd.position)) AS dataset_uuids,"
        f" (SELECT IFNULL(SUM(d.data_files_count), 0) {DATASETS_OF_PACKAGE}) AS files,"
        f" (SELECT IFNULL(SUM(d.data_files_size), 0) {DATASETS_OF_PACKAGE}) AS bytes"
    ),
    from_="datapackages p",
    alias="p",
    filters={"name": "p.name = ?", "is_public": "p.is_public = ?"},
    dump=_dump,
)
# Without a key: the public packages of every owner ("p.is_public = 1").
PUBLIC = replace(QUERY, owner="p.is_public = ?")


def list_(
    conn: sqlite3.Connection,
    owner_id: int | None,
    filters: dict,
    limit: int,
    offset: int = 0,
    after: int | None = None,
    before: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    if owner_id is None:
        return PUBLIC.list_(conn, 1, filters, limit, offset, after, before)
    return QUERY.list_(conn, owner_id, filters, limit, offset, after, before)


def get(conn: sqlite3.Connection, owner_id: int | None, uuid: str) -> dict[str, Any]:
    return PUBLIC.get(conn, 1, uuid) if owner_id is None else QUERY.get(conn, owner_id, uuid)


def _dataset_ids(conn: sqlite3.Connection, owner_id: int, uuids: list[str]) -> list[int]:
    """The row ids of the owner's datasets, in the order given; anything else is a 400."""
    ids, unknown = [], []
    for uuid in dict.fromkeys(uuids):
        found = conn.execute(
            "SELECT id FROM datasets WHERE uuid = ? AND owner_id = ?", (uuid, owner_id)
        ).fetchone()
        if found is None:
            unknown.append(uuid)
        else:
            ids.append(found["id"])
    if unknown:
        raise Invalid(
            f"No dataset '{unknown[0]}'.",
            {"datasets": [f'Invalid pk "{u}" - object does not exist.' for u in unknown]},
        )
    return ids


def _set_datasets(conn: sqlite3.Connection, package_id: int, dataset_ids: list[int]) -> None:
    conn.execute("DELETE FROM datapackage_datasets WHERE datapackage_id = ?", (package_id,))
    conn.executemany(
        "INSERT INTO datapackage_datasets (datapackage_id, dataset_id, position) VALUES (?, ?, ?)",
        [(package_id, dataset_id, i) for i, dataset_id in enumerate(dataset_ids)],
    )


def _columns(data: dict[str, Any]) -> dict[str, Any]:
    columns: dict[str, Any] = {k: data[k] for k in ("name", "description") if k in data}
    if "is_public" in data:
        columns["is_public"] = int(bool(data["is_public"]))
    return columns


def create(conn: sqlite3.Connection, owner_id: int, data: dict[str, Any]) -> dict[str, Any]:
    with transaction(conn):
        dataset_ids = _dataset_ids(conn, owner_id, data.get("datasets") or [])
        uuid = insert_owned(conn, "datapackages", owner_id, _columns(data))
        _set_datasets(conn, QUERY.get(conn, owner_id, uuid)["id"], dataset_ids)
    return get(conn, owner_id, uuid)


def update(conn: sqlite3.Connection, owner_id: int, uuid: str, data: dict) -> dict[str, Any]:
    with transaction(conn):
        current = QUERY.get(conn, owner_id, uuid)
        update_row(conn, "datapackages", current["id"], _columns(data))
        if "datasets" in data:
            _set_datasets(conn, current["id"], _dataset_ids(conn, owner_id, data["datasets"]))
    return get(conn, owner_id, uuid)


def delete(conn: sqlite3.Connection, owner_id: int, uuid: str) -> None:
    with transaction(conn):
        conn.execute(
            "DELETE FROM datapackages WHERE id = ?", (QUERY.get(conn, owner_id, uuid)["id"],)
        )


def archive_files(conn: sqlite3.Connection, package_id: int) -> list[dict[str, Any]]:
    """Every stored file of a package, dataset by dataset in the package's order, then in
    upload order: its dataset's name, its own name, storage path, size and upload date."""
    return [
        dict(r)
        for r in conn.execute(
            "SELECT d.name AS dataset_name, f.name, f.storage_path, f.external_path,"
            " f.size, f.creation_date"
            " FROM datapackage_datasets pd JOIN datasets d ON d.id = pd.dataset_id"
            " JOIN datafiles f ON f.dataset_id = d.id"
            " WHERE pd.datapackage_id = ? ORDER BY pd.position, f.id",
            (package_id,),
        )
    ]
