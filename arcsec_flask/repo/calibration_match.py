"""The calibration frames that may suit a light frame: the owner's frames of the calibration
frame types, from the light's telescope, within a time window (domain/calibration.py
chooses among them).

The light's telescope is its dataset's registered telescope; for a dataset without one,
the telescope its header names, else the camera its header names, else its own dataset.
Each scope is served by the index datafiles_calibration_frames (dataset, frame type,
observation time), reached through the owner's datasets. The candidates are read by the
columns the rules need only; the full data files of the chosen few, by `data_files`.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from ..domain.calibration import Bounds
from ..domain.errors import NotFound
from ..domain.ids import iso_utc
from . import datafiles

# How the candidates' datasets are chosen, per scope (docs/API.md §8a).
SCOPES = {
    "telescope": "d.telescope_id = :telescope_id",
    "telescope_name": "f.telescope_name = :telescope_name",
    "instrument_name": "f.instrument_name = :instrument_name",
    "dataset": "f.dataset_id = :dataset_id",
}
# The weaker candidates of the telescope scope: frames uploaded to a dataset without a
# telescope, unless their header names another telescope than the light's (by its
# header or by the registered telescope's name).
FALLBACK = (
    "d.telescope_id IS NULL AND (f.telescope_name IS NULL"
    " OR f.telescope_name IN (:telescope_name, :registered_name))"
)


def scope_of(conn: sqlite3.Connection, owner_id: int, file_id: int) -> dict[str, Any]:
    """Where a file's calibration frames are looked for: `by` (one of SCOPES), `value` (what
    the API shows of it) and the row's own values the query binds."""
    found = conn.execute(
        "SELECT f.dataset_id, f.telescope_name, f.instrument_name, d.telescope_id,"
        " t.uuid AS telescope_uuid, t.name AS registered_name, d.uuid AS dataset_uuid"
        " FROM datafiles f JOIN datasets d ON d.id = f.dataset_id"
        " LEFT JOIN telescopes t ON t.id = d.telescope_id"
        " WHERE f.id = ? AND d.owner_id = ?",
        (file_id, owner_id),
    ).fetchone()
    if found is None:
        raise NotFound()
    row = dict(found)
    if row["telescope_id"] is not None:
        by, value = "telescope", row["telescope_uuid"]
    elif row["telescope_name"]:
        by, value = "telescope_name", row["telescope_name"]
    elif row["instrument_name"]:
        by, value = "instrument_name", row["instrument_name"]
    else:
        by, value = "dataset", row["dataset_uuid"]
    return {**row, "by": by, "value": value}


# What the rules read of a candidate (domain/calibration.Frame): the answer's full data
# files are read afterwards for the chosen few only (`data_files`).
RULE_COLUMNS = (
    "f.id, f.frame_type, f.date_obs, f.exposure_time, f.filter_name, f.binning,"
    " f.ccd_temperature, f.instrument_name, f.telescope_name"
)
SCOPE_FROM = "datafiles f JOIN datasets d ON d.id = f.dataset_id"


def frames_within(
    conn: sqlite3.Connection,
    owner_id: int,
    scope: dict[str, Any],
    bounds: Bounds,
    frame_type: str,
    start: datetime,
    end: datetime,
    fallback: bool = False,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The owner's readable frames of `frame_type` in the scope (with `fallback`, its weaker
    candidates: FALLBACK), within `bounds` (domain/calibration.py: never narrower than the
    rules), observed from `start` to `end` (bounds included): what the rules read of each
    (RULE_COLUMNS), and `fallback`. With `limit`, at most that many (whether any is
    there: `limit=1`)."""
    keys = ("telescope_id", "telescope_name", "instrument_name", "registered_name")
    params: dict[str, Any] = {
        **{key: scope.get(key) for key in keys},
        "fallback": fallback,
        "dataset_id": scope["dataset_id"],
        "owner_id": owner_id,
        "frame_type": frame_type,
        "binning": bounds.binning,
        "start": iso_utc(start),
        "end": iso_utc(end),
    }
    if bounds.exposure is not None:
        params["exposure0"], params["exposure1"] = bounds.exposure
    if bounds.temperature is not None:
        params["temperature0"], params["temperature1"] = bounds.temperature
    if _filter_prefiltered(bounds.filter_folded):
        params["filter"] = bounds.filter_folded
    query = frames_within_sql(scope["by"], bounds, fallback)
    if limit is not None:
        query, params["limit"] = f"{query} LIMIT :limit", limit
    return [dict(r) for r in conn.execute(query, params)]


def frames_within_sql(scope_by: str, bounds: Bounds, fallback: bool = False) -> str:
    """The query of `frames_within` in a scope, for the conditions these bounds set."""
    if fallback and scope_by != "telescope":
        raise ValueError("only the telescope scope has weaker candidates")
    conditions = [
        "d.owner_id = :owner_id",
        FALLBACK if fallback else SCOPES[scope_by],
        "f.frame_type <> 'light'",  # the partial index's condition, for SQLite to use it
        "f.frame_type = :frame_type",
        "f.date_obs BETWEEN :start AND :end",
        "f.header_status = 'read'",
        "f.binning IS :binning",
    ]
    if bounds.exposure is not None:
        conditions.append("f.exposure_time BETWEEN :exposure0 AND :exposure1")
    if bounds.temperature is not None:
        conditions.append("f.ccd_temperature BETWEEN :temperature0 AND :temperature1")
    if _filter_prefiltered(bounds.filter_folded):
        conditions.append(_FILTER_BLANK if bounds.filter_folded == "" else _FILTER_EQUAL)
    return (
        f"SELECT {RULE_COLUMNS}, :fallback AS fallback FROM {SCOPE_FROM}"
        f" WHERE {' AND '.join(conditions)}"
    )


# A flat's filter folds (domain/calibration._folded: spaces collapsed, case folded) to the
# light's, of printable ASCII here, only if it equals it but for ASCII case and the spaces
# around it, or has two spaces in a row, or a character beyond printable ASCII (whose
# folding SQLite cannot do: left to the rules). A light without filter: blank or null.
_ODD = "f.filter_name LIKE '%  %' OR f.filter_name GLOB '*[^ -~]*'"
_FILTER_EQUAL = f"(trim(f.filter_name, ' ') = :filter COLLATE NOCASE OR {_ODD})"
_FILTER_BLANK = f"(f.filter_name IS NULL OR trim(f.filter_name, ' ') = '' OR {_ODD})"


def _filter_prefiltered(folded: str | None) -> bool:
    """Whether SQL can pre-filter on this folded filter: printable ASCII only."""
    return folded is not None and all(" " <= c <= "~" for c in folded)


def data_files(
    conn: sqlite3.Connection, owner_id: int, ids: list[int]
) -> dict[int, dict[str, Any]]:
    """The owner's data files of these ids, as the API shows them, by id."""
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    query = datafiles.QUERY
    found = conn.execute(
        f"SELECT {query.columns} FROM {query.from_} WHERE f.id IN ({marks}) AND d.owner_id = ?",
        [*ids, owner_id],
    )
    return {r["id"]: query.dump(r) for r in found}
