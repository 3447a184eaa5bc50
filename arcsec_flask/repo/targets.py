"""Targets: what an owner observes, with the count of the owner's observations of each.

An observation is of a target when its target name (the frames' OBJECT) equals the
target's name or identifier, compared lower-case and without spaces: "M 31", "m31" and
"M31" are one target. SQLite's lower() folds ASCII letters only, which covers catalogue
names; both sides go through the same expression, so the comparison stays consistent, and
the index on observations (owner_id, TARGET_KEY) serves it.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..domain.errors import Invalid
from .queries import OwnedQuery
from .rows import insert_owned, update_row
from .sqlite import transaction


def _key(column: str) -> str:
    return f"lower(replace({column}, ' ', ''))"


TARGET_KEY = _key("o.target_name")  # exactly as indexed in schema.sql, or the index is unused


OBSERVATIONS = (
    "(SELECT COUNT(*) FROM observations o WHERE o.owner_id = t.owner_id"
    f" AND {TARGET_KEY} IN ({_key('t.name')}, NULLIF({_key('t.identifier')}, '')))"
)
FILTERS = {
    "name": "t.name = ?",
    "target_class": "t.target_class = ?",
    "tags": "EXISTS (SELECT 1 FROM json_each(t.tags) WHERE json_each.value = ?)",
}


def _dump(r: sqlite3.Row) -> dict[str, Any]:
    coordinates = None
    if r["right_ascension"] is not None:
        coordinates = {"right_ascension": r["right_ascension"], "declination": r["declination"]}
    return {
        "id": r["id"],
        "uuid": r["uuid"],
        "name": r["name"],
        "identifier": r["identifier"],
        "target_class": r["target_class"],
        "coordinates": coordinates,
        "mode": r["mode"],
        "notes": r["notes"],
        "tags": json.loads(r["tags"]),
        "observations_count": r["observations"],
        "creation_date": r["creation_date"],
    }


QUERY = OwnedQuery(
    columns=f"t.*, {OBSERVATIONS} AS observations",
    from_="targets t",
    alias="t",
    filters=FILTERS,
    dump=_dump,
)
list_ = QUERY.list_
get = QUERY.get


def by_ids(conn: sqlite3.Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Targets by row id (any owner's: callers pass ids they read within one owner)."""
    found = conn.execute(
        f"SELECT {QUERY.columns} FROM {QUERY.from_}"
        " WHERE t.id IN (SELECT value FROM json_each(?))",  # no limit on the number of ids
        (json.dumps(ids),),
    )
    return {r["id"]: _dump(r) for r in found}


def ids_of(conn: sqlite3.Connection, owner_id: int, field: str, uuids: list[str]) -> list[int]:
    """The row ids of the owner's targets, in the order given, each once; anything else is
    a 400 on `field`, worded as Django REST framework words it."""
    ids, unknown = [], []
    for uuid in dict.fromkeys(uuids):
        found = conn.execute(
            "SELECT id FROM targets WHERE uuid = ? AND owner_id = ?", (uuid, owner_id)
        ).fetchone()
        if found is None:
            unknown.append(uuid)
        else:
            ids.append(found["id"])
    if unknown:
        raise Invalid(
            f"No target '{unknown[0]}'.",
            {field: [f'Invalid pk "{u}" - object does not exist.' for u in unknown]},
        )
    return ids


def _columns(data: dict[str, Any]) -> dict[str, Any]:
    names = ("name", "identifier", "target_class", "mode", "notes")
    columns: dict[str, Any] = {k: data[k] for k in names if k in data}
    if "coordinates" in data:
        coordinates = data["coordinates"] or {}
        columns["right_ascension"] = coordinates.get("right_ascension")
        columns["declination"] = coordinates.get("declination")
    if "tags" in data:
        columns["tags"] = json.dumps(list(dict.fromkeys(data["tags"] or [])))
    return columns


def create(conn: sqlite3.Connection, owner_id: int, data: dict[str, Any]) -> dict[str, Any]:
    with transaction(conn):
        uuid = insert_owned(conn, "targets", owner_id, _columns(data))
    return get(conn, owner_id, uuid)


def update(conn: sqlite3.Connection, owner_id: int, uuid: str, data: dict) -> dict[str, Any]:
    with transaction(conn):
        update_row(conn, "targets", get(conn, owner_id, uuid)["id"], _columns(data))
    return get(conn, owner_id, uuid)


def delete(conn: sqlite3.Connection, owner_id: int, uuid: str) -> None:
    """Delete a target; the lists holding it lose it (ON DELETE CASCADE)."""
    with transaction(conn):
        conn.execute("DELETE FROM targets WHERE id = ?", (get(conn, owner_id, uuid)["id"],))
