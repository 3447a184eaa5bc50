"""Telescopes."""

from __future__ import annotations

import sqlite3
from typing import Any

from . import night_grouping
from .queries import OwnedQuery
from .rows import insert_owned, reference, update_row
from .sqlite import transaction

FILTERS = {
    "name": "t.name = ?",
    "alias": "t.alias = ?",
    "observing_site": "t.observing_site_id = (SELECT id FROM observing_sites WHERE uuid = ?)",
}


def _dump(r: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": r["id"],
        "uuid": r["uuid"],
        "name": r["name"],
        "alias": r["alias"],
        "observing_site": r["site_uuid"],
        "creation_date": r["creation_date"],
    }


QUERY = OwnedQuery(
    columns="t.*, s.uuid AS site_uuid",
    from_="telescopes t LEFT JOIN observing_sites s ON s.id = t.observing_site_id",
    alias="t",
    filters=FILTERS,
    dump=_dump,
)
list_ = QUERY.list_
get = QUERY.get


def _columns(conn: sqlite3.Connection, owner_id: int, data: dict[str, Any]) -> dict[str, Any]:
    columns: dict[str, Any] = {k: data[k] for k in ("name", "alias") if k in data}
    if "observing_site" in data:
        columns["observing_site_id"] = reference(
            conn, "observing_sites", owner_id, "observing_site", data["observing_site"]
        )
    return columns


def create(conn: sqlite3.Connection, owner_id: int, data: dict[str, Any]) -> dict[str, Any]:
    with transaction(conn):
        uuid = insert_owned(conn, "telescopes", owner_id, _columns(conn, owner_id, data))
    return get(conn, owner_id, uuid)


def update(conn: sqlite3.Connection, owner_id: int, uuid: str, data: dict) -> dict[str, Any]:
    with transaction(conn):
        current = get(conn, owner_id, uuid)
        columns = _columns(conn, owner_id, data)
        update_row(conn, "telescopes", current["id"], columns)
        if "observing_site_id" in columns:
            night_grouping.refresh_files(
                conn, night_grouping.files_of_telescope(conn, current["id"])
            )
    return get(conn, owner_id, uuid)


def delete(conn: sqlite3.Connection, owner_id: int, uuid: str) -> None:
    with transaction(conn):
        telescope = get(conn, owner_id, uuid)
        files = night_grouping.files_of_telescope(conn, telescope["id"])
        conn.execute("DELETE FROM telescopes WHERE id = ?", (telescope["id"],))
        night_grouping.refresh_files(conn, files)
