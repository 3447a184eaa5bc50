"""The query plans of the list queries (EXPLAIN QUERY PLAN of the SQL each list call
runs, caught with a trace callback): an index serves each filter and the id order
together, so no list sorts its rows in a temporary B-tree or scans a whole table, and
the two busiest datafiles lists (an owner's, a dataset's) read page ids from an index
alone."""

from __future__ import annotations

import re

import pytest

from arcsec_flask.repo import (
    datafiles,
    datapackages,
    datasets,
    members,
    nightlogs,
    sites,
    targetlists,
    targets,
    telescopes,
)


def plans(conn, call) -> list[tuple[str, list[str]]]:
    """(SQL, plan lines) of every SELECT that `call()` runs."""
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        call()
    finally:
        conn.set_trace_callback(None)
    return [
        (sql, [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql)])
        for sql in seen
        if sql.lstrip().upper().startswith("SELECT")
    ]


def assert_no_sort_and_no_scan(found: list[tuple[str, list[str]]]) -> None:
    assert found, "the call ran no SELECT"
    for sql, lines in found:
        coroutines = {m[1] for line in lines if (m := re.match(r"CO-ROUTINE (\S+)", line))}
        for line in lines:
            assert "TEMP B-TREE" not in line, (sql, lines)
            scanned = re.match(r"SCAN (\S+)", line)
            if scanned:  # a table-valued function or a subquery's rows, never a table
                assert scanned[1] in {"json_each", *coroutines} or scanned[1].startswith(
                    "(subquery"
                ), (sql, lines)


@pytest.fixture
def world(archive, make_user, make_org):
    """Every kind of listed object, at least one of each, with links between them."""
    conn, owner = archive.conn, archive.owner_id
    march = archive.dataset("March")
    archive.add(march, 3)
    archive.add(march, 2, kind="dark")
    target = targets.create(conn, owner, {"name": "M31"})
    targetlists.create(conn, owner, {"name": "Galaxies", "targets": [target["uuid"]]})
    datapackages.create(conn, owner, {"name": "Spring", "datasets": [march["uuid"]]})
    make_user("member")
    org = make_org("ohp", archive.user, {"member": "member"})
    files = datafiles.list_(conn, owner, {}, 100, 0)[1]
    light = next(f for f in files if f["observation"])
    dark = next(f for f in files if f["calibration"])
    assert light["night_log"] and dark["night_log"]
    return archive, march, light, dark, org


def list_calls(world):
    archive, march, light, dark, org = world
    owner, scope, site = archive.owner_id, archive.scopes[0]["uuid"], archive.site["uuid"]
    org_id = org.get("id") or org["owner_id"]
    return {
        "datafiles": (datafiles.list_, owner, {}),
        "datafiles of a dataset": (datafiles.list_, owner, {"dataset": march["uuid"]}),
        "datafiles of a night log": (datafiles.list_, owner, {"night_log": light["night_log"]}),
        "datafiles of an observation": (
            datafiles.list_,
            owner,
            {"observation": light["observation"]},
        ),
        "datafiles of a calibration": (
            datafiles.list_,
            owner,
            {"calibration": dark["calibration"]},
        ),
        "datasets": (datasets.list_, owner, {}),
        "datasets of a telescope": (datasets.list_, owner, {"telescope": scope}),
        "night logs": (nightlogs.night_logs.list_, owner, {}),
        "night logs of a telescope": (nightlogs.night_logs.list_, owner, {"telescope": scope}),
        "observations": (nightlogs.observations.list_, owner, {}),
        "observations of a night log": (
            nightlogs.observations.list_,
            owner,
            {"night_log": light["night_log"]},
        ),
        "calibrations": (nightlogs.calibrations.list_, owner, {}),
        "calibrations of a night log": (
            nightlogs.calibrations.list_,
            owner,
            {"night_log": dark["night_log"]},
        ),
        "datapackages": (datapackages.list_, owner, {}),
        "public datapackages": (datapackages.list_, None, {}),
        "targets": (targets.list_, owner, {}),
        "target lists": (targetlists.list_, owner, {}),
        "sites": (sites.list_, owner, {}),
        "telescopes": (telescopes.list_, owner, {}),
        "telescopes of a site": (telescopes.list_, owner, {"observing_site": site}),
        "members": (members.list_, org_id, {}),
    }


CALLS = [
    "datafiles",
    "datafiles of a dataset",
    "datafiles of a night log",
    "datafiles of an observation",
    "datafiles of a calibration",
    "datasets",
    "datasets of a telescope",
    "night logs",
    "night logs of a telescope",
    "observations",
    "observations of a night log",
    "calibrations",
    "calibrations of a night log",
    "datapackages",
    "public datapackages",
    "targets",
    "target lists",
    "sites",
    "telescopes",
    "telescopes of a site",
    "members",
]


def test_the_calls_cover_every_list(world):
    assert sorted(list_calls(world)) == sorted(CALLS)


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("offset", [0, 2])
def test_no_list_sorts_or_scans(world, name, offset):
    function, owner, filters = list_calls(world)[name]
    conn = world[0].conn
    found = plans(conn, lambda: function(conn, owner, filters, 100, offset))
    assert_no_sort_and_no_scan(found)


@pytest.mark.parametrize("direction", ["after", "before"])
def test_keyset_pages_sort_or_scan_nothing_either(world, direction):
    archive = world[0]
    conn, owner = archive.conn, archive.owner_id
    for filters in ({}, {"dataset": world[1]["uuid"]}):
        found = plans(
            conn, lambda f=filters: datafiles.list_(conn, owner, f, 2, 0, **{direction: 3})
        )
        assert_no_sort_and_no_scan(found)


@pytest.mark.parametrize(
    "filters, index",
    [({}, "datafiles_owner"), ("dataset", "datafiles_dataset_owner")],
)
def test_the_page_ids_of_the_main_lists_come_from_an_index_alone(world, filters, index):
    """No row of datafiles is read to choose a page (a deep page skips index entries), and
    the count reads a kept column rather than the files."""
    archive, march = world[0], world[1]
    if filters == "dataset":
        filters = {"dataset": march["uuid"]}
    conn, owner = archive.conn, archive.owner_id
    found = plans(conn, lambda: datafiles.list_(conn, owner, filters, 100, 50))
    page = [lines for sql, lines in found if sql.startswith("SELECT f.id FROM datafiles")]
    assert len(page) == 1
    assert f"SEARCH f USING COVERING INDEX {index}" in page[0][0]
    assert not [sql for sql, _ in found if "COUNT(" in sql.upper()]
    assert [sql for sql, _ in found if "data_files_count" in sql]
