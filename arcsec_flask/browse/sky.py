"""Sunset and sunrise within a night, for the night log's timeline (astropy, offline).

The sun's altitude is sampled every ten minutes over the night with astropy's `get_sun` and
the local mean sidereal time, and the crossings of -0.833 degrees (the upper limb at the
horizon with standard refraction) are interpolated: good to a minute or two, which is all a
timeline drawn at a few pixels a minute needs. About 20 ms a night after the first call of a
process (which loads astropy's tables: about 2 s); results are kept per night and site.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

HORIZON_DEG = -0.833
STEP_MINUTES = 10


def sun_events(
    start: datetime, end: datetime, latitude: float | None, longitude: float | None
) -> tuple[datetime | None, datetime | None]:
    """(sunset, sunrise) between `start` and `end` (aware UTC datetimes) at the site, each
    None when it does not happen then (polar day or night) or the site has no coordinates."""
    if latitude is None or longitude is None:
        return None, None
    return _events(
        start.astimezone(UTC), end.astimezone(UTC), round(latitude, 3), round(longitude, 3)
    )


@lru_cache(maxsize=256)
def _events(
    start: datetime, end: datetime, latitude: float, longitude: float
) -> tuple[datetime | None, datetime | None]:
    import numpy as np
    from astropy import units as u
    from astropy.coordinates import get_sun
    from astropy.time import Time
    from astropy.utils import iers

    steps = int((end - start).total_seconds() // (STEP_MINUTES * 60)) + 1
    minutes = np.arange(steps) * STEP_MINUTES
    # Offline: the bundled IERS tables, whatever the date (no download, no staleness error).
    with iers.conf.set_temp("auto_download", False), iers.conf.set_temp("auto_max_age", None):
        times = Time(start) + minutes * u.min
        sun = get_sun(times)
        sidereal = times.sidereal_time("mean", longitude=longitude * u.deg).rad
    hour_angle = sidereal - sun.ra.rad
    lat, dec = np.radians(latitude), sun.dec.rad
    altitude = np.degrees(
        np.arcsin(np.sin(lat) * np.sin(dec) + np.cos(lat) * np.cos(dec) * np.cos(hour_angle))
    )
    above = altitude - HORIZON_DEG
    sunset = sunrise = None
    for index in range(len(above) - 1):
        a, b = above[index], above[index + 1]
        if (a > 0) == (b > 0):
            continue
        fraction = a / (a - b)
        instant = start + timedelta(minutes=float(minutes[index] + fraction * STEP_MINUTES))
        if a > 0 and sunset is None:
            sunset = instant
        elif a <= 0 and sunrise is None:
            sunrise = instant
    return sunset, sunrise
