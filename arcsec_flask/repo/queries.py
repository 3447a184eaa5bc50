"""Reading owned objects: one OwnedQuery per kind lists them with exact filters and gets
one by its key, always within one owner."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..domain.errors import NotFound


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
        where = [f"{self.owner or self.alias + '.owner_id'} = ?"]
        params: list[Any] = [owner_id]
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
