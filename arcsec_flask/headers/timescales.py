"""Times in TT, TAI, GPS, UT1, TDB, TCG or TCB, as TIMESYS declares them, converted to UTC.

A table of leap seconds (TAI - UTC, from 1972) does what astropy.time would, in microseconds
and without its import cost or its urge to download a newer table: no leap second has been
announced since the end of 2016. Before 1972 UTC had no whole-second steps; 10 s is used there.
UT1 differs from UTC by less than 0.9 s and is taken as UTC; TDB differs from TT by less than
2 ms and is taken as TT. An unknown time scale (`LOCAL`, a typo) leaves the time as it is.
"""

from datetime import UTC, datetime, timedelta

UTC_NAMES = frozenset({"UTC", "UT", "Z", "GMT", "UT1", "UTC()"})
TT_MINUS_TAI = timedelta(seconds=32.184)
TAI_MINUS_GPS = timedelta(seconds=19)
# The dates (UTC) from which TAI - UTC took each value, in seconds.
LEAP_SECONDS = [
    ((1972, 1, 1), 10), ((1972, 7, 1), 11), ((1973, 1, 1), 12), ((1974, 1, 1), 13),
    ((1975, 1, 1), 14), ((1976, 1, 1), 15), ((1977, 1, 1), 16), ((1978, 1, 1), 17),
    ((1979, 1, 1), 18), ((1980, 1, 1), 19), ((1981, 7, 1), 20), ((1982, 7, 1), 21),
    ((1983, 7, 1), 22), ((1985, 7, 1), 23), ((1988, 1, 1), 24), ((1990, 1, 1), 25),
    ((1991, 1, 1), 26), ((1992, 7, 1), 27), ((1993, 7, 1), 28), ((1994, 7, 1), 29),
    ((1996, 1, 1), 30), ((1997, 7, 1), 31), ((1999, 1, 1), 32), ((2006, 1, 1), 33),
    ((2009, 1, 1), 34), ((2012, 7, 1), 35), ((2015, 7, 1), 36), ((2017, 1, 1), 37),
]  # fmt: skip
STEPS = [(datetime(*day, tzinfo=UTC), timedelta(seconds=s)) for day, s in LEAP_SECONDS]
# TCG and TCB run faster than TT and TDB by these rates since 1977-01-01T00:00:32.184 TAI.
TCG_RATE, TCB_RATE = 6.969290134e-10, 1.550519768e-8
EPOCH_1977 = datetime(1977, 1, 1, 0, 0, 32, 184000, tzinfo=UTC)


def to_utc(moment: datetime, timesys: str | None) -> datetime:
    """`moment` (read as if it were UTC) converted from the time scale `timesys` to UTC."""
    scale = (timesys or "UTC").strip().upper()
    if scale in UTC_NAMES:
        return moment
    try:
        if scale == "TCG":
            moment = moment - (moment - EPOCH_1977) * TCG_RATE / (1 + TCG_RATE)
            scale = "TT"
        elif scale == "TCB":
            moment = moment - (moment - EPOCH_1977) * TCB_RATE / (1 + TCB_RATE)
            scale = "TT"
        if scale in ("TT", "TDT", "ET", "TDB"):
            return tai_to_utc(moment - TT_MINUS_TAI)
        if scale in ("TAI", "IAT"):
            return tai_to_utc(moment)
        if scale == "GPS":
            return tai_to_utc(moment + TAI_MINUS_GPS)
    except OverflowError:
        return moment
    return moment


def tai_to_utc(tai: datetime) -> datetime:
    offset = STEPS[0][1]
    for start, step in STEPS:
        if tai - step < start:
            break
        offset = step
    return tai - offset
