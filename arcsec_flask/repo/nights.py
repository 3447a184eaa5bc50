"""Night logs, observations and calibrations as the API shows them (read and annotate).

They are created and removed by repo/derived.py; here they are listed, read and
given notes or names.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..exceptions import NotFound
from .common import list_page, update_row, where_owned
from .sqlite import transaction


class _Kind:
    def __init__(
        self,
        select: str,
        from_: str,
        alias: str,
        filters: dict[str, str],
        dump,
        writable: tuple[str, ...],
    ) -> None:
        self.select, self.from_, self.alias = select, from_, alias
        self.filters, self.dump, self.writable = filters, dump, writable
        self.table = from_.split()[0]

    def list_(
        self, conn: sqlite3.Connection, owner_id: int, filters: dict, limit: int, offset: int
    ):
        where, params = where_owned(f"{self.alias}.owner_id = ?", owner_id, self.filters, filters)
        total, found = list_page(
            conn, self.select, self.from_, where, params, limit, offset, f"{self.alias}.id"
        )
        return total, [self.dump(r) for r in found]

    def get(self, conn: sqlite3.Connection, owner_id: int, uuid: str) -> dict[str, Any]:
        r = conn.execute(
            f"{self.select} WHERE {self.alias}.uuid = ? AND {self.alias}.owner_id = ?",
            (uuid, owner_id),
        ).fetchone()
        if r is None:
            raise NotFound()
        return self.dump(r)

    def update(self, conn: sqlite3.Connection, owner_id: int, uuid: str, data: dict) -> dict:
        columns = {k: v for k, v in data.items() if k in self.writable}
        with transaction(conn):
            row_id = conn.execute(
                f"SELECT id FROM {self.table} WHERE uuid = ? AND owner_id = ?", (uuid, owner_id)
            ).fetchone()
            if row_id is None:
                raise NotFound()
            update_row(conn, self.table, row_id[0], columns)
        return self.get(conn, owner_id, uuid)


def _uuids(subquery: str) -> str:
    return f"(SELECT json_group_array(uuid) FROM ({subquery}))"


NIGHT_SELECT = (
    "SELECT n.*, t.uuid AS telescope_uuid,"
    f" {_uuids('SELECT uuid FROM observations WHERE night_log_id = n.id ORDER BY id')} AS obs,"
    f" {_uuids('SELECT uuid FROM calibrations WHERE night_log_id = n.id ORDER BY id')} AS cals"
    " FROM night_logs n JOIN telescopes t ON t.id = n.telescope_id"
)


def _dump_night(r: sqlite3.Row) -> dict[str, Any]:
    return {
        "uuid": r["uuid"],
        "date": r["date"],
        "telescope": r["telescope_uuid"],
        "observations": json.loads(r["obs"]),
        "calibrations": json.loads(r["cals"]),
        "notes": r["notes"],
        "creation_date": r["creation_date"],
    }


def _group_select(table: str, alias: str, column: str) -> str:
    return (
        f"SELECT {alias}.*, n.uuid AS night_log_uuid,"
        f" (SELECT COUNT(*) FROM datafiles f WHERE f.{column} = {alias}.id) AS files"
        f" FROM {table} {alias} LEFT JOIN night_logs n ON n.id = {alias}.night_log_id"
    )


def _dump_group(r: sqlite3.Row, extra: str) -> dict[str, Any]:
    return {
        "uuid": r["uuid"],
        "name": r["name"],
        extra: r[extra],
        "night_log": r["night_log_uuid"],
        "data_files_count": r["files"],
        "creation_date": r["creation_date"],
    }


night_logs = _Kind(
    NIGHT_SELECT,
    "night_logs n JOIN telescopes t ON t.id = n.telescope_id",
    "n",
    {"date": "n.date = ?", "telescope": "t.uuid = ?"},
    _dump_night,
    ("notes",),
)
observations = _Kind(
    _group_select("observations", "o", "observation_id"),
    "observations o LEFT JOIN night_logs n ON n.id = o.night_log_id",
    "o",
    {"night_log": "n.uuid = ?", "name": "o.name = ?", "target_name": "o.target_name = ?"},
    lambda r: _dump_group(r, "target_name"),
    ("name",),
)
calibrations = _Kind(
    _group_select("calibrations", "c", "calibration_id"),
    "calibrations c LEFT JOIN night_logs n ON n.id = c.night_log_id",
    "c",
    {"night_log": "n.uuid = ?", "name": "c.name = ?", "type": "c.type = ?"},
    lambda r: _dump_group(r, "type"),
    ("name",),
)
