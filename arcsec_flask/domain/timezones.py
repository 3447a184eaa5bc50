"""Time zones of observing sites: validation and offline lookup from coordinates."""

from __future__ import annotations

import zoneinfo
from functools import cache


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_valid(name: str) -> bool:
    return name in _zones()


def from_coordinates(latitude: float, longitude: float) -> str | None:
    """The IANA zone at a point, offline; at sea, the nautical Etc/GMT zone.

    A finder per call (about 15 ms): sites are created rarely, and a finder kept for
    the process would hold its mapped data files open for the process's lifetime.
    """
    from timezonefinder import TimezoneFinder

    with TimezoneFinder() as finder:
        zone = finder.timezone_at(lat=latitude, lng=longitude)
    return zone if zone and is_valid(zone) else None
