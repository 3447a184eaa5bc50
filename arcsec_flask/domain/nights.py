"""Night logs' dates: a night runs from local noon to the next local noon at the site.

Its date is the date of its evening: the local wall-clock time less 12 hours, then the date.
A frame at exactly local noon opens the new night. Nights at daylight-saving changes last 23
or 25 hours; sites east of the date line have night dates after the UTC date.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

NOON = time(12)
HALF_DAY = timedelta(hours=12)


def site_zone(time_zone: str) -> ZoneInfo:
    """The zone of an IANA name; ValueError when there is no such zone."""
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError) as exc:
        raise ValueError(f"Unknown time zone: {time_zone!r}.") from exc


def night_date(instant: datetime, time_zone: str) -> date:
    """The date of the night holding `instant` (an aware datetime) at a site in `time_zone`."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("The instant must be timezone-aware (UTC).")
    wall_clock = instant.astimezone(site_zone(time_zone)).replace(tzinfo=None)
    return (wall_clock - HALF_DAY).date()


def night_bounds(night: date, time_zone: str) -> tuple[datetime, datetime]:
    """The UTC instants at which the night of `night` starts (local noon of that date,
    included) and ends (local noon of the next date, excluded)."""
    zone = site_zone(time_zone)
    start = datetime.combine(night, NOON, tzinfo=zone)
    end = datetime.combine(night + timedelta(days=1), NOON, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)
