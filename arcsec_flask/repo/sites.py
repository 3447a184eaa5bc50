"""Observing sites."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..domain import timezones
from . import night_grouping
from .queries import OwnedQuery
from .rows import insert_owned, update_row
from .sqlite import transaction

FILTERS = {"name": "s.name = ?", "country": "s.country = ?", "time_zone": "s.time_zone = ?"}


def _dump(r: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": r["id"],
        "uuid": r["uuid"],
        "name": r["name"],
        "coordinates": {
            "longitude": r["longitude"],
            "latitude": r["latitude"],
            "height": r["height"],
        },
        "time_zone": r["time_zone"],
        "country": r["country"],
        "telescopes": json.loads(r["telescope_uuids"]),
        "creation_date": r["creation_date"],
    }


QUERY = OwnedQuery(
    columns=(
        "s.*, (SELECT json_group_array(t.uuid) FROM"
        " (SELECT uuid FROM telescopes WHERE observing_site_id = s.id ORDER BY id) t)"
        " AS telescope_uuids"
    ),
    from_="observing_sites s",
    alias="s",
    filters=FILTERS,
    dump=_dump,
)
list_ = QUERY.list_
get = QUERY.get


def _columns(data: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    columns: dict[str, Any] = {k: data[k] for k in ("name", "country") if k in data}
    coordinates = (current or {}).get("coordinates", {})
    if "coordinates" in data:
        coordinates = {
            k: (data["coordinates"] or {}).get(k) for k in ("longitude", "latitude", "height")
        }
        columns.update(coordinates)
    if data.get("time_zone"):
        columns["time_zone"] = data["time_zone"]
    elif current is None or "time_zone" in data or not current["time_zone"]:
        # Omitted at creation, or cleared: derived offline from the coordinates.
        lat, lon = coordinates.get("latitude"), coordinates.get("longitude")
        columns["time_zone"] = (
            timezones.from_coordinates(lat, lon) if lat is not None and lon is not None else None
        )
    return columns


def create(conn: sqlite3.Connection, owner_id: int, data: dict[str, Any]) -> dict[str, Any]:
    columns = _columns(data)  # before the transaction: a zone lookup takes ~15 ms
    with transaction(conn):
        uuid = insert_owned(conn, "observing_sites", owner_id, columns)
    return get(conn, owner_id, uuid)


def update(conn: sqlite3.Connection, owner_id: int, uuid: str, data: dict) -> dict[str, Any]:
    columns = _columns(data, get(conn, owner_id, uuid))  # the zone lookup outside the lock
    with transaction(conn):
        current = get(conn, owner_id, uuid)
        update_row(conn, "observing_sites", current["id"], columns)
        if columns.get("time_zone", current["time_zone"]) != current["time_zone"]:
            night_grouping.refresh_files(conn, night_grouping.files_of_site(conn, current["id"]))
    return get(conn, owner_id, uuid)


def delete(conn: sqlite3.Connection, owner_id: int, uuid: str) -> None:
    with transaction(conn):
        site = get(conn, owner_id, uuid)
        files = night_grouping.files_of_site(conn, site["id"])
        conn.execute("DELETE FROM observing_sites WHERE id = ?", (site["id"],))
        night_grouping.refresh_files(conn, files)
