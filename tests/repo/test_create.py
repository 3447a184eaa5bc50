"""`datafiles.create` writes the row and its groups in one INSERT and answers without
reading the row back: what it returns is what `get` returns, whatever the header held,
and its groups are the ones `night_grouping.refresh_files` derives from the stored row."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from arcsec_flask.domain.errors import Conflict, Invalid
from arcsec_flask.headers import HeaderInfo
from arcsec_flask.repo import datafiles, night_grouping
from arcsec_flask.repo.sqlite import transaction
from tests.repo.conftest import FIRST_NIGHT

GROUPS = "SELECT id, night_log_id, observation_id, calibration_id FROM datafiles ORDER BY id"


def stored(name: str, dataset: dict) -> datafiles.StoredFile:
    return datafiles.StoredFile(name, f"{dataset['uuid']}/{name}", 1234, "ab" * 32)


def writable(made: dict) -> dict:
    return {"id": made["id"], "uuid": made["uuid"]}


@pytest.mark.parametrize(
    ("case", "at_site", "fields"),
    [
        ("light", True, {}),
        ("dark", True, {}),
        ("light", False, {}),  # no telescope: grouped per dataset, no night log
        ("dark", False, {}),
        ("no date", True, {}),
        ("other", True, {}),  # neither FITS nor XISF: no groups at all
        ("unreadable", True, {}),
        ("int exposure", True, {"is_raw": False, "tags": ["b", "a", "b"]}),
        ("text as int", True, {}),  # SQLite turns it to text: read back
    ],
)
def test_what_create_returns_is_what_get_returns(archive, case, at_site, fields):
    made = archive.dataset("d", scope=0 if at_site else None)
    dataset = writable(made)
    info: HeaderInfo = archive.dark if case == "dark" else archive.light
    info = replace(info, date_obs=FIRST_NIGHT)
    error = None
    if case == "no date":
        info = replace(info, date_obs=None)
    elif case == "other":
        info = HeaderInfo(format="other", compression=None)
    elif case == "unreadable":
        info, error = HeaderInfo(format="fits", compression="gzip"), "truncated"
    elif case == "int exposure":
        info = replace(info, exposure_time=30, ccd_temperature=-10)
    elif case == "text as int":
        info = replace(info, target_name=42)  # type: ignore[arg-type]
    conn = archive.conn
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        created = datafiles.create(
            conn, archive.owner_id, dataset, stored("f.fits", made), info, fields, error
        )
    finally:
        conn.set_trace_callback(None)
    read_back = [s for s in statements if "LEFT JOIN night_logs" in s]
    assert bool(read_back) == (case == "text as int"), read_back
    assert created == datafiles.get(conn, archive.owner_id, created["id"])
    if case == "int exposure":
        assert created["exposure_time"] == 30.0 and isinstance(created["exposure_time"], float)
        assert created["tags"] == ["b", "a"] and created["is_raw"] is False
    if case == "text as int":
        assert created["target_name"] == "42"
    expect_night = at_site and case in ("light", "dark", "int exposure", "text as int")
    assert (created["night_log"] is not None) == expect_night
    assert (created["calibration"] is not None) == (case == "dark")
    assert (created["observation"] is not None) == (case not in ("dark", "other", "unreadable"))


def test_groups_are_those_refresh_derives(archive):
    """Files over two nights, lights and darks, at a site and in a dataset without a
    telescope: recomputing every file's groups from its stored row changes nothing."""
    at_site, alone = archive.dataset("site"), archive.dataset("alone", scope=None)
    archive.add(at_site, 4, night=0)
    archive.add(at_site, 3, night=1)
    archive.add(at_site, 2, kind="dark", night=1)
    archive.add(alone, 2)
    archive.add(alone, 2, kind="dark")
    conn = archive.conn
    before = conn.execute(GROUPS).fetchall()
    assert len({r["night_log_id"] for r in before if r["night_log_id"]}) == 2
    with transaction(conn):
        night_grouping.refresh_files(conn, [r["id"] for r in before])
    assert [tuple(r) for r in conn.execute(GROUPS)] == [tuple(r) for r in before]


def test_a_setting_given_by_the_batch_groups_alike(archive):
    made = archive.dataset("d")
    dataset = writable(made)
    conn = archive.conn
    info = replace(archive.light, date_obs=FIRST_NIGHT)
    with transaction(conn):
        setting = night_grouping.setting_of(conn, made["id"])
        given = datafiles.create(
            conn, archive.owner_id, dataset, stored("a.fits", made), info, {}, None, setting
        )
    looked_up = datafiles.create(conn, archive.owner_id, dataset, stored("b.fits", made), info, {})
    assert setting == night_grouping.Setting(
        archive.owner_id, archive.scopes[0]["id"], "Europe/Paris"
    )
    for key in ("night_log", "observation", "calibration"):
        assert given[key] == looked_up[key]


def test_a_refused_file_in_a_batch_leaves_no_groups_behind(archive):
    """The groups are made before the row's INSERT: a duplicate refused inside a caller's
    transaction takes back the night log and observation made for it."""
    made = archive.dataset("d")
    dataset = writable(made)
    conn = archive.conn
    first = replace(archive.light, date_obs=FIRST_NIGHT)
    other_night = replace(first, date_obs=FIRST_NIGHT + timedelta(days=3), target_name="M51")
    with transaction(conn):
        datafiles.create(conn, archive.owner_id, dataset, stored("a.fits", made), first, {})
        with pytest.raises(Conflict):
            datafiles.create(
                conn, archive.owner_id, dataset, stored("a.fits", made), other_night, {}
            )
    assert conn.execute("SELECT COUNT(*) FROM night_logs").fetchone()[0] == 1
    assert conn.execute("SELECT COUNT(*) FROM observations").fetchone()[0] == 1
    assert conn.execute("SELECT COUNT(*) FROM datafiles").fetchone()[0] == 1


def test_a_dataset_deleted_meanwhile_is_a_400(archive):
    made = archive.dataset("d")
    conn = archive.conn
    conn.execute("DELETE FROM datasets WHERE id = ?", (made["id"],))
    info = replace(archive.light, date_obs=FIRST_NIGHT)
    with pytest.raises(Invalid, match="was deleted while the file was being filed"):
        datafiles.create(conn, archive.owner_id, writable(made), stored("a", made), info, {})
    assert conn.execute("SELECT COUNT(*) FROM night_logs").fetchone()[0] == 0
