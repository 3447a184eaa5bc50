"""The observation time of a header, as an aware UTC datetime.

`values` maps upper-case card keys to card values. Sources, in decreasing trust: DATE-OBS
(with TIME-OBS, UT or UTSTART when it holds a date alone), the XISF Observation:Time:Start
property, DATE-BEG, MJD-OBS, JD, DATE-AVG less half the exposure, the date alone of DATE-OBS,
and DATE (usually when the file was written). DATE-LOC has no offset and is not guessed at.
Times without an offset are UTC; a value that cannot be read is skipped, never raised.
"""

import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta

from .model import CardValue

MJD_EPOCH = datetime(1858, 11, 17, tzinfo=UTC)
JD_MJD_OFFSET = 2_400_000.5
JD_ABOVE = 2_400_000  # day numbers above this are Julian dates, below modified Julian dates
ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
OLD_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2})")  # dd/mm/yy, 19yy (FITS before 2000)
TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d*))?)?")
ZONE = re.compile(r"Z|([+-])(\d{2})(?::?(\d{2}))?")
TIMESTAMP = re.compile(
    rf"(?P<date>{ISO_DATE.pattern})[T ](?P<time>{TIME.pattern})\s*(?P<zone>{ZONE.pattern})?"
)
TIME_KEYS = ("TIME-OBS", "UT", "UTSTART")
EXPOSURE_KEYS = ("EXPTIME", "EXPOSURE", "EXP")


def observation_time(values: Mapping[str, CardValue]) -> datetime | None:
    """When the observation started, in UTC, or None when no source says."""
    sources: tuple[Callable[[Mapping[str, CardValue]], datetime | None], ...] = (
        _date_obs,
        lambda v: parse_timestamp(v.get("OBSERVATION:TIME:START")),
        lambda v: parse_timestamp(v.get("DATE-BEG")),
        lambda v: from_day_number(v.get("MJD-OBS")),
        lambda v: from_day_number(v.get("JD")),
        _date_avg,
        lambda v: _midnight(parse_day(v.get("DATE-OBS"))),
        lambda v: parse_timestamp(v.get("DATE")) or _midnight(parse_day(v.get("DATE"))),
    )
    for source in sources:
        found = source(values)
        if found is not None:
            return found
    return None


def parse_timestamp(value: CardValue) -> datetime | None:
    """`2020-05-30T00:22:49.0968820` (digits past microseconds dropped), `...Z`, `...+00:00`."""
    match = TIMESTAMP.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match:
        return None
    day = parse_day(match["date"])
    offset = _offset(match["zone"])
    return _at(day, match["time"], offset)


def parse_day(value: CardValue) -> date | None:
    """The date of a date alone: `2020-05-30` or the old `30/05/98` (meaning 1998)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    iso = ISO_DATE.fullmatch(text)
    old = OLD_DATE.fullmatch(text)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if old:
            return date(1900 + int(old[3]), int(old[2]), int(old[1]))
    except ValueError:
        return None
    return None


def from_day_number(value: CardValue) -> datetime | None:
    """A modified Julian date, or a Julian date (above 2,400,000)."""
    number = _number(value)
    if number is None:
        return None
    mjd = number - JD_MJD_OFFSET if number > JD_ABOVE else number
    if mjd <= 0:  # 0 and -1 are common placeholders for "unknown"
        return None
    try:
        return MJD_EPOCH + timedelta(days=mjd)
    except OverflowError:
        return None


def _date_obs(values: Mapping[str, CardValue]) -> datetime | None:
    text = values.get("DATE-OBS")
    found = parse_timestamp(text)
    if found is not None or not isinstance(text, str):
        return found
    day = parse_day(text)
    if day is None:
        return None
    for key in TIME_KEYS:
        time = values.get(key)
        if isinstance(time, str) and TIME.fullmatch(time.strip()):
            found = _at(day, time.strip(), timedelta(0))
            if found is not None:
                return found
    return None


def _date_avg(values: Mapping[str, CardValue]) -> datetime | None:
    middle = parse_timestamp(values.get("DATE-AVG"))
    if middle is None:
        return None
    exposures = (_number(values.get(key)) for key in EXPOSURE_KEYS)
    exposure = next((seconds for seconds in exposures if seconds is not None), 0.0)
    try:
        return middle - timedelta(seconds=exposure / 2)
    except OverflowError:
        return None


def _at(day: date | None, time: str, offset: timedelta | None) -> datetime | None:
    """`day` at `time` (hh:mm[:ss[.fraction]]) less `offset`, in UTC."""
    match = TIME.fullmatch(time)
    if day is None or offset is None or not match:
        return None
    hours, minutes = int(match[1]), int(match[2])
    seconds = int(match[3] or 0)
    micro = int((match[4] or "").ljust(6, "0")[:6])
    if hours > 24 or minutes > 59 or seconds > 60:  # 60: a leap second; 24:00: midnight
        return None
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    clock = timedelta(hours=hours, minutes=minutes, seconds=seconds, microseconds=micro)
    try:
        return start + clock - offset
    except OverflowError:
        return None


def _offset(zone: str | None) -> timedelta | None:
    if not zone or zone == "Z":
        return timedelta(0)
    match = ZONE.fullmatch(zone)
    if not match or int(match[2]) > 23 or int(match[3] or 0) > 59:
        return None
    offset = timedelta(hours=int(match[2]), minutes=int(match[3] or 0))
    return -offset if match[1] == "-" else offset


def _midnight(day: date | None) -> datetime | None:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None


def _number(value: CardValue) -> float | None:
    """A finite non-negative number from a number or a numeric string."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) and number >= 0 else None
