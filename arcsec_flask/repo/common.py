"""Small helpers shared by the repository modules."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..exceptions import Invalid, NotFound


def now() -> str:
    """The current time as ISO 8601 UTC with a Z, as Django REST framework writes it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_uuid() -> str:
    return str(uuid.uuid4())


def new_owner(conn: sqlite3.Connection, kind: str) -> int:
    return conn.execute("INSERT INTO owners (kind) VALUES (?)", (kind,)).lastrowid


def row(r: sqlite3.Row | None) -> dict[str, Any] | None:
    return dict(r) if r is not None else None


def rows(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    return [dict(r) for r in cursor]


def canonical_uuid(value: str) -> str | None:
    """A lower-case hyphenated UUID, or None when `value` is not one."""
    try:
        parsed = uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None
    text = str(parsed)
    return text if text == value else None


@dataclass(frozen=True)
class OwnedQuery:
    """How one kind of owned object is read: listed with exact filters, or got by its key.

    `columns` and `from_` make the SELECT; `alias` names the table whose `key` column
    identifies an object and whose `id` orders the list (creation order); `owner` is the
    column holding the owner (default: `<alias>.owner_id`). `filters` maps a filter name
    to its SQL condition with one `?`; `dump` turns a row into the API's dict.
    """

    columns: str
    from_: str
    alias: str
    filters: dict[str, str]
    dump: Callable[[sqlite3.Row], dict[str, Any]]
    owner: str = ""
    key: str = "uuid"

    def list_(
        self,
        conn: sqlite3.Connection,
        owner_id: int,
        filters: dict[str, Any],
        limit: int,
        offset: int,
    ) -> tuple[int, list[dict[str, Any]]]:
        """One page of the owner's objects matching `filters`, and how many match in all.

        A list value (a repeated query parameter) must match for each of its items.
        """
        where, params = [f"{self.owner or self.alias + '.owner_id'} = ?"], [owner_id]
        for name, value in filters.items():
            for one in value if isinstance(value, list) else [value]:
                where.append(self.filters[name])
                params.append(int(one) if isinstance(one, bool) else str(one))
        clause = " WHERE " + " AND ".join(where)
        total = conn.execute(f"SELECT COUNT(*) FROM {self.from_}{clause}", params).fetchone()[0]
        found = conn.execute(
            f"SELECT {self.columns} FROM {self.from_}{clause} ORDER BY {self.alias}.id"
            " LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return total, [self.dump(r) for r in found]

    def get(self, conn: sqlite3.Connection, owner_id: int, key: str | int) -> dict[str, Any]:
        """One object of the owner's; NotFound for anything else (another's included)."""
        found = conn.execute(
            f"SELECT {self.columns} FROM {self.from_}"
            f" WHERE {self.alias}.{self.key} = ? AND {self.owner or self.alias + '.owner_id'} = ?",
            (key, owner_id),
        ).fetchone()
        if found is None:
            raise NotFound()
        return self.dump(found)


def insert_row(conn: sqlite3.Connection, table: str, columns: dict[str, Any]) -> int:
    """INSERT one row; column names come from code, never from a client."""
    marks = ", ".join("?" * len(columns))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
    return conn.execute(sql, list(columns.values())).lastrowid


def update_row(conn: sqlite3.Connection, table: str, row_id: int, columns: dict[str, Any]) -> None:
    """UPDATE the given columns of one row (nothing to do when there are none)."""
    if columns:
        assignments = ", ".join(f"{name} = ?" for name in columns)
        conn.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", [*columns.values(), row_id])


def insert_owned(
    conn: sqlite3.Connection, table: str, owner_id: int, columns: dict[str, Any]
) -> str:
    """INSERT an owned object with a new UUID and its creation date; returns the UUID."""
    uuid = new_uuid()
    insert_row(conn, table, {**columns, "uuid": uuid, "owner_id": owner_id, "creation_date": now()})
    return uuid


def reference(
    conn: sqlite3.Connection, table: str, owner_id: int, field: str, uuid: str | None
) -> int | None:
    """The row id a reference field names (None stays None); an object the owner does not
    have is a 400 on that field, as Django REST framework words it."""
    row_id = id_of(conn, table, owner_id, uuid)
    if uuid is not None and row_id is None:
        raise Invalid(
            f"No {field.replace('_', ' ')} '{uuid}'.",
            {field: [f'Invalid pk "{uuid}" - object does not exist.']},
        )
    return row_id


def id_of(conn: sqlite3.Connection, table: str, owner_id: int, uuid: str | None) -> int | None:
    """The row id of an object of `table` owned by `owner_id`, or None."""
    if uuid is None:
        return None
    found = conn.execute(
        f"SELECT id FROM {table} WHERE uuid = ? AND owner_id = ?", (str(uuid), owner_id)
    ).fetchone()
    return found["id"] if found else None
