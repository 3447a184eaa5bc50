"""Writing rows: sqlite-utils' Table.insert and Table.update inside our own transaction.

sqlite-utils wraps each write in a SAVEPOINT when a transaction is open, so these join the
caller's `BEGIN IMMEDIATE` (repo/sqlite.py) instead of committing on their own. Table and
column names come from code, never from a client.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlite_utils

from ..domain.errors import Invalid
from ..domain.ids import new_uuid, now


def table(conn: sqlite3.Connection, name: str) -> sqlite_utils.db.Table:
    return sqlite_utils.Database(conn).table(name)


def insert_row(conn: sqlite3.Connection, name: str, columns: dict[str, Any]) -> int:
    """INSERT one row; returns its id."""
    return int(table(conn, name).insert(columns).last_rowid or 0)


def update_row(conn: sqlite3.Connection, name: str, row_id: int, columns: dict[str, Any]) -> None:
    """UPDATE the given columns of one row (nothing to do when there are none)."""
    if columns:
        table(conn, name).update(row_id, columns)


def insert_owned(
    conn: sqlite3.Connection, name: str, owner_id: int, columns: dict[str, Any]
) -> str:
    """INSERT an owned object with a new UUID and its creation date; returns the UUID."""
    uuid = new_uuid()
    insert_row(conn, name, {**columns, "uuid": uuid, "owner_id": owner_id, "creation_date": now()})
    return uuid


def new_owner(conn: sqlite3.Connection, kind: str) -> int:
    return insert_row(conn, "owners", {"kind": kind})


def one(r: sqlite3.Row | None) -> dict[str, Any] | None:
    return dict(r) if r is not None else None


def all_of(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    return [dict(r) for r in cursor]


def reference(
    conn: sqlite3.Connection, name: str, owner_id: int, field: str, uuid: str | None
) -> int | None:
    """The row id a reference field names (None stays None); an object the owner does not
    have is a 400 on that field, as Django REST framework words it."""
    row_id = id_of(conn, name, owner_id, uuid)
    if uuid is not None and row_id is None:
        raise Invalid(
            f"No {field.replace('_', ' ')} '{uuid}'.",
            {field: [f'Invalid pk "{uuid}" - object does not exist.']},
        )
    return row_id


def id_of(conn: sqlite3.Connection, name: str, owner_id: int, uuid: str | None) -> int | None:
    """The row id of an object of table `name` owned by `owner_id`, or None."""
    if uuid is None:
        return None
    found = conn.execute(
        f"SELECT id FROM {name} WHERE uuid = ? AND owner_id = ?", (str(uuid), owner_id)
    ).fetchone()
    return found["id"] if found else None
