"""The datafiles columns derived from a header: one function, used by uploads and by the
migration that fills them for rows stored before they existed (sqlite.py, step 4)."""

from __future__ import annotations

from typing import Any

from ..domain.ids import iso_utc
from ..headers import HeaderInfo

# Added by migration 4 (the columns before it: date_obs, frame_kind, calibration_type,
# target_name). Name -> SQLite type, for the migration's ADD COLUMN.
ADDED_COLUMNS: dict[str, type] = {
    "date_obs_source": str,
    "exposure_time": float,
    "filter_name": str,
    "frame_type": str,
    "instrument_name": str,
    "telescope_name": str,
    "binning": str,
    "ccd_temperature": float,
}


def header_columns(info: HeaderInfo) -> dict[str, Any]:
    """What the row records of a header, beyond its cards."""
    return {
        "date_obs": iso_utc(info.date_obs) if info.date_obs else None,
        "frame_kind": info.frame.kind if info.frame else None,
        "calibration_type": info.frame.calibration_type if info.frame else None,
        "target_name": info.target_name,
        **added_columns(info),
    }


def added_columns(info: HeaderInfo) -> dict[str, Any]:
    """The columns of migration 4, from a header."""
    return {
        "date_obs_source": info.date_obs_source,
        "exposure_time": info.exposure_time,
        "filter_name": info.filter_name,
        "frame_type": info.frame_type,
        "instrument_name": info.instrument_name,
        "telescope_name": info.telescope_name,
        "binning": info.binning,
        "ccd_temperature": info.ccd_temperature,
    }
