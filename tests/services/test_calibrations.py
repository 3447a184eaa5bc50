"""services/calibrations.choose_all: the SQL pre-filter and the widening spans, then the
rules, choose exactly what the rules alone choose among every frame of the scope."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arcsec_flask.domain.calibration import KINDS, Frame, match_calibrations
from arcsec_flask.headers import HeaderInfo
from arcsec_flask.repo import calibration_match, datafiles, datasets, telescopes
from arcsec_flask.services.calibrations import choose_all

NIGHT = datetime(2024, 3, 1, 21, 0, tzinfo=UTC)
WINDOW = timedelta(days=30)
TYPES = [t for types in KINDS.values() for t in types]
# Few characters, so that filters and cameras often fold (case, spaces) to one another;
# some beyond ASCII (the Kelvin sign folds to k, ß to ss, a no-break space is a space).
FOLDING = "Hhaß sSk\u212a\t\u00a0"

frame_values = st.fixed_dictionaries(
    {
        "frame_type": st.one_of(st.sampled_from(TYPES), st.sampled_from(["light", "arc"])),
        # Equal distances (ids break the tie) and spread-out ones, the window's edge too.
        "hours": st.one_of(
            st.sampled_from([1.0, -1.0, 2.0, 30 * 24.0, -30 * 24.0]), st.floats(-40 * 24, 40 * 24)
        ),
        "exposure_time": st.one_of(
            st.none(), st.sampled_from([2.0, 2.02, 2.03, 297.0, 300.0, 303.0, 304.0])
        ),
        "filter_name": st.one_of(st.none(), st.text(FOLDING, max_size=3)),
        "binning": st.one_of(st.just("1x1"), st.sampled_from([None, "2x2"])),
        "ccd_temperature": st.one_of(st.floats(-14.0, -6.0), st.sampled_from([None, -12.0])),
        "instrument_name": st.one_of(st.none(), st.sampled_from(["ZWO", "zwo ", "QHY"])),
    }
)
light_values = st.fixed_dictionaries(
    {
        "exposure_time": st.sampled_from([None, 300.0]),
        "filter_name": st.one_of(st.none(), st.text(FOLDING, max_size=3)),
        "binning": st.one_of(st.just("1x1"), st.none()),
        "ccd_temperature": st.sampled_from([None, -10.0]),
        "instrument_name": st.sampled_from([None, "ZWO"]),
        "telescope_name": st.sampled_from([None, "RC8", "RC 8"]),
    }
)
USERS = itertools.count()


def insert(conn, owner_id: int, dataset: dict, name: str, values: dict) -> dict:
    values = dict(values)
    when = NIGHT + timedelta(hours=values.pop("hours", 0.0), seconds=values.pop("seconds", 0.0))
    info = HeaderInfo("fits", None, date_obs=when, **values)
    stored = datafiles.StoredFile(name, f"{dataset['uuid']}/{name}", 1, "0" * 64)
    return datafiles.create(conn, owner_id, dataset, stored, info, {})


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    light=light_values,
    frames=st.lists(frame_values, max_size=40),
    unregistered=st.lists(frame_values, max_size=40),
    limit=st.integers(1, 4),
    first=st.sampled_from([timedelta(minutes=1), timedelta(hours=1), timedelta(days=1), WINDOW]),
)
def test_the_sql_prefilter_then_the_rules_equal_the_rules_alone(
    db, make_user, light, frames, unregistered, limit, first
):
    """The light's telescope's dataset, and a dataset without telescope whose frames'
    headers name the light's telescope (as its header does, or as it is registered),
    another, or none: the weaker candidates are those not naming another."""
    owner_id = make_user(f"u{next(USERS)}").account["id"]  # one account per example
    dataset = archive(db, owner_id)
    light_row = insert(
        db, owner_id, dataset, "light.fits", {**light, "frame_type": "light", "hours": 0.0}
    )
    for i, values in enumerate(frames):
        insert(db, owner_id, dataset, f"f{i}.fits", values)
    made = datasets.create(db, owner_id, {"name": "library"})
    (library_id,) = db.execute("SELECT id FROM datasets WHERE uuid = ?", (made["uuid"],)).fetchone()
    library = {"id": library_id, "uuid": made["uuid"]}
    for i, values in enumerate(unregistered):
        named = ("RC8", "C14", None, light["telescope_name"])[i % 4]
        insert(db, owner_id, library, f"u{i}.fits", {**values, "telescope_name": named})
    light_frame = Frame.from_row(light_row)
    scope = calibration_match.scope_of(db, owner_id, light_row["id"])
    assert scope["by"] == "telescope"
    every = [
        Frame.from_row(dict(r))
        for r in db.execute(
            f"SELECT {calibration_match.RULE_COLUMNS}, f.dataset_id = :library AS fallback"
            " FROM datafiles f WHERE f.dataset_id = :dataset OR (f.dataset_id = :library"
            " AND (f.telescope_name IS NULL OR f.telescope_name IN ('RC8', :named)))",
            {"dataset": dataset["id"], "library": library_id, "named": light["telescope_name"]},
        )
    ]
    expected = match_calibrations(light_frame, every, WINDOW, limit)
    assert choose_all(db, owner_id, scope, light_frame, WINDOW, limit, first) == expected


def archive(db, owner_id: int) -> dict:
    """A dataset of a new telescope: the scope of what is inserted in it alone."""
    scope_telescope = telescopes.create(db, owner_id, {"name": "RC8"})
    made = datasets.create(db, owner_id, {"name": "run", "telescope": scope_telescope["uuid"]})
    (dataset_id,) = db.execute("SELECT id FROM datasets WHERE uuid = ?", (made["uuid"],)).fetchone()
    return {"id": dataset_id, "uuid": made["uuid"]}


@pytest.mark.parametrize(
    "light_filter, flat_filter",
    [
        ("Ha", " HA "),
        ("H a", "h  a"),  # two spaces in a row
        ("H a", "H\ta"),  # a tab is a space to the rules
        ("Ha", "\u00a0Ha"),  # so is a no-break space
        ("ss", "SS"),
        ("ss", "ß"),  # folds to ss
        ("k", "\u212a"),  # the Kelvin sign folds to k
        (None, ""),
        (None, " \t"),
        ("", None),
    ],
)
def test_the_sql_never_leaves_out_a_flat_whose_filter_folds_to_the_lights(
    db, alice, light_filter, flat_filter
):
    owner_id = alice.account["id"]
    dataset = archive(db, owner_id)
    common = {"binning": "1x1", "exposure_time": 2.0}
    light = {**common, "frame_type": "light", "hours": 0.0, "filter_name": light_filter}
    light_row = insert(db, owner_id, dataset, "light.fits", light)
    flat = {**common, "frame_type": "flat", "hours": 1.0, "filter_name": flat_filter}
    flat_row = insert(db, owner_id, dataset, "flat.fits", flat)
    insert(db, owner_id, dataset, "other.fits", {**flat, "filter_name": "OIII"})
    scope = calibration_match.scope_of(db, owner_id, light_row["id"])
    chosen = choose_all(db, owner_id, scope, Frame.from_row(light_row), WINDOW, 5)
    assert [m.frame_id for m in chosen["flat"]] == [flat_row["id"]]


def test_the_spans_widen_until_the_limit_is_met_masters_first_however_far(db, alice):
    """Limit 3, spans of 10 min, 20, 40...: the frames the rules refuse are the nearest, the
    two that suit come in the third span; a master, furthest, comes before all."""
    owner_id = alice.account["id"]
    dataset = archive(db, owner_id)
    light = {"frame_type": "light", "hours": 0.0, "binning": "1x1", "exposure_time": 300.0}
    light["instrument_name"] = "ZWO"
    light_row = insert(db, owner_id, dataset, "light.fits", light)
    dark = {"frame_type": "dark", "binning": "1x1", "exposure_time": 300.0}
    for i in range(6):  # another camera: the SQL reads them, the rules refuse them
        insert(
            db,
            owner_id,
            dataset,
            f"qhy{i}.fits",
            {**dark, "hours": 0.1 + i / 100, "instrument_name": "QHY"},
        )
    near = insert(db, owner_id, dataset, "near.fits", {**dark, "hours": -0.5})
    far = insert(db, owner_id, dataset, "far.fits", {**dark, "hours": 0.6})
    insert(db, owner_id, dataset, "further.fits", {**dark, "hours": 0.7})
    master = insert(
        db, owner_id, dataset, "master.fits", {**dark, "frame_type": "master-dark", "hours": 200.0}
    )
    scope = calibration_match.scope_of(db, owner_id, light_row["id"])
    light_frame = Frame.from_row(light_row)
    chosen = choose_all(db, owner_id, scope, light_frame, WINDOW, 3, timedelta(minutes=10))
    assert [m.frame_id for m in chosen["dark"]] == [master["id"], near["id"], far["id"]]


def test_a_frame_at_the_edge_of_a_span_is_read_with_it(db, alice):
    """Spans of 30 min, 60, 120...: two biases exactly 30 min either side, one just beyond;
    limit 2 is met within the first span, the later id at the same distance second."""
    owner_id = alice.account["id"]
    dataset = archive(db, owner_id)
    light_row = insert(db, owner_id, dataset, "light.fits", {"frame_type": "light"})
    bias = {"frame_type": "bias"}
    insert(db, owner_id, dataset, "beyond.fits", {**bias, "seconds": 1800.000001})
    after = insert(db, owner_id, dataset, "after.fits", {**bias, "seconds": 1800.0})
    before = insert(db, owner_id, dataset, "before.fits", {**bias, "seconds": -1800.0})
    scope = calibration_match.scope_of(db, owner_id, light_row["id"])
    light_frame = Frame.from_row(light_row)
    for first in (timedelta(minutes=30), timedelta(minutes=29), timedelta(days=1)):
        chosen = choose_all(db, owner_id, scope, light_frame, WINDOW, 2, first)
        assert [m.frame_id for m in chosen["bias"]] == [after["id"], before["id"]], first


def test_a_kind_with_nothing_in_the_window_costs_two_reads_per_tier(db, alice):
    """Biases only: the other kinds read their masters and find, in one more read, that no
    single frame of theirs is in the window, instead of reading every widening span."""
    owner_id = alice.account["id"]
    dataset = archive(db, owner_id)
    light = {"frame_type": "light", "binning": "1x1", "exposure_time": 300.0}
    light_row = insert(db, owner_id, dataset, "light.fits", light)
    for i in range(3):
        bias = {"frame_type": "bias", "binning": "1x1", "hours": 3.0 * i}
        insert(db, owner_id, dataset, f"bias{i}.fits", bias)
    scope = calibration_match.scope_of(db, owner_id, light_row["id"])
    reads: list[str] = []
    db.set_trace_callback(lambda sql: reads.append(sql) if "f.id, f.frame_type" in sql else None)
    try:
        chosen = choose_all(db, owner_id, scope, Frame.from_row(light_row), WINDOW, 10)
    finally:
        db.set_trace_callback(None)
    assert len(chosen["bias"]) == 3 and not chosen["dark"] and not chosen["flat"]
    # Each of bias, dark and flat, in each tier (the telescope's frames, the weaker ones):
    # its masters and the probe. Only the biases of the first tier go on to the spans of
    # 1, 2, 4, 8, 16 and 32 days, each side (fewer than 10 pass). Without the probe: 78.
    assert sum("LIMIT" in sql for sql in reads) == 6
    assert len(reads) == 6 * 2 + 12
