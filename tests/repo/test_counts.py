"""The data_files_count (and datasets.data_files_size) columns the lists read instead of
counting files: right after every write that adds, removes or moves files, and filled by
migration 6 on a database from before it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from arcsec_flask.domain.errors import Conflict
from arcsec_flask.repo import datafiles, datasets, nightlogs, sites, telescopes
from arcsec_flask.repo.sqlite import connect

PARENTS = {
    "datasets": "dataset_id",
    "night_logs": "night_log_id",
    "observations": "observation_id",
    "calibrations": "calibration_id",
}


def counted(conn) -> dict[str, dict[int, tuple[int, ...]]]:
    """What each parent row says it holds."""
    kept = {}
    for table in PARENTS:
        size = ", data_files_size" if table == "datasets" else ""
        kept[table] = {
            r[0]: tuple(r[1:])
            for r in conn.execute(f"SELECT id, data_files_count{size} FROM {table}")
        }
    return kept


def recounted(conn) -> dict[str, dict[int, tuple[int, ...]]]:
    """The same, counted from the files."""
    truth = {}
    for table, column in PARENTS.items():
        size = ", (SELECT IFNULL(SUM(size), 0) FROM datafiles f WHERE f.dataset_id = p.id)"
        truth[table] = {
            r[0]: tuple(r[1:])
            for r in conn.execute(
                f"SELECT p.id, (SELECT COUNT(*) FROM datafiles f WHERE f.{column} = p.id)"
                f"{size if table == 'datasets' else ''} FROM {table} p"
            )
        }
    return truth


def assert_counts_right(conn) -> None:
    assert counted(conn) == recounted(conn)


def test_counts_follow_creates_and_deletes(archive):
    conn, owner = archive.conn, archive.owner_id
    march = archive.dataset("March")
    lights = archive.add(march, 5, night=0) + archive.add(march, 3, night=1)
    darks = archive.add(march, 4, kind="dark", night=1)
    assert_counts_right(conn)
    assert datasets.get(conn, owner, march["uuid"])["data_files_count"] == 12
    first = lights[0]
    assert nightlogs.night_logs.get(conn, owner, first["night_log"])["data_files_count"] == 5
    assert nightlogs.observations.get(conn, owner, first["observation"])["data_files_count"] == 5
    assert nightlogs.calibrations.get(conn, owner, darks[0]["calibration"])["data_files_count"] == 4
    size = conn.execute("SELECT data_files_size FROM datasets WHERE uuid = ?", (march["uuid"],))
    assert size.fetchone()[0] == sum(f["size"] for f in lights + darks)

    for gone in (lights[0], lights[5], darks[0]):
        datafiles.delete(conn, owner, gone["id"])
    assert_counts_right(conn)
    assert datasets.get(conn, owner, march["uuid"])["data_files_count"] == 9
    night = nightlogs.night_logs.get(conn, owner, first["night_log"])
    assert night["data_files_count"] == 4


def test_counts_follow_files_moved_between_night_logs(archive):
    """A dataset given another telescope, a telescope deleted, a site's zone changed:
    files move between night logs and observations (or lose them), counts follow."""
    conn, owner = archive.conn, archive.owner_id
    march = archive.dataset("March")
    other = archive.dataset("Other", scope=1)
    archive.add(march, 6, night=0)
    archive.add(march, 2, kind="dark", night=0)
    archive.add(other, 3, night=2)
    assert_counts_right(conn)

    datasets.update(conn, owner, march["uuid"], {"telescope": archive.scopes[1]["uuid"]})
    assert_counts_right(conn)
    logs = nightlogs.night_logs.list_(conn, owner, {}, 100, 0)[1]
    assert sorted(n["data_files_count"] for n in logs) == [3, 8]

    sites.update(conn, owner, archive.site["uuid"], {"time_zone": "Pacific/Kiritimati"})
    assert_counts_right(conn)
    telescopes.delete(conn, owner, archive.scopes[1]["uuid"])
    assert_counts_right(conn)
    assert nightlogs.night_logs.list_(conn, owner, {}, 100, 0)[0] == 0
    # Grouped per dataset now, with no night log: the observations still count them.
    observed = nightlogs.observations.list_(conn, owner, {}, 100, 0)[1]
    assert sum(o["data_files_count"] for o in observed) == 9


def test_counts_follow_a_dataset_deleted(archive):
    conn, owner = archive.conn, archive.owner_id
    march, april = archive.dataset("March"), archive.dataset("April")
    archive.add(march, 4, night=0)
    kept = archive.add(april, 3, night=0)  # the same night log as March's files
    datasets.delete(conn, owner, march["uuid"])
    assert_counts_right(conn)
    night = nightlogs.night_logs.get(conn, owner, kept[0]["night_log"])
    assert night["data_files_count"] == 3
    assert datafiles.list_(conn, owner, {}, 100, 0)[0] == 3


def test_the_list_count_is_the_owners_only(archive, other_owner):
    conn, owner = archive.conn, archive.owner_id
    march = archive.dataset("March")
    archive.add(march, 3)
    assert datafiles.list_(conn, other_owner, {}, 10, 0) == (0, [])
    assert datafiles.list_(conn, other_owner, {"dataset": march["uuid"]}, 10, 0) == (0, [])
    assert datafiles.list_(conn, owner, {"dataset": "no-such-uuid"}, 10, 0) == (0, [])
    assert datafiles.list_(conn, owner, {"dataset": march["uuid"]}, 10, 0)[0] == 3


def test_owner_id_is_the_datasets_whatever_the_writer_gave(archive, other_owner):
    """A writer that leaves owner_id out (or gets it wrong) still files the row under its
    dataset's owner (schema.sql's datafiles_owned trigger)."""
    conn, owner = archive.conn, archive.owner_id
    march = archive.dataset("March")
    dataset_id = conn.execute("SELECT id FROM datasets WHERE uuid = ?", (march["uuid"],))
    dataset_id = dataset_id.fetchone()[0]
    conn.execute(
        "INSERT INTO datafiles (dataset_id, name, storage_path, size, checksum, format,"
        " creation_date) VALUES (?, 'a.fits', 'pa', 7, 'c', 'fits', 'x')",
        (dataset_id,),
    )
    conn.execute(
        "INSERT INTO datafiles (dataset_id, owner_id, name, storage_path, size, checksum,"
        " format, creation_date) VALUES (?, ?, 'b.fits', 'pb', 8, 'c', 'fits', 'x')",
        (dataset_id, other_owner),
    )
    owners = {r[0] for r in conn.execute("SELECT owner_id FROM datafiles")}
    assert owners == {owner}
    assert datafiles.list_(conn, owner, {"dataset": march["uuid"]}, 10, 0)[0] == 2
    assert_counts_right(conn)


def test_migration_6_moves_headers_and_fills_owner_and_counts(tmp_path):
    """A version-5 database (schema.sql as it was before migration 6: headers in
    datafiles.header, no owner_id, no kept counts) with files in two datasets of two
    owners: after migration 6 the cards are in datafile_headers as they were, owner_id and
    every count are right, the old column and indexes are gone, and lists work."""
    from arcsec_flask import create_app
    from arcsec_flask.repo.sqlite import MIGRATIONS

    conn = connect(tmp_path / "arcsec.sqlite3")
    conn.executescript((Path(__file__).parent / "data" / "schema-v5.sql").read_text())
    conn.execute("PRAGMA user_version = 5")
    conn.executescript(
        "INSERT INTO owners (id, kind) VALUES (1, 'account'), (2, 'account');"
        "INSERT INTO accounts (owner_id, username, creation_date) VALUES (1, 'a', 'x'),"
        " (2, 'b', 'x');"
        "INSERT INTO telescopes (id, uuid, owner_id, name, creation_date)"
        " VALUES (1, 't', 1, 'RC8', 'x');"
        "INSERT INTO datasets (id, uuid, owner_id, name, creation_date) VALUES"
        " (1, 'd1', 1, 'one', 'x'), (2, 'd2', 2, 'two', 'x'), (3, 'd3', 1, 'empty', 'x');"
        "INSERT INTO night_logs (id, uuid, owner_id, telescope_id, date, creation_date)"
        " VALUES (1, 'n1', 1, 1, '2024-03-01', 'x');"
        "INSERT INTO observations (id, uuid, owner_id, night_log_id, name, target_name,"
        " creation_date) VALUES (1, 'o1', 1, 1, 'M31', 'M31', 'x');"
    )
    headers = {}
    for i, (dataset, night, obs) in enumerate([(1, 1, 1), (1, 1, None), (2, None, None)]):
        headers[i + 1] = f'[{{"key": "N", "value": {i}, "comment": ""}}]'
        conn.execute(
            "INSERT INTO datafiles (id, dataset_id, name, storage_path, size, checksum, format,"
            " header, night_log_id, observation_id, creation_date)"
            " VALUES (?, ?, ?, ?, ?, 'c', 'fits', ?, ?, ?, 'x')",
            (i + 1, dataset, f"f{i}.fits", f"p{i}", 100 * (i + 1), headers[i + 1], night, obs),
        )
    create_app({"DATA_DIR": str(tmp_path)})
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 6
    columns = {r[1] for r in conn.execute("PRAGMA table_info(datafiles)")}
    assert "header" not in columns and "owner_id" in columns
    moved = dict(conn.execute("SELECT datafile_id, header FROM datafile_headers").fetchall())
    assert moved == headers
    owners = conn.execute("SELECT id, owner_id FROM datafiles ORDER BY id").fetchall()
    assert [tuple(r) for r in owners] == [(1, 1), (2, 1), (3, 2)]
    assert_counts_right(conn)
    assert counted(conn)["datasets"] == {1: (2, 300), 2: (1, 300), 3: (0, 0)}
    assert counted(conn)["night_logs"] == {1: (2,)}
    indexes = {r[1] for r in conn.execute("PRAGMA index_list(datafiles)")}
    assert {"datafiles_owner", "datafiles_dataset_owner", "datafiles_night_log_owner"} <= indexes
    assert "datafiles_night_log" not in indexes
    assert datafiles.list_(conn, 1, {}, 10, 0)[0] == 2
    assert [f["name"] for f in datafiles.list_(conn, 1, {"dataset": "d1"}, 10, 0)[1]] == [
        "f0.fits",
        "f1.fits",
    ]
    assert datafiles.header(conn, 1, 1) == [{"key": "N", "value": 0, "comment": ""}]
    # And the triggers keep them from now on.
    conn.execute("DELETE FROM datafiles WHERE id = 1")
    assert_counts_right(conn)
    conn.close()


def test_migration_6_on_a_new_database_changes_nothing(app, db):
    from arcsec_flask.repo.sqlite import MIGRATIONS

    before = db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    MIGRATIONS[5](db)  # idempotent: schema.sql made all of it
    MIGRATIONS[3](db)  # migration 4 too, reading the cards where they live now
    after = db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    assert [tuple(r) for r in before] == [tuple(r) for r in after]


def test_create_many_writes_what_create_writes_and_counts_it(archive):
    """The bulk path (benchmarks, imports): the same rows, headers and groups as one
    create per file, the counts right, and a duplicate name writing nothing."""
    conn, owner = archive.conn, archive.owner_id
    one, many = archive.dataset("One"), archive.dataset("Many")
    archive.add(one, 4)

    row = conn.execute("SELECT id, uuid FROM datasets WHERE uuid = ?", (many["uuid"],)).fetchone()
    made = datafiles.list_(conn, owner, {"dataset": one["uuid"]}, 10)[1]
    bulk = [
        (
            datafiles.StoredFile(f"bulk_{i}.fits", f"{many['uuid']}/b{i}", f["size"], "c"),
            replace(archive.light, date_obs=datetime.fromisoformat(f["date_obs"])),
            {"tags": ["x"]},
        )
        for i, f in enumerate(made)
    ]
    assert datafiles.create_many(conn, owner, dict(row), bulk) == 4
    assert_counts_right(conn)
    listed = datafiles.list_(conn, owner, {"dataset": many["uuid"]}, 10)[1]
    skip = {"id", "pk", "name", "dataset", "storage_path", "tags", "creation_date"}
    assert [{k: v for k, v in f.items() if k not in skip} for f in listed] == [
        {k: v for k, v in f.items() if k not in skip} for f in made
    ]
    assert datafiles.header(conn, owner, listed[0]["id"]) == datafiles.header(
        conn, owner, made[0]["id"]
    )
    before = counted(conn)
    with pytest.raises(Conflict):
        datafiles.create_many(conn, owner, dict(row), bulk[:1] + bulk[:1])
    assert counted(conn) == before
    assert datafiles.create_many(conn, owner, dict(row), []) == 0
