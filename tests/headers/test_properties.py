"""Property tests of date parsing and of the night rule (a night runs from local noon to the
next local noon at the site; its date is the date of its evening)."""

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from arcsec_flask.domain.nights import night_bounds, night_date
from arcsec_flask.headers.datetext import parse_timestamp
from arcsec_flask.headers.model import Card
from arcsec_flask.headers.summary import summarize

ZONES = sorted(available_timezones())
PROPERTIES = settings(max_examples=200, deadline=None)
instants = st.datetimes(
    min_value=datetime(1972, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
zones = st.sampled_from(ZONES)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@PROPERTIES
@given(instants, zones)
def test_every_instant_lies_in_exactly_the_night_it_is_given(instant, zone):
    start, end = night_bounds(night_date(instant, zone), zone)
    assert start <= instant < end
    # The neighbouring nights do not hold it: exactly one night does.
    before = night_bounds(night_date(instant, zone) - timedelta(days=1), zone)
    after = night_bounds(night_date(instant, zone) + timedelta(days=1), zone)
    assert before[1] <= instant < after[0]


@PROPERTIES
@given(instants, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)), zones)
def test_nights_never_go_back_in_time(instant, later, zone):
    assume(instant + later < datetime(2100, 1, 2, tzinfo=UTC))
    assert night_date(instant, zone) <= night_date(instant + later, zone)


@PROPERTIES
@given(st.dates(min_value=date(1972, 1, 2), max_value=date(2099, 12, 30)), zones)
def test_local_noon_opens_the_night_in_every_zone(night, zone):
    noon = datetime(night.year, night.month, night.day, 12, tzinfo=ZoneInfo(zone))
    instant = noon.astimezone(UTC)
    # Skip the rare days when 12:00 does not exist or happens twice on the local clock.
    assume(instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None) == noon.replace(tzinfo=None))
    assume(noon.replace(fold=1).utcoffset() == noon.utcoffset())
    assert night_date(instant, zone) == night
    assert night_date(instant - timedelta(microseconds=1), zone) == night - timedelta(days=1)
    assert night_bounds(night, zone)[0] == instant


@PROPERTIES
@given(st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2999, 12, 30)), offsets)
def test_iso_timestamps_round_trip_to_the_same_instant(moment, offset):
    aware = moment.replace(tzinfo=offset)
    for text in (aware.isoformat(), aware.isoformat(sep=" ")):
        assert parse_timestamp(text) == aware
    naive = moment.isoformat(timespec="microseconds")  # FITS: no offset means UTC
    assert parse_timestamp(naive) == moment.replace(tzinfo=UTC)


@PROPERTIES
@given(st.datetimes(min_value=datetime(1972, 1, 2), max_value=datetime(2999, 12, 30)))
def test_compact_and_slashed_forms_give_the_same_instant_as_iso(moment):
    moment = moment.replace(microsecond=0)
    expected = moment.replace(tzinfo=UTC)
    forms = [
        moment.strftime("%Y%m%dT%H%M%S"),
        moment.strftime("%Y%m%d%H%M%S"),
        moment.strftime("%Y/%m/%d %H:%M:%S"),
        moment.strftime("%d %b %Y %H:%M:%S"),
    ]
    for text in forms:
        assert parse_timestamp(text) == expected, text


@PROPERTIES
@given(instants)
def test_a_header_date_obs_gives_its_instant_and_source(instant):
    text = instant.replace(tzinfo=None).isoformat(timespec="milliseconds")
    info = summarize("fits", None, [Card("DATE-OBS", text, "")])
    assert info.date_obs == instant.replace(microsecond=instant.microsecond // 1000 * 1000)
    assert info.date_obs_source == "DATE-OBS"
