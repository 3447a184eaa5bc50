"""The calibration frames for a light frame: the light checked, the nearest candidates read
kind by kind, the rules applied (domain/calibration.py), the answer shaped (docs/API.md,
datafiles)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from typing import Any

from ..domain import calibration
from ..domain.calibration import Frame, Match
from ..repo import calibration_match, datafiles


def calibrations_for(
    conn: sqlite3.Connection, owner_id: int, file_id: int, window_days: int, limit: int
) -> dict[str, Any]:
    """Per kind (bias, dark, flat, dark_flat), the owner's frames that suit the light
    `file_id`, best first, at most `limit` each, each data file with its `match` details.
    NotFound for another's file; Invalid for a file that is not a readable light frame."""
    light = calibration.check_light(datafiles.get(conn, owner_id, file_id))
    scope = calibration_match.scope_of(conn, owner_id, file_id)
    chosen = choose_all(conn, owner_id, scope, light, timedelta(days=window_days), limit)
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


def choose_all(
    conn: sqlite3.Connection,
    owner_id: int,
    scope: dict[str, Any],
    light: Frame,
    window: timedelta,
    limit: int,
    first: timedelta = calibration.FIRST_SPAN,
) -> dict[str, list[Match]]:
    """What domain/calibration.match_calibrations chooses among all the frames of the
    scope, reading, kind by kind, only the nearest that pass the SQL pre-filter."""
    read: dict[int, Frame] = {}  # every frame read: the best flat's values for dark-flats

    def nearest(reference: Frame, kind: str) -> list[Match]:
        found = calibration.bounds(light, reference, kind)
        if found is None:
            return []

        def within(
            frame_type: str, start: datetime, end: datetime, tier: bool, limit: int | None = None
        ) -> list[Frame]:
            rows = calibration_match.frames_within(
                conn, owner_id, scope, found, frame_type, start, end, tier, limit
            )
            frames = [Frame.from_row(row) for row in rows]
            read.update((frame.id, frame) for frame in frames)
            return frames

        fallback = scope["by"] == "telescope"
        return calibration.choose_nearest(
            light, reference, kind, window, limit, within, first, fallback
        )

    chosen = {kind: nearest(light, kind) for kind in ("bias", "dark", "flat")}
    best_flat = read[chosen["flat"][0].frame_id] if chosen["flat"] else None
    chosen["dark_flat"] = nearest(best_flat, "dark_flat") if best_flat else []
    return chosen
