"""Dates and times as header writers spell them, parsed without guessing at time zones.

Recognised, besides ISO 8601 (`2020-05-30T00:22:49.0968820`, `...Z`, `...+02:00`):
other separators (`2019/03/11 21:03:07`, `2019.03.11`, `2001:3:16`, `2006-09-11 T 23:12:51 UTC`),
compact digits (`20190311T210307`, `20190311210307`, `20190311`), month names (`11-Mar-19`,
`11 MAR 2019`, `Mar 11 2019 21:03:07`), day-first dates (`30/05/98`: the old FITS `dd/mm/yy`,
always 19yy; `11/03/2019`) and US month-first dates when the day cannot be a month
(`03/30/2019`). Two-digit years other than the old FITS form are 19yy from 50 on, else 20yy.
Anything else gives None: a value that cannot be read is skipped, never raised.
"""

import re
from datetime import UTC, date, datetime, timedelta

from .model import CardValue

MONTH_NAMES = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
MONTHS = {name: number for number, name in enumerate(MONTH_NAMES, start=1)}
MONTH = r"(?P<month_name>jan|feb|mar|apr|may|jun|jul|aug|sept|sep|oct|nov|dec)[a-z]*\.?"
TIME = r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d*))?)?"
ZONE = r"(?P<zone>Z|UTC|UT|GMT|[+-]\d{2}(?::?\d{2})?)"
SEP = r"[-/.: ]"
DATE_FORMS = [
    # year first: 2019-03-11, 2019/3/11, 2001:3:16, 2019.03.11
    rf"(?P<year>\d{{4}}){SEP}(?P<month>\d{{1,2}}){SEP}(?P<day>\d{{1,2}})",
    # compact digits: 20190311 (a time may follow, with or without T)
    r"(?P<cyear>\d{4})(?P<cmonth>\d{2})(?P<cday>\d{2})",
    # month names: 11-Mar-19, 11 MAR 2019, Mar 11 2019, March 11, 2019
    rf"(?P<nday>\d{{1,2}})[- ]?{MONTH}[- ]?(?P<nyear>\d{{4}}|\d{{2}})",
    rf"{MONTH.replace('month_name', 'month_name2')} (?P<mday>\d{{1,2}}),? (?P<myear>\d{{4}})",
    # day or month first with the year last: 30/05/98, 11/03/2019, 11.03.2019, 03-30-2019
    r"(?P<first>\d{1,2})(?P<slash>[-/.])(?P<second_>\d{1,2})(?P=slash)(?P<lyear>\d{4}|\d{2})",
]
DATE = "|".join(f"(?:{form})" for form in DATE_FORMS)
COMPACT_TIME = r"(?P<chour>\d{2})(?P<cminute>\d{2})(?P<csecond>\d{2})(?:\.(?P<cfraction>\d*))?"
TIMESTAMP = re.compile(
    rf"(?:{DATE})(?:(?:\s*T\s*|\s+|(?<=\d))(?:{TIME}|{COMPACT_TIME}))?\s*{ZONE}?",
    re.IGNORECASE,
)
TIME_ALONE = re.compile(rf"{TIME}\s*{ZONE}?", re.IGNORECASE)


def parse_datetime(value: object) -> tuple[date, timedelta | None] | None:
    """(date, time of day or None) of a date with or without a time, in UTC when a zone says so;
    None when `value` is not a date. A time with an unknown zone gives None."""
    if not isinstance(value, str):
        return None
    match = TIMESTAMP.fullmatch(value.strip())
    if not match:
        return None
    day = _day(match)
    if day is None:
        return None
    clock = _clock(match, compact=match["chour"] is not None)
    if isinstance(clock, bool):
        return None
    offset = _offset(match["zone"])
    if offset is None:
        return None
    if clock is None:
        return day, None
    try:
        moment = datetime(day.year, day.month, day.day) + clock - offset
    except OverflowError:
        return None
    return moment.date(), moment - datetime(moment.year, moment.month, moment.day)


def parse_timestamp(value: object) -> datetime | None:
    """An aware UTC datetime from a date with a time; None for a date alone or anything else."""
    parsed = parse_datetime(value)
    if parsed is None or parsed[1] is None:
        return None
    return at(parsed[0], parsed[1])


def parse_day(value: object) -> date | None:
    """The date of a date written alone (no time)."""
    parsed = parse_datetime(value)
    return parsed[0] if parsed and parsed[1] is None else None


def parse_time_of_day(value: CardValue) -> timedelta | None:
    """`03:04:05.25` (a zone may follow), or a number of hours (`8.000172`, UKIRT's RUTSTART)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return timedelta(hours=value) if 0 <= value < 24 else None
    if not isinstance(value, str):
        return None
    match = TIME_ALONE.fullmatch(value.strip())
    offset = _offset(match["zone"]) if match else None
    if match is None or offset is None:
        return None
    clock = _clock(match, compact=False)
    return clock - offset if isinstance(clock, timedelta) else None


def at(day: date, clock: timedelta) -> datetime | None:
    try:
        return datetime(day.year, day.month, day.day, tzinfo=UTC) + clock
    except OverflowError:
        return None


def _day(match: re.Match[str]) -> date | None:
    if match["year"]:
        parts = int(match["year"]), int(match["month"]), int(match["day"])
    elif match["cyear"]:
        parts = int(match["cyear"]), int(match["cmonth"]), int(match["cday"])
    elif match["nday"]:
        parts = _year(match["nyear"]), MONTHS[match["month_name"][:3].lower()], int(match["nday"])
    elif match["mday"]:
        parts = int(match["myear"]), MONTHS[match["month_name2"][:3].lower()], int(match["mday"])
    else:
        first, second = int(match["first"]), int(match["second_"])
        year = match["lyear"]
        # The old FITS dd/mm/yy form means 19yy; other two-digit years pivot at 50.
        full = 1900 + int(year) if len(year) == 2 and match["slash"] == "/" else _year(year)
        day, month = (second, first) if second > 12 and first <= 12 else (first, second)
        parts = full, month, day
    try:
        return date(*parts)
    except ValueError:
        return None


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        year += 1900 if year >= 50 else 2000
    return year


def _clock(match: re.Match[str], compact: bool) -> timedelta | bool | None:
    """The time of day, None when there is none, True when it is not a valid time."""
    names = ("chour", "cminute", "csecond", "cfraction") if compact else TIME_GROUPS
    hour, minute, second, fraction = (match[name] for name in names)
    if hour is None:
        return None
    hours, minutes, seconds = int(hour), int(minute), int(second or 0)
    if hours > 24 or minutes > 59 or seconds > 60:  # 60: a leap second; 24:00: midnight
        return True
    micro = int((fraction or "").ljust(6, "0")[:6])
    return timedelta(hours=hours, minutes=minutes, seconds=seconds, microseconds=micro)


TIME_GROUPS = ("hour", "minute", "second", "fraction")


def _offset(zone: str | None) -> timedelta | None:
    if not zone or zone.upper() in ("Z", "UTC", "UT", "GMT"):
        return timedelta(0)
    hours, minutes = int(zone[1:3]), int(zone[3:].lstrip(":") or 0)
    if hours > 23 or minutes > 59:
        return None
    offset = timedelta(hours=hours, minutes=minutes)
    return -offset if zone[0] == "-" else offset
