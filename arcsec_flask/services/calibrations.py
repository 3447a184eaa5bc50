"""The calibration frames for a light frame: the light checked, the candidates read, the
rules applied (domain/calibration.py), the answer shaped (docs/API.md, datafiles)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

from ..domain import calibration
from ..repo import calibration_match, datafiles


def calibrations_for(
    conn: sqlite3.Connection, owner_id: int, file_id: int, window_days: int, limit: int
) -> dict[str, Any]:
    """Per kind (bias, dark, flat, dark_flat), the owner's frames that suit the light
    `file_id`, best first, at most `limit` each, each data file with its `match` details.
    NotFound for another's file; Invalid for a file that is not a readable light frame."""
    light = calibration.check_light(datafiles.get(conn, owner_id, file_id))
    assert light.date_obs is not None  # check_light makes sure
    window = timedelta(days=window_days)
    scope = calibration_match.scope_of(conn, owner_id, file_id)
    start, end = calibration.window_bounds(light.date_obs, window)
    rows = calibration_match.candidates(
        conn, owner_id, scope, calibration.CANDIDATE_FRAME_TYPES, start, end
    )
    frames = [calibration.Frame.from_row(row) for row in rows]
    chosen = calibration.match_calibrations(light, frames, window, limit)
    ids = sorted({m.frame_id for matches in chosen.values() for m in matches})
    by_id = calibration_match.data_files(conn, owner_id, ids)
    return {
        "light": file_id,
        "window_days": window_days,
        "scope": {"by": scope["by"], "value": scope["value"]},
        **{
            kind: [{**by_id[m.frame_id], "match": m.details()} for m in matches]
            for kind, matches in chosen.items()
        },
    }
