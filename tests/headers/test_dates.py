from datetime import UTC, date, datetime

import pytest

from arcsec_flask.headers.dates import (
    from_day_number,
    observation_time,
    parse_day,
    parse_timestamp,
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


CASES = [
    # DATE-OBS forms in the wild
    ({"DATE-OBS": "2020-05-30T00:22:49.0968820"}, utc(2020, 5, 30, 0, 22, 49, 96882)),
    ({"DATE-OBS": "2020-05-30T00:22:49"}, utc(2020, 5, 30, 0, 22, 49)),
    ({"DATE-OBS": "2020-05-30T00:22:49.5Z"}, utc(2020, 5, 30, 0, 22, 49, 500000)),
    ({"DATE-OBS": "2020-05-30T00:22:49+00:00"}, utc(2020, 5, 30, 0, 22, 49)),
    ({"DATE-OBS": "2020-05-30T02:22:49+02:00"}, utc(2020, 5, 30, 0, 22, 49)),
    ({"DATE-OBS": "2020-05-30 00:22:49"}, utc(2020, 5, 30, 0, 22, 49)),
    ({"DATE-OBS": "2020-05-30T00:22"}, utc(2020, 5, 30, 0, 22)),
    ({"DATE-OBS": "2016-12-31T23:59:60.5"}, utc(2017, 1, 1, 0, 0, 0, 500000)),  # leap second
    ({"DATE-OBS": "2020-05-30", "TIME-OBS": "03:04:05.25"}, utc(2020, 5, 30, 3, 4, 5, 250000)),
    ({"DATE-OBS": "2020-05-30", "UT": "03:04:05"}, utc(2020, 5, 30, 3, 4, 5)),
    ({"DATE-OBS": "2020-05-30", "UTSTART": "23:59:59.9"}, utc(2020, 5, 30, 23, 59, 59, 900000)),
    ({"DATE-OBS": "2020-05-30", "TIME-OBS": "junk", "UT": "01:00:00"}, utc(2020, 5, 30, 1)),
    ({"DATE-OBS": "30/05/98", "TIME-OBS": "22:10:00"}, utc(1998, 5, 30, 22, 10)),
    ({"DATE-OBS": "01/12/87", "UT": "04:00:00"}, utc(1987, 12, 1, 4)),
    # then DATE-BEG, MJD-OBS, JD, DATE-AVG less half the exposure
    ({"DATE-BEG": "2021-01-01T01:02:03"}, utc(2021, 1, 1, 1, 2, 3)),
    ({"MJD-OBS": 58999.0}, utc(2020, 5, 30)),
    ({"MJD-OBS": 58999.5}, utc(2020, 5, 30, 12)),
    ({"MJD-OBS": "58999.25"}, utc(2020, 5, 30, 6)),
    ({"MJD-OBS": 2458999.5}, utc(2020, 5, 30)),  # a Julian date in MJD-OBS
    ({"JD": 2459000.0}, utc(2020, 5, 30, 12)),
    ({"JD": 58999}, utc(2020, 5, 30)),
    ({"DATE-AVG": "2021-01-01T01:00:30", "EXPTIME": 60}, utc(2021, 1, 1, 1)),
    ({"DATE-AVG": "2021-01-01T01:00:30", "EXPOSURE": "60"}, utc(2021, 1, 1, 1)),
    ({"DATE-AVG": "2021-01-01T01:00:30"}, utc(2021, 1, 1, 1, 0, 30)),
    # a date alone, then DATE (when the file was written) as the last resort
    ({"DATE-OBS": "2020-05-30"}, utc(2020, 5, 30)),
    ({"DATE-OBS": "2020-05-30", "DATE": "2020-06-01T10:00:00"}, utc(2020, 5, 30)),
    ({"DATE": "2020-06-01T10:00:00"}, utc(2020, 6, 1, 10)),
    ({"DATE": "2020-06-01"}, utc(2020, 6, 1)),
    ({"DATE": "01/06/95"}, utc(1995, 6, 1)),
    # the order of trust
    ({"DATE-OBS": "2020-05-30T00:00:00", "MJD-OBS": 1.0, "DATE": "2021-01-01"}, utc(2020, 5, 30)),
    ({"DATE-BEG": "2020-05-30T00:00:00", "MJD-OBS": 58000.0}, utc(2020, 5, 30)),
    ({"MJD-OBS": 58999.0, "JD": 2400000.5}, utc(2020, 5, 30)),
    ({"OBSERVATION:TIME:START": "2023-01-02T03:04:05Z"}, utc(2023, 1, 2, 3, 4, 5)),
    (
        {"OBSERVATION:TIME:START": "2023-01-02T03:04:05", "DATE-BEG": "2020-01-01T00:00:00"},
        utc(2023, 1, 2, 3, 4, 5),
    ),
    # DATE-LOC has no offset: never used
    ({"DATE-LOC": "2020-05-30T22:00:00"}, None),
    ({}, None),
]


@pytest.mark.parametrize(("values", "expected"), CASES)
def test_observation_time(values, expected):
    found = observation_time(values)
    assert found == expected
    if found is not None:
        assert found.utcoffset().total_seconds() == 0


GARBAGE = [
    {"DATE-OBS": "yesterday"},
    {"DATE-OBS": "2020-13-45T00:00:00"},
    {"DATE-OBS": "2020-02-30"},
    {"DATE-OBS": "2020-05-30T25:00:00"},
    {"DATE-OBS": "2020-05-30T10:61:00"},
    {"DATE-OBS": "2020-05-30T10:00:00+99:00"},
    {"DATE-OBS": "9999-12-31T23:59:59-12:00"},
    {"DATE-OBS": "45/45/45", "TIME-OBS": "10:00:00"},
    {"DATE-OBS": 2020},
    {"DATE-OBS": True},
    {"DATE-OBS": None},
    {"MJD-OBS": 0},
    {"MJD-OBS": -1.0},
    {"MJD-OBS": "NaN"},
    {"MJD-OBS": float("inf")},
    {"MJD-OBS": 1e300},
    {"MJD-OBS": True},
    {"JD": "soon"},
    {"DATE-AVG": "never", "EXPTIME": 30},
    {"DATE-AVG": "0001-01-01T00:00:00", "EXPTIME": 60},
    {"DATE": "unknown"},
]


@pytest.mark.parametrize("values", GARBAGE)
def test_garbage_is_skipped_never_raised(values):
    assert observation_time(values) is None


def test_garbage_falls_through_to_the_next_source():
    assert observation_time({"DATE-OBS": "garbage", "MJD-OBS": 59000.0}) == utc(2020, 5, 31)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-05-30", date(2020, 5, 30)),
        ("2020-05-30T10:00:00", None),  # a timestamp, not a date alone
        ("30/05/98", date(1998, 5, 30)),
        ("2020-05-30x", None),
        ("20200530", date(2020, 5, 30)),  # compact digits
    ],
)
def test_parse_day(text, expected):
    assert parse_day(text) == expected


def test_parse_timestamp_needs_a_time():
    assert parse_timestamp("2020-05-30") is None
    assert parse_timestamp(" 2020-05-30T01:02:03 ") == utc(2020, 5, 30, 1, 2, 3)


def test_from_day_number_precision():
    assert from_day_number(60000.123456) == utc(2023, 2, 25, 2, 57, 46, 598400)
