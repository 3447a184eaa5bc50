"""Reading owned objects: one OwnedQuery per kind lists them with exact filters and gets
one by its key, always within one owner.

A list costs the same on page 1 and page 10,000, and with 100 rows or a million: the page
is chosen by ids alone, on the table's own indexes (owner or parent, then id), and only
those ids are then read in full with their joins; deep pages go by keyset (`after` /
`before` an id) rather than by skipping rows, and so does a deep `offset` when the
matching ids form one unbroken range; counts come from columns the schema's
triggers keep (`counts`), or from an index when no such column answers.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..domain.errors import NotFound

# From this offset on, a page of a dense id range is entered by id (two index lookups)
# rather than by skipping its entries (about 35 ns each here).
DENSE_FROM = 1000


@dataclass(frozen=True)
class OwnedQuery:
    """How one kind of owned object is read: listed with exact filters, or got by its key.

    `columns` and `from_` make the SELECT of full rows; `alias` names the first table of
    `from_`, whose `key` column identifies an object and whose `id` orders the list
    (creation order); `owner` is the condition on that table holding the owner, with one
    `?` (default: `<alias>.owner_id = ?`). `filters` maps a filter name to its SQL
    condition with one `?`, written on the alias's table alone (a parent's uuid through a
    scalar subquery), so that a page of ids is found without any join. `counts` maps a
    filter name ("" for no filter) to a query with `?` for the owner then the value,
    answering the count from a kept column; other filter sets are counted on an index.
    `dump` turns a row into the API's dict; `dump_values`, when given, does the same from
    the row's values as a plain tuple, in `columns` order (a page's rows are then fetched
    without building a sqlite3.Row each).
    """

    columns: str
    from_: str
    alias: str
    filters: dict[str, str]
    dump: Callable[[sqlite3.Row], dict[str, Any]]
    owner: str = ""
    key: str = "uuid"
    counts: dict[str, str] = field(default_factory=dict)
    dump_values: Callable[[tuple[Any, ...]], dict[str, Any]] | None = None

    @property
    def table(self) -> str:
        return self.from_.split()[0]

    def _where(self, owner_id: int, filters: dict[str, Any]) -> tuple[list[str], list[Any]]:
        where = [self.owner or f"{self.alias}.owner_id = ?"]
        params: list[Any] = [owner_id]
        for name, value in filters.items():
            for one in value if isinstance(value, list) else [value]:
                where.append(self.filters[name])
                params.append(int(one) if isinstance(one, bool) else str(one))
        return where, params

    def count(self, conn: sqlite3.Connection, owner_id: int, filters: dict[str, Any]) -> int:
        """How many of the owner's objects match `filters`."""
        values = [
            v for value in filters.values() for v in (value if isinstance(value, list) else [value])
        ]
        kept = self.counts.get(next(iter(filters), "")) if len(values) <= 1 else None
        if kept is not None:
            found = conn.execute(kept, [owner_id, *(str(v) for v in values)]).fetchone()
            return int(found[0]) if found and found[0] is not None else 0
        where, params = self._where(owner_id, filters)
        sql = f"SELECT COUNT(*) FROM {self.table} {self.alias} WHERE {' AND '.join(where)}"
        return int(conn.execute(sql, params).fetchone()[0])

    def page_ids(
        self,
        conn: sqlite3.Connection,
        owner_id: int,
        filters: dict[str, Any],
        limit: int,
        offset: int = 0,
        after: int | None = None,
        before: int | None = None,
        total: int | None = None,
    ) -> list[int]:
        """The ids of one page, in id order: `offset` rows skipped on an index, or the
        `limit` ids after `after` / before `before` (a keyset, costing no skipping).
        `total`, how many match (counted in the same read transaction), lets a deep
        offset into a dense id range be entered by id instead (`_dense_start`)."""
        where, params = self._where(owner_id, filters)
        order = "ASC"
        if total is not None and offset >= DENSE_FROM and after is None and before is None:
            start = self._dense_start(conn, where, params, total, offset)
            if start is not None:
                where.append(f"{self.alias}.id >= ?")
                params.append(start)
                offset = 0
        if after is not None:
            where.append(f"{self.alias}.id > ?")
            params.append(after)
        elif before is not None:
            where.append(f"{self.alias}.id < ?")
            params.append(before)
            order = "DESC"
        ids = [
            r[0]
            for r in conn.execute(
                f"SELECT {self.alias}.id FROM {self.table} {self.alias}"
                f" WHERE {' AND '.join(where)} ORDER BY {self.alias}.id {order} LIMIT ? OFFSET ?",
                [*params, limit, offset],
            )
        ]
        return ids[::-1] if order == "DESC" else ids

    def _dense_start(
        self, conn: sqlite3.Connection, where: list[str], params: list[Any], total: int, offset: int
    ) -> int | None:
        """The id at `offset` when the `total` matching ids are every integer from the
        lowest to the highest (one bulk load, no deletions: a dataset filed in one go, a
        single owner's archive): then it is the lowest + `offset`, found from the two ends
        of the index range instead of by skipping `offset` entries. None otherwise."""
        ends = []
        for order in ("ASC", "DESC"):
            found = conn.execute(
                f"SELECT {self.alias}.id FROM {self.table} {self.alias}"
                f" WHERE {' AND '.join(where)} ORDER BY {self.alias}.id {order} LIMIT 1",
                params,
            ).fetchone()
            if found is None:
                return None
            ends.append(int(found[0]))
        low, high = ends
        return low + offset if high - low + 1 == total else None

    def rows(self, conn: sqlite3.Connection, ids: list[int]) -> list[dict[str, Any]]:
        """The full rows of `ids` (found within one owner by the caller), in id order."""
        if not ids:
            return []
        cursor = conn.cursor()
        if self.dump_values is not None:
            cursor.row_factory = None  # plain tuples
        found = cursor.execute(
            f"SELECT {self.columns} FROM {self.from_}"
            f" WHERE {self.alias}.id IN (SELECT value FROM json_each(?))"
            f" ORDER BY {self.alias}.id",
            (json.dumps(ids),),
        )
        dump = self.dump_values or self.dump
        return [dump(r) for r in found]

    def list_(
        self,
        conn: sqlite3.Connection,
        owner_id: int,
        filters: dict[str, Any],
        limit: int,
        offset: int = 0,
        after: int | None = None,
        before: int | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """One page of the owner's objects matching `filters`, and how many match in all.

        A list value (a repeated query parameter) must match for each of its items. Both
        reads run in one read transaction, so the count and the page agree.
        """
        began = not conn.in_transaction
        if began:
            conn.execute("BEGIN")
        try:
            total = self.count(conn, owner_id, filters)
            ids = self.page_ids(conn, owner_id, filters, limit, offset, after, before, total)
            return total, self.rows(conn, ids)
        finally:
            if began:
                conn.execute("COMMIT")

    def get(self, conn: sqlite3.Connection, owner_id: int, key: str | int) -> dict[str, Any]:
        """One object of the owner's; NotFound for anything else (another's included)."""
        found = conn.execute(
            f"SELECT {self.columns} FROM {self.from_}"
            f" WHERE {self.alias}.{self.key} = ? AND {self.owner or self.alias + '.owner_id = ?'}",
            (key, owner_id),
        ).fetchone()
        if found is None:
            raise NotFound()
        return self.dump(found)
