"""Night logs, observations and calibrations as the API shows them (read and annotate).

They are created and removed by repo/derived.py; here they are listed, read and
given notes or names.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from .queries import OwnedQuery
from .rows import update_row
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
    "n.*, t.uuid AS telescope_uuid,"
    f" {_uuids('SELECT uuid FROM observations WHERE night_log_id = n.id ORDER BY id')} AS obs,"
    f" {_uuids('SELECT uuid FROM calibrations WHERE night_log_id = n.id ORDER BY id')} AS cals"
)


def _dump_night(r: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": r["id"],
        "uuid": r["uuid"],
        "date": r["date"],
        "telescope": r["telescope_uuid"],
        "observations": json.loads(r["obs"]),
        "calibrations": json.loads(r["cals"]),
        "notes": r["notes"],
        "creation_date": r["creation_date"],
    }


def _group_query(table: str, alias: str, column: str, filters: dict, extra: str) -> OwnedQuery:
    return OwnedQuery(
        columns=(
            f"{alias}.*, n.uuid AS night_log_uuid,"
            f" (SELECT COUNT(*) FROM datafiles f WHERE f.{column} = {alias}.id) AS files"
        ),
        from_=f"{table} {alias} LEFT JOIN night_logs n ON n.id = {alias}.night_log_id",
        alias=alias,
        filters={"night_log": "n.uuid = ?", "name": f"{alias}.name = ?", **filters},
        dump=lambda r: _dump_group(r, extra),
    )


def _dump_group(r: sqlite3.Row, extra: str) -> dict[str, Any]:
    return {
        "id": r["id"],
        "uuid": r["uuid"],
        "name": r["name"],
        extra: r[extra],
        "night_log": r["night_log_uuid"],
        "data_files_count": r["files"],
        "creation_date": r["creation_date"],
    }


night_logs = _Derived(
    OwnedQuery(
        columns=NIGHT_COLUMNS,
        from_="night_logs n JOIN telescopes t ON t.id = n.telescope_id",
        alias="n",
        filters={"date": "n.date = ?", "telescope": "t.uuid = ?"},
        dump=_dump_night,
    ),
    writable=("notes",),
)
observations = _Derived(
    _group_query(
        "observations", "o", "observation_id", {"target_name": "o.target_name = ?"}, "target_name"
    ),
    writable=("name",),
)
calibrations = _Derived(
    _group_query("calibrations", "c", "calibration_id", {"type": "c.type = ?"}, "type"),
    writable=("name",),
)
