"""The calibration matching rules, without a database: tolerances, order, dark-flats."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arcsec_flask.domain.calibration import (
    KINDS,
    Frame,
    check_light,
    match_calibrations,
    window_bounds,
)
from arcsec_flask.domain.errors import Invalid

NIGHT = datetime(2024, 3, 1, 21, 0, tzinfo=UTC)
WINDOW = timedelta(days=30)
LIGHT = Frame(
    id=1,
    frame_type="light",
    date_obs=NIGHT,
    exposure_time=300.0,
    filter_name="Ha",
    binning="1x1",
    ccd_temperature=-10.0,
    instrument_name="ZWO ASI2600MM Pro",
)


def frame(id: int, frame_type: str, hours: float = 1.0, **values) -> Frame:
    """A calibration frame like the light (camera, binning, exposure, temperature, filter),
    `hours` after it, with `values` changed."""
    base = replace(LIGHT, id=id, frame_type=frame_type, date_obs=NIGHT + timedelta(hours=hours))
    return replace(base, **values)


def chosen(candidates, light=LIGHT, window=WINDOW, limit=100) -> dict[str, list[int]]:
    found = match_calibrations(light, candidates, window, limit)
    return {kind: [m.frame_id for m in matches] for kind, matches in found.items()}


# (what the candidate changes, whether it still matches the light)
DARKS = [
    ({}, True),
    ({"exposure_time": 303.0}, True),  # 1 %, exactly
    ({"exposure_time": 297.0}, True),
    ({"exposure_time": 303.1}, False),
    ({"exposure_time": 296.9}, False),
    ({"exposure_time": None}, False),
    ({"ccd_temperature": -12.0}, True),  # 2 degrees, exactly
    ({"ccd_temperature": -8.0}, True),
    ({"ccd_temperature": -12.1}, False),
    ({"ccd_temperature": -7.9}, False),
    ({"ccd_temperature": None}, False),  # the light records one: the dark must
    ({"binning": "2x2"}, False),
    ({"binning": None}, False),
    ({"filter_name": "OIII"}, True),  # a dark has no filter to match
    ({"filter_name": None}, True),
    ({"instrument_name": "QHY268M"}, False),
    ({"instrument_name": "zwo  asi2600mm pro"}, True),  # case and spaces aside
    ({"instrument_name": None}, True),  # not named: not excluded
    ({"hours": 30 * 24}, True),  # the window's edge
    ({"hours": -30 * 24}, True),
    ({"hours": 30 * 24 + 0.01}, False),
    ({"hours": -30 * 24 - 0.01}, False),
    ({"date_obs": None}, False),
]


@pytest.mark.parametrize("change, matches", DARKS)
def test_dark_tolerances(change, matches):
    change = dict(change)
    hours = change.pop("hours", 1.0)
    candidate = frame(2, "dark", hours, **change)
    assert chosen([candidate])["dark"] == ([2] if matches else [])


FLATS = [
    ({}, True),
    ({"filter_name": "ha"}, True),
    ({"filter_name": "OIII"}, False),
    ({"filter_name": None}, False),
    ({"binning": "2x2"}, False),
    ({"exposure_time": 2.5, "ccd_temperature": 5.0}, True),  # neither matters for a flat
    ({"instrument_name": "QHY268M"}, False),
]


@pytest.mark.parametrize("change, matches", FLATS)
def test_flat_tolerances(change, matches):
    assert chosen([frame(2, "flat", **change)])["flat"] == ([2] if matches else [])


BIASES = [
    ({"exposure_time": 0.0, "ccd_temperature": 20.0, "filter_name": "L"}, True),
    ({"binning": "2x2"}, False),
    ({"instrument_name": "QHY268M"}, False),
]


@pytest.mark.parametrize("change, matches", BIASES)
def test_bias_tolerances(change, matches):
    assert chosen([frame(2, "bias", **change)])["bias"] == ([2] if matches else [])


def test_a_light_without_temperature_or_filter_matches_on_the_rest():
    light = replace(LIGHT, ccd_temperature=None, filter_name=None)
    candidates = [
        frame(2, "dark", ccd_temperature=25.0),
        frame(3, "dark", ccd_temperature=None, exposure_time=301.0),
        frame(4, "flat", filter_name=None),
        frame(5, "flat", filter_name="L"),
    ]
    assert chosen(candidates, light) == {"bias": [], "dark": [2, 3], "flat": [4], "dark_flat": []}
    (match, _) = match_calibrations(light, candidates, WINDOW, 10)["dark"]
    assert match.delta_temperature is None and match.delta_exposure == 0.0


def test_a_light_without_exposure_gets_no_dark():
    light = replace(LIGHT, exposure_time=None)
    assert chosen([frame(2, "dark", exposure_time=None), frame(3, "dark")], light)["dark"] == []


def test_nearest_first_either_side_then_the_lower_id():
    candidates = [
        frame(10, "bias", 5.0),
        frame(11, "bias", -2.0),
        frame(12, "bias", 2.0),
        frame(9, "bias", -2.0),
        frame(13, "bias", -0.5),
    ]
    assert chosen(candidates)["bias"] == [13, 9, 11, 12, 10]


def test_masters_come_before_single_frames_even_when_further():
    candidates = [
        frame(2, "dark", 1.0),
        frame(3, "master-dark", 24 * 10),
        frame(4, "master-dark", -24 * 3),
        frame(5, "master-flat", 48),
        frame(6, "flat", 0.5),
        frame(7, "master-bias", 100),
        frame(8, "bias", 1),
    ]
    assert chosen(candidates) == {
        "bias": [7, 8],
        "dark": [4, 3, 2],
        "flat": [5, 6],
        "dark_flat": [],
    }
    master = match_calibrations(LIGHT, candidates, WINDOW, 1)["dark"][0]
    assert master.master and master.reason.startswith("master, ")


def test_the_limit_keeps_the_best():
    candidates = [frame(i, "bias", float(i)) for i in range(2, 12)]
    assert chosen(candidates, limit=3)["bias"] == [2, 3, 4]


def test_other_frame_types_and_the_light_itself_are_never_chosen():
    candidates = [
        frame(1, "bias"),  # the light's own id
        frame(2, "light"),
        frame(3, "arc"),
        frame(4, "lamp"),
        frame(5, "other-calibration"),
        frame(6, None),
    ]
    assert chosen(candidates) == {kind: [] for kind in KINDS}


def test_dark_flats_match_the_best_flat_not_the_light():
    flat = frame(20, "flat", 9.0, exposure_time=2.0, ccd_temperature=-5.0)
    further_flat = frame(21, "flat", 30.0, exposure_time=4.0, ccd_temperature=-10.0)
    candidates = [
        flat,
        further_flat,
        frame(30, "dark-flat", 9.2, exposure_time=2.0, ccd_temperature=-5.5),
        frame(31, "dark-flat", 8.5, exposure_time=2.01, ccd_temperature=-4.0),
        frame(32, "dark-flat", 30.1, exposure_time=4.0, ccd_temperature=-10.0),  # the other's
        frame(33, "dark-flat", 9.0, exposure_time=2.0, ccd_temperature=-8.0),  # 3 degrees off
        frame(34, "master-dark-flat", 100.0, exposure_time=2.0, ccd_temperature=-5.0),
        frame(35, "dark-flat", 9.0, exposure_time=300.0),  # the light's exposure: no
        frame(36, "dark-flat", 9.0, exposure_time=2.0, binning="2x2", ccd_temperature=-5.0),
    ]
    found = match_calibrations(LIGHT, candidates, WINDOW, 100)
    assert [m.frame_id for m in found["flat"]] == [20, 21]
    assert [m.frame_id for m in found["dark_flat"]] == [34, 30, 31]  # nearest to the flat
    first = found["dark_flat"][1]
    assert first.for_flat == 20 and first.details()["for_flat"] == 20
    assert first.delta_time == pytest.approx(9.2 * 3600)  # from the light
    assert first.delta_temperature == pytest.approx(-0.5) and first.delta_exposure == 0.0
    assert "of the flat" not in first.reason and "after the flat" in first.reason


def test_no_flat_no_dark_flat():
    candidates = [frame(30, "dark-flat", exposure_time=2.0), frame(31, "flat", filter_name="L")]
    assert chosen(candidates)["dark_flat"] == []


def test_match_details_and_reason():
    dark = frame(2, "dark", -2.5, exposure_time=300.5, ccd_temperature=-10.8)
    (match,) = match_calibrations(LIGHT, [dark], WINDOW, 10)["dark"]
    assert match.details() == {
        "kind": "dark",
        "master": False,
        "delta_time": -9000.0,
        "delta_exposure": 0.5,
        "delta_temperature": pytest.approx(-0.8),
        "reason": "binning 1x1, exposure 300.5 s within 1 % of 300 s,"
        " temperature -10.8 °C within 2 °C of -10 °C, 2.5 h before the light",
        "fallback": False,
    }
    flat = frame(3, "flat", 24 * 3)
    (match,) = match_calibrations(LIGHT, [flat], WINDOW, 10)["flat"]
    assert match.reason == "filter Ha, binning 1x1, 3.0 days after the light"
    assert match.delta_exposure is None and match.delta_temperature is None


def test_fallback_frames_come_after_every_frame_of_the_telescope_and_say_so():
    near = replace(frame(2, "bias", 0.1), fallback=True)
    master = replace(frame(3, "master-bias", 1.0), fallback=True, telescope_name="RC8")
    far = frame(4, "bias", 24 * 20)
    chosen = match_calibrations(LIGHT, [near, master, far], WINDOW, 10)["bias"]
    assert [m.frame_id for m in chosen] == [4, 3, 2]  # then masters first, then nearest
    assert [m.fallback for m in chosen] == [False, True, True]
    assert chosen[0].reason == "binning 1x1, 20.0 days after the light"
    assert chosen[1].reason == (
        "master, binning 1x1, 1.0 h after the light; from a dataset without telescope"
        " (header telescope RC8), after the telescope's own frames"
    )
    assert chosen[2].reason.endswith("(none named), after the telescope's own frames")
    assert chosen[2].details()["fallback"] is True


def row(**values):
    base = {
        "id": 7,
        "header_status": "read",
        "frame_type": "light",
        "date_obs": "2024-03-01T21:00:00.000000Z",
        "exposure_time": 60.0,
    }
    return {**base, **values}


@pytest.mark.parametrize(
    "values, words",
    [
        ({"frame_type": "dark"}, "is a dark frame, not a light"),
        ({"frame_type": "master-flat"}, "is a master-flat frame, not a light"),
        ({"header_status": "unreadable", "frame_type": None}, "header could not be read"),
        ({"header_status": "none", "frame_type": None}, "not a FITS or XISF file"),
        ({"date_obs": None}, "no observation time"),
        ({"date_obs": "1-01-10T00:00:00.000000Z"}, "no observation time"),  # old text
    ],
)
def test_what_is_not_a_light_to_match(values, words):
    with pytest.raises(Invalid) as raised:
        check_light(row(**values))
    assert words in raised.value.detail and "Data file 7" in raised.value.detail


def test_a_light_row_becomes_a_frame():
    light = check_light(row(binning="2x2", ccd_temperature=-5.0, instrument_name="QHY"))
    assert light == Frame(
        7,
        "light",
        datetime(2024, 3, 1, 21, tzinfo=UTC),
        exposure_time=60.0,
        binning="2x2",
        ccd_temperature=-5.0,
        instrument_name="QHY",
    )


# Properties: random candidates around the light, checked against the rules restated.
TYPES = ["bias", "dark", "flat", "dark-flat", "master-bias", "master-dark", "master-flat"]
candidate_frames = st.builds(
    lambda i, t, h, e, f, b, c, n: Frame(i, t, NIGHT + timedelta(hours=h), e, f, b, c, n),
    i=st.integers(2, 10_000),
    t=st.sampled_from([*TYPES, "light", "arc"]),
    h=st.floats(-40 * 24, 40 * 24),
    e=st.one_of(st.none(), st.sampled_from([297.0, 299.0, 300.0, 303.0, 304.0, 60.0])),
    f=st.one_of(st.none(), st.sampled_from(["Ha", "OIII", "ha"])),
    b=st.one_of(st.none(), st.sampled_from(["1x1", "2x2"])),
    c=st.one_of(st.none(), st.floats(-14.0, -6.0)),
    n=st.one_of(st.none(), st.sampled_from(["ZWO ASI2600MM Pro", "QHY268M"])),
)
candidate_lists = st.lists(candidate_frames, max_size=40, unique_by=lambda f: f.id)


def suits(frame: Frame, kind: str) -> bool:
    """The rules, written out again for one candidate and the light (not dark-flats)."""
    if frame.frame_type not in KINDS[kind] or frame.date_obs is None:
        return False
    if abs(frame.date_obs - NIGHT) > WINDOW or frame.binning != LIGHT.binning:
        return False
    if frame.instrument_name not in (None, LIGHT.instrument_name):
        return False
    if kind == "flat":
        return (frame.filter_name or "").lower() == "ha"
    if kind == "dark":
        if frame.exposure_time is None or abs(frame.exposure_time - 300) > 3:
            return False
        return frame.ccd_temperature is not None and abs(frame.ccd_temperature + 10) <= 2
    return True


@settings(max_examples=200, deadline=None)
@given(candidate_lists)
def test_exactly_the_suitable_frames_masters_then_nearest(candidates):
    found = match_calibrations(LIGHT, candidates, WINDOW, 1000)
    by_id = {c.id: c for c in candidates}
    for kind in ("bias", "dark", "flat"):
        ids = [m.frame_id for m in found[kind]]
        assert set(ids) == {c.id for c in candidates if suits(c, kind)}
        keys = [
            (not by_id[i].is_master, abs(by_id[i].date_obs - NIGHT), i)  # type: ignore[operator]
            for i in ids
        ]
        assert keys == sorted(keys)


@settings(max_examples=100, deadline=None)
@given(candidate_lists, st.randoms(use_true_random=False), st.integers(1, 5))
def test_the_order_of_the_rows_never_matters(candidates, shuffler, limit):
    shuffled = list(candidates)
    shuffler.shuffle(shuffled)
    assert chosen(shuffled, limit=limit) == chosen(candidates, limit=limit)
    assert all(len(ids) <= limit for ids in chosen(candidates, limit=limit).values())


def test_the_window_stays_within_the_years_datetime_holds():
    day = timedelta(days=30)
    assert window_bounds(NIGHT, day) == (NIGHT - day, NIGHT + day)
    early = datetime(1, 1, 10, tzinfo=UTC)
    assert window_bounds(early, day) == (datetime.min.replace(tzinfo=UTC), early + day)
    late = datetime(9999, 12, 25, tzinfo=UTC)
    assert window_bounds(late, day) == (late - day, datetime.max.replace(tzinfo=UTC))
