"""The observation time of a header, as an aware UTC datetime, and the keyword it came from.

Sources, in decreasing trust (the first that gives a time wins):
DATE-OBS, then DATE_OBS (a timestamp, or a date alone with TIME-OBS / UT / UTSTART...),
the XISF Observation:Time:Start property, DATE-BEG, MJD-OBS / MJD_OBS, JD (values above
2,400,000 are Julian dates), JD-OBS, DATE-AVG less half the exposure, other dates with a time
of day (JCMT's UTDATE + UTSTART, UKIRT's IDATE + RUTSTART), then a date alone in DATE-OBS or
DATE_OBS (at the time of DATE when DATE is a timestamp of that same day, else at midnight),
and DATE last of all (usually when the file was written).

DATE-LOC is never used: it is the local wall clock with no offset, and the header layer does
not know the site's time zone. Turning it into UTC would be a guess, and a wrong date is worse
than none (it files the frame under the wrong night).

Times are in the scale TIMESYS names (UTC when absent) and are converted to UTC; DATE is UTC by
the FITS standard whatever TIMESYS says. A value that cannot be read is skipped, never raised.
"""

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta

from .datetext import at, parse_datetime, parse_day, parse_time_of_day, parse_timestamp
from .model import Card, CardValue
from .timescales import to_utc
from .values import HeaderValues, number_of

MJD_EPOCH = datetime(1858, 11, 17, tzinfo=UTC)
JD_MJD_OFFSET = 2_400_000.5
JD_ABOVE = 2_400_000  # day numbers above this are Julian dates, below modified Julian dates
DATE_KEYS = ("DATE-OBS", "DATE_OBS")
TIME_KEYS: tuple[str, ...] = (
    "TIME-OBS",
    "TIME_OBS",
    "UT",
    "UTSTART",
    "UT-START",
    "UT_START",
    "UTC-OBS",
)
TIME_KEYS += ("RUTSTART",)
DAY_NUMBER_KEYS = ("MJD-OBS", "MJD_OBS", "JD", "JD-OBS")
# Dates of observation under other names, used with a time of day only.
OTHER_DATE_KEYS = ("UTDATE", "UT-DATE", "UT_DATE", "IDATE")
EXPOSURE_FOR_AVERAGE = ("EXPTIME", "EXPOSURE", "EXP", "EXP_TIME", "XPOSURE")

Found = tuple[datetime, str]
# Sources named as their writers spell them (card keys are upper-cased when read).
LABELS = {"OBSERVATION:TIME:START": "Observation:Time:Start"}


def observation_start(values: HeaderValues) -> Found | None:
    """(UTC start of the observation, keyword it came from), or None when no source says."""
    timesys = values.text("TIMESYS")
    sources: tuple[Callable[[HeaderValues], Found | None], ...] = (
        lambda v: _dated(v, ("DATE-OBS",)),
        lambda v: _dated(v, ("DATE_OBS",)),
        lambda v: v.first(("OBSERVATION:TIME:START", "DATE-BEG"), _timestamp),
        lambda v: v.first(DAY_NUMBER_KEYS, _day_number),
        _date_avg,
        lambda v: _dated(v, OTHER_DATE_KEYS),
    )
    for source in sources:
        found = source(values)
        if found is not None:
            return to_utc(found[0], timesys), LABELS.get(found[1], found[1])
    return _date_alone(values)


def observation_time(values: Mapping[str, CardValue] | HeaderValues) -> datetime | None:
    """The UTC start of the observation alone (see `observation_start`)."""
    found = observation_start(HeaderValues.of(values))
    return found[0] if found else None


def from_day_number(value: CardValue) -> datetime | None:
    """A modified Julian date, or a Julian date (above 2,400,000)."""
    number = number_of(Card("", value, ""))
    if number is None or number < 0:
        return None
    mjd = number - JD_MJD_OFFSET if number > JD_ABOVE else number
    if mjd <= 0:  # 0 and -1 are common placeholders for "unknown"
        return None
    try:
        return MJD_EPOCH + timedelta(days=mjd)
    except OverflowError:
        return None


def _timestamp(card: Card) -> datetime | None:
    return parse_timestamp(card.value)


def _day_number(card: Card) -> datetime | None:
    return from_day_number(card.value)


def _dated(values: HeaderValues, keys: tuple[str, ...]) -> Found | None:
    """A timestamp in one of `keys`, or a date alone there with a time of day in TIME_KEYS."""
    for key in keys:
        for card in values.cards(key):
            parsed = _date_value(card)
            if parsed is None:
                continue
            day, clock = parsed
            clock = clock if clock is not None else _time_of_day(values)
            if clock is not None:
                found = at(day, clock)
                if found is not None:
                    return found, key
    return None


def _date_value(card: Card) -> tuple[date, timedelta | None] | None:
    value = card.value
    if isinstance(value, int) and not isinstance(value, bool) and 10_000_000 < value < 99_999_999:
        value = str(value)  # IDATE = 19980217
    return parse_datetime(value)


def _time_of_day(values: HeaderValues) -> timedelta | None:
    found = values.first(TIME_KEYS, lambda card: parse_time_of_day(card.value))
    return found[0] if found else None


def _date_avg(values: HeaderValues) -> Found | None:
    middle = values.value("DATE-AVG", _timestamp)
    if middle is None:
        return None
    found = values.first(EXPOSURE_FOR_AVERAGE, number_of)
    exposure = found[0] if found and found[0] > 0 else 0.0
    try:
        return middle - timedelta(seconds=exposure / 2), "DATE-AVG"
    except OverflowError:
        return None


def _date_alone(values: HeaderValues) -> Found | None:
    """A date alone in DATE-OBS / DATE_OBS, else DATE. DATE is UTC by the standard."""
    written = values.value("DATE", _timestamp)
    for key in DATE_KEYS:
        day = values.value(key, lambda card: parse_day(card.value))
        if day is not None:
            if written is not None and written.date() == day:
                return written, "DATE"
            midnight = at(day, timedelta(0))
            if midnight is not None:
                return to_utc(midnight, values.text("TIMESYS")), key
    if written is not None:
        return written, "DATE"
    day = values.value("DATE", lambda card: parse_day(card.value))
    midnight = at(day, timedelta(0)) if day else None
    return (midnight, "DATE") if midnight else None
