"""Small helpers shared by the repository modules."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from typing import Any


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
    return text if text == value.lower() else None
