"""Night logs, observations and calibrations as the API shows them (read and annotate).

They are created and removed by repo/night_grouping.py as files come and go; here they
are listed, read and given notes or names. A night log may also be made by hand, for
notes on a night before (or without) its files: it is kept while empty, files of its
night join it, and it may be deleted only while it holds none.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..domain.errors import Conflict, Invalid
from .queries import OwnedQuery
from .rows import insert_owned, reference, update_row
from .sqlite import transaction


class _Derived:
    """A derived kind as the API shows it: read through its query, annotated in place."""

    def __init__(self, query: OwnedQuery, writable: tuple[str, ...]) -> None:
        self.list_, self.get = query.list_, query.get
        self.table, self.writable = query.from_.split()[0], writable

    def update(self, conn: sqlite3.Connection, owner_id: int, uuid: str, data: dict) -> dict:
        with transaction(conn):
            current = self.get(conn, owner_id, uuid)
            columns = {k: v for k, v in data.items() if k in self.writable}
            update_row(conn, self.table, current["id"], columns)
        return self.get(conn, owner_id, uuid)


def _uuids(subquery: str) -> str:
    return f"(SELECT json_group_array(uuid) FROM ({subquery}))"


NIGHT_COLUMNS = (
    "n.*, t.uuid AS telescope_uuid, n.date || ' ' || t.name AS name,"
    f" {_uuids('SELECT uuid FROM observations WHERE night_log_id = n.id ORDER BY id')} AS obs,"
    f" {_uuids('SELECT uuid FROM calibrations WHERE night_log_id = n.id ORDER BY id')} AS cals"
)


def _dump_night(r: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": r["id"],
        "uuid": r["uuid"],
        "date": r["date"],
        "name": r["name"],
        "telescope": r["telescope_uuid"],
        "observations": json.loads(r["obs"]),
        "calibrations": json.loads(r["cals"]),
        "notes": r["notes"],
        "data_files_count": r["data_files_count"],
        "creation_date": r["creation_date"],
    }


class _NightLogs(_Derived):
    def create(self, conn: sqlite3.Connection, owner_id: int, data: dict) -> dict:
        """A night log made by hand; the same telescope and date twice is a 400."""
        with transaction(conn):
            telescope_id = reference(conn, "telescopes", owner_id, "telescope", data["telescope"])
            date = data["date"].isoformat()
            taken = conn.execute(
                "SELECT 1 FROM night_logs WHERE owner_id = ? AND telescope_id = ? AND date = ?",
                (owner_id, telescope_id, date),
            ).fetchone()
            if taken:
                raise Conflict(
                    f"A night log of this telescope for {date} exists already.",
                    {"date": ["A night log with this telescope and date already exists."]},
                )
            columns = {"telescope_id": telescope_id, "date": date, "by_hand": 1}
            uuid = insert_owned(conn, "night_logs", owner_id, {**columns, "notes": data["notes"]})
        return self.get(conn, owner_id, uuid)

    def delete(self, conn: sqlite3.Connection, owner_id: int, uuid: str) -> None:
        """Delete a night log that holds no file (its notes go with it)."""
        with transaction(conn):
            found = self.get(conn, owner_id, uuid)
            if found["data_files_count"]:
                raise Invalid(
                    f"This night log holds {found['data_files_count']} data files:"
                    " only an empty night log can be deleted."
                )
            conn.execute("DELETE FROM night_logs WHERE id = ?", (found["id"],))


def _group_query(table: str, alias: str, filters: dict, extra: str) -> OwnedQuery:
    return OwnedQuery(
        columns=f"{alias}.*, n.uuid AS night_log_uuid",
        from_=f"{table} {alias} LEFT JOIN night_logs n ON n.id = {alias}.night_log_id",
        alias=alias,
        filters={
            "night_log": f"{alias}.night_log_id = (SELECT id FROM night_logs WHERE uuid = ?)",
            "name": f"{alias}.name = ?",
            **filters,
        },
        dump=lambda r: _dump_group(r, extra),
    )


def _dump_group(r: sqlite3.Row, extra: str) -> dict[str, Any]:
    return {
        "id": r["id"],
        "uuid": r["uuid"],
        "name": r["name"],
        extra: r[extra],
        "night_log": r["night_log_uuid"],
        "data_files_count": r["data_files_count"],
        "creation_date": r["creation_date"],
    }


night_logs = _NightLogs(
    OwnedQuery(
        columns=NIGHT_COLUMNS,
        from_="night_logs n JOIN telescopes t ON t.id = n.telescope_id",
        alias="n",
        filters={
            "date": "n.date = ?",
            "telescope": "n.telescope_id = (SELECT id FROM telescopes WHERE uuid = ?)",
            # The name shown is "<date> <telescope name>" (NIGHT_COLUMNS).
            "name": (
                "EXISTS (SELECT 1 FROM telescopes t2 WHERE t2.id = n.telescope_id"
                " AND n.date || ' ' || t2.name = ?)"
            ),
        },
        dump=_dump_night,
    ),
    writable=("notes",),
)
observations = _Derived(
    _group_query("observations", "o", {"target_name": "o.target_name = ?"}, "target_name"),
    writable=("name",),
)
calibrations = _Derived(
    _group_query("calibrations", "c", {"type": "c.type = ?"}, "type"),
    writable=("name",),
)
