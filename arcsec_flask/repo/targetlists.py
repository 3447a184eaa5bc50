"""Target lists: some of an owner's targets, in an order the owner chooses.

A list is read with its targets in full, in the list's order; a page of lists reads all
their targets in one more query. Deleting a target takes it out of every list
(target_list_items' ON DELETE CASCADE).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from . import targets
from .queries import OwnedQuery
from .rows import insert_owned, update_row
from .sqlite import transaction


def _dump(r: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": r["id"],
        "uuid": r["uuid"],
        "name": r["name"],
        "description": r["description"],
        "targets": json.loads(r["target_ids"]),  # row ids until _with_targets
        "creation_date": r["creation_date"],
    }


QUERY = OwnedQuery(
    columns=(
        "l.*,"
        " (SELECT json_group_array(target_id) FROM (SELECT i.target_id FROM target_list_items i"
        "  WHERE i.target_list_id = l.id ORDER BY i.position)) AS target_ids"
    ),
    from_="target_lists l",
    alias="l",
    filters={"name": "l.name = ?"},
    dump=_dump,
)


def _with_targets(conn: sqlite3.Connection, lists: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = targets.by_ids(conn, [i for one in lists for i in one["targets"]])
    return [{**one, "targets": [found[i] for i in one["targets"]]} for one in lists]


def list_(
    conn: sqlite3.Connection,
    owner_id: int,
    filters: dict,
    limit: int,
    offset: int = 0,
    after: int | None = None,
    before: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    total, page = QUERY.list_(conn, owner_id, filters, limit, offset, after, before)
    return total, _with_targets(conn, page)


def get(conn: sqlite3.Connection, owner_id: int, uuid: str) -> dict[str, Any]:
    return _with_targets(conn, [QUERY.get(conn, owner_id, uuid)])[0]


def _set_targets(conn: sqlite3.Connection, list_id: int, target_ids: list[int]) -> None:
    conn.execute("DELETE FROM target_list_items WHERE target_list_id = ?", (list_id,))
    conn.executemany(
        "INSERT INTO target_list_items (target_list_id, target_id, position) VALUES (?, ?, ?)",
        [(list_id, target_id, i) for i, target_id in enumerate(target_ids)],
    )


def _columns(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data[k] for k in ("name", "description") if k in data}


def create(conn: sqlite3.Connection, owner_id: int, data: dict[str, Any]) -> dict[str, Any]:
    with transaction(conn):
        target_ids = targets.ids_of(conn, owner_id, "targets", data.get("targets") or [])
        uuid = insert_owned(conn, "target_lists", owner_id, _columns(data))
        _set_targets(conn, QUERY.get(conn, owner_id, uuid)["id"], target_ids)
    return get(conn, owner_id, uuid)


def update(conn: sqlite3.Connection, owner_id: int, uuid: str, data: dict) -> dict[str, Any]:
    """Change some fields; `targets`, when given, replaces the whole list."""
    with transaction(conn):
        current = QUERY.get(conn, owner_id, uuid)
        update_row(conn, "target_lists", current["id"], _columns(data))
        if "targets" in data:
            target_ids = targets.ids_of(conn, owner_id, "targets", data["targets"] or [])
            _set_targets(conn, current["id"], target_ids)
    return get(conn, owner_id, uuid)


def delete(conn: sqlite3.Connection, owner_id: int, uuid: str) -> None:
    with transaction(conn):
        list_id = QUERY.get(conn, owner_id, uuid)["id"]
        conn.execute("DELETE FROM target_lists WHERE id = ?", (list_id,))
