from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from arcsec_flask.domain.nights import night_bounds, night_date


def local(zone: str, *parts: int, fold: int = 0) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone), fold=fold)


# (zone, local wall-clock time, night date)
CASES = [
    # the noon boundary, to the second
    ("UTC", (2024, 3, 1, 11, 59, 59), date(2024, 2, 29)),
    ("UTC", (2024, 3, 1, 12, 0, 0), date(2024, 3, 1)),
    ("UTC", (2024, 3, 2, 0, 0, 0), date(2024, 3, 1)),
    ("UTC", (2024, 3, 2, 11, 59, 59, 999999), date(2024, 3, 1)),
    ("Europe/Paris", (2024, 6, 1, 11, 59, 59), date(2024, 5, 31)),
    ("Europe/Paris", (2024, 6, 1, 12, 0, 0), date(2024, 6, 1)),
    ("Europe/Paris", (2024, 6, 2, 3, 0, 0), date(2024, 6, 1)),
    # Chile, Hawaii, the Canaries
    ("America/Santiago", (2024, 1, 15, 23, 30), date(2024, 1, 15)),
    ("America/Santiago", (2024, 1, 16, 5, 30), date(2024, 1, 15)),
    ("Pacific/Honolulu", (2024, 1, 15, 22, 0), date(2024, 1, 15)),
    ("Pacific/Honolulu", (2024, 1, 16, 6, 0), date(2024, 1, 15)),
    ("Atlantic/Canary", (2024, 1, 16, 4, 0), date(2024, 1, 15)),
    # east of the date line
    ("Pacific/Auckland", (2024, 1, 16, 1, 0), date(2024, 1, 15)),
    ("Pacific/Kiritimati", (2024, 1, 16, 11, 59, 59), date(2024, 1, 15)),
    ("Pacific/Kiritimati", (2024, 1, 16, 12, 0), date(2024, 1, 16)),
    # offsets that are not whole hours
    ("Asia/Kolkata", (2024, 1, 16, 11, 59, 59), date(2024, 1, 15)),
    ("Asia/Kolkata", (2024, 1, 16, 12, 0), date(2024, 1, 16)),
    ("Asia/Kathmandu", (2024, 1, 16, 11, 59, 59), date(2024, 1, 15)),
    ("Asia/Kathmandu", (2024, 1, 16, 12, 0), date(2024, 1, 16)),
    ("Australia/Eucla", (2024, 1, 16, 11, 59, 59), date(2024, 1, 15)),
    ("Australia/Eucla", (2024, 1, 16, 12, 0), date(2024, 1, 16)),
    # around daylight-saving changes (clocks move at night, the noon rule holds)
    ("Europe/Paris", (2024, 3, 31, 1, 59, 59), date(2024, 3, 30)),
    ("Europe/Paris", (2024, 3, 31, 3, 0, 0), date(2024, 3, 30)),
    ("Europe/Paris", (2024, 3, 31, 12, 0, 0), date(2024, 3, 31)),
    ("Europe/Paris", (2024, 10, 27, 2, 30, 0), date(2024, 10, 26)),
    ("Australia/Sydney", (2024, 4, 7, 2, 30, 0), date(2024, 4, 6)),
    ("Australia/Sydney", (2024, 10, 6, 3, 30, 0), date(2024, 10, 5)),
    ("America/Santiago", (2024, 4, 7, 0, 30, 0), date(2024, 4, 6)),
    ("America/Santiago", (2024, 9, 8, 1, 0, 0), date(2024, 9, 7)),
]


@pytest.mark.parametrize(("zone", "wall_clock", "night"), CASES)
def test_night_date(zone, wall_clock, night):
    instant = local(zone, *wall_clock).astimezone(UTC)
    assert night_date(instant, zone) == night


@pytest.mark.parametrize("fold", [0, 1])
def test_repeated_hour_at_the_end_of_summer_time(fold):
    instant = local("Europe/Paris", 2024, 10, 27, 2, 30, fold=fold).astimezone(UTC)
    assert night_date(instant, "Europe/Paris") == date(2024, 10, 26)


def test_any_aware_instant_is_accepted():
    instant = datetime(2024, 1, 16, 1, 0, tzinfo=timezone(timedelta(hours=-3)))  # 04:00 UTC
    assert night_date(instant, "UTC") == date(2024, 1, 15)
    assert night_date(instant, "Pacific/Kiritimati") == date(2024, 1, 16)  # 18:00 local


def test_sites_east_of_the_date_line_have_later_night_dates():
    instant = datetime(2024, 1, 15, 23, 0, tzinfo=UTC)
    assert night_date(instant, "Pacific/Auckland") == date(2024, 1, 16)  # 12:00 NZDT
    assert night_date(instant, "Pacific/Honolulu") == date(2024, 1, 15)  # 13:00 HST


@pytest.mark.parametrize(
    ("zone", "night", "hours"),
    [
        ("UTC", date(2024, 3, 30), 24),
        ("Europe/Paris", date(2024, 3, 30), 23),
        ("Europe/Paris", date(2024, 10, 26), 25),
        ("Australia/Sydney", date(2024, 10, 5), 23),
        ("Australia/Sydney", date(2024, 4, 6), 25),
        ("America/Santiago", date(2024, 9, 7), 23),
        ("America/Santiago", date(2024, 4, 6), 25),
        ("Asia/Kathmandu", date(2024, 4, 6), 24),
    ],
)
def test_night_bounds_last_23_24_or_25_hours(zone, night, hours):
    start, end = night_bounds(night, zone)
    assert end - start == timedelta(hours=hours)
    assert start.utcoffset() == timedelta(0) and end.utcoffset() == timedelta(0)
    assert night_date(start, zone) == night
    assert night_date(end - timedelta(microseconds=1), zone) == night
    assert night_date(end, zone) == night + timedelta(days=1)


@pytest.mark.parametrize(
    ("zone", "start"),
    [
        ("UTC", datetime(2024, 1, 15, 12, tzinfo=UTC)),
        ("Pacific/Kiritimati", datetime(2024, 1, 14, 22, tzinfo=UTC)),
        ("Pacific/Honolulu", datetime(2024, 1, 15, 22, tzinfo=UTC)),
        ("Asia/Kathmandu", datetime(2024, 1, 15, 6, 15, tzinfo=UTC)),
        ("Australia/Eucla", datetime(2024, 1, 15, 3, 15, tzinfo=UTC)),
        ("America/Santiago", datetime(2024, 1, 15, 15, tzinfo=UTC)),
    ],
)
def test_night_bounds_start_at_local_noon(zone, start):
    assert night_bounds(date(2024, 1, 15), zone)[0] == start


def test_naive_instant_is_refused():
    with pytest.raises(ValueError, match="aware"):
        night_date(datetime(2024, 1, 15, 12), "UTC")


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../../etc/passwd", "UTC+3", "America"])
def test_unknown_zone_is_refused(zone):
    instant = datetime(2024, 1, 15, 12, tzinfo=UTC)
    with pytest.raises(ValueError, match="Unknown time zone"):
        night_date(instant, zone)
    with pytest.raises(ValueError, match="Unknown time zone"):
        night_bounds(date(2024, 1, 15), zone)
