"""Small helpers shared by the repository modules."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from typing import Any

from ..exceptions import Invalid


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


def list_page(
    conn: sqlite3.Connection,
    select: str,
    from_part: str,
    where: list[str],
    params: list[Any],
    limit: int,
    offset: int,
    order: str = "id",
) -> tuple[int, list[sqlite3.Row]]:
    """Count and fetch one page of `select` (SELECT <columns> FROM <from_part>, no WHERE).

    `where` clauses are ANDed; they carry their own `?` placeholders, bound from `params`.
    """
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    total = conn.execute(f"SELECT COUNT(*) FROM {from_part}{clause}", params).fetchone()[0]
    found = conn.execute(
        f"{select}{clause} ORDER BY {order} LIMIT ? OFFSET ?", [*params, limit, offset]
    ).fetchall()
    return total, found


def where_owned(
    owner_clause: str, owner_id: int, filter_sql: dict[str, str], filters: dict[str, Any]
) -> tuple[list[str], list[Any]]:
    """WHERE clauses and parameters for an owner's objects matching exact `filters`.

    A list value (a repeated query parameter) must match for each of its items.
    """
    where, params = [owner_clause], [owner_id]
    for name, value in filters.items():
        for one in value if isinstance(value, list) else [value]:
            where.append(filter_sql[name])
            params.append(int(one) if isinstance(one, bool) else str(one))
    return where, params


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
