"""The SQLite layer: pragmas, idempotent schema, numbered migrations."""

from __future__ import annotations

from pathlib import Path

import pytest

from arcsec_flask.repo import accounts
from arcsec_flask.repo.sqlite import connect, init_schema, transaction


def test_connection_pragmas(app):
    conn = connect(app.config["DATABASE"])
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_reapplying_the_schema_keeps_rows(app, db, alice):
    init_schema(db)
    init_schema(db)
    assert accounts.get_by_username(db, "alice")["id"] == alice.account["id"]
    # And a new app on the same folder keeps them too.
    from arcsec_flask import create_app

    create_app({"DATA_DIR": app.config["DATA_DIR"]})
    assert accounts.count(db) == 1


def test_migrations_run_once_in_order(tmp_path):
    conn = connect(tmp_path / "m.sqlite3")
    ran = []

    def add_column(c):
        ran.append(1)
        c.execute("ALTER TABLE accounts ADD COLUMN nickname TEXT NOT NULL DEFAULT ''")

    def fill_column(c):
        ran.append(2)
        c.execute("UPDATE accounts SET nickname = username")

    assert init_schema(conn, []) == 0
    accounts.create(conn, "carol")
    assert init_schema(conn, [add_column, fill_column]) == 2
    assert init_schema(conn, [add_column, fill_column]) == 2
    assert ran == [1, 2]
    assert conn.execute("SELECT nickname FROM accounts").fetchone()[0] == "carol"
    assert conn.execute("PRAGMA user_version").fetchone()[0] >= 2


def test_a_failing_migration_changes_nothing(tmp_path):
    conn = connect(tmp_path / "m.sqlite3")
    init_schema(conn, [])

    def broken(c):
        c.execute("ALTER TABLE accounts ADD COLUMN half TEXT")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        init_schema(conn, [broken])
    columns = [r[1] for r in conn.execute("PRAGMA table_info(accounts)")]
    assert "half" not in columns
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0


def test_transaction_rolls_back_on_error(db):
    with pytest.raises(ValueError), transaction(db):
        db.execute("INSERT INTO owners (kind) VALUES ('account')")
        raise ValueError
    assert db.execute("SELECT COUNT(*) FROM owners").fetchone()[0] == 0


def test_wheel_ships_schema_sql(tmp_path):
    """schema.sql lives at the top level and inside the wheel."""
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(root),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("arcsec_flask-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("arcsec_flask/schema.sql").decode()
    assert shipped == (root / "schema.sql").read_text()


def test_a_database_from_before_migration_1_is_upgraded(tmp_path):
    """A version-0 database (accounts without session_epoch) keeps its rows and gains it."""
    from arcsec_flask import create_app

    conn = connect(tmp_path / "arcsec.sqlite3")
    old_schema = (Path(__file__).resolve().parents[2].joinpath("schema.sql").read_text()).replace(
        ",\n    -- Raised at logout: browser sessions carry the epoch they began in.\n"
        "    session_epoch INTEGER NOT NULL DEFAULT 0",
        "",
    )
    assert "session_epoch" not in old_schema
    conn.executescript(old_schema)
    conn.execute("INSERT INTO owners (id, kind) VALUES (1, 'account')")
    conn.execute(
        "INSERT INTO accounts (owner_id, username, creation_date) VALUES (1, 'old', '2020-01-01')"
    )
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    create_app({"DATA_DIR": str(tmp_path)})
    assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1
    row = conn.execute("SELECT username, session_epoch FROM accounts").fetchone()
    assert tuple(row) == ("old", 0)


def test_a_new_database_is_at_the_latest_version(app, db):
    from arcsec_flask.repo.sqlite import MIGRATIONS

    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 1


def test_a_version_1_database_gains_header_status_and_hand_made_night_logs(tmp_path):
    """The schema as it shipped at version 1 (tests/data/schema-v1.sql), with a FITS file
    and a plain file: migration 2 keeps both and tells them apart."""
    from arcsec_flask import create_app

    conn = connect(tmp_path / "arcsec.sqlite3")
    conn.executescript((Path(__file__).parents[1] / "data" / "schema-v1.sql").read_text())
    conn.execute("PRAGMA user_version = 1")
    conn.executescript(
        "INSERT INTO owners (id, kind) VALUES (1, 'account');"
        "INSERT INTO accounts (owner_id, username, creation_date) VALUES (1, 'old', 'x');"
        "INSERT INTO datasets (id, uuid, owner_id, name, creation_date)"
        " VALUES (1, 'u', 1, 'd', 'x');"
        "INSERT INTO datafiles (dataset_id, name, storage_path, size, checksum, format,"
        " creation_date) VALUES (1, 'a.fits', 'p1', 1, 'c', 'fits', 'x'),"
        " (1, 'notes.txt', 'p2', 1, 'c', 'other', 'x');"
    )
    create_app({"DATA_DIR": str(tmp_path)})
    assert conn.execute("PRAGMA user_version").fetchone()[0] >= 2
    rows = conn.execute("SELECT name, header_status, header_error FROM datafiles ORDER BY id")
    assert [tuple(r) for r in rows] == [("a.fits", "read", None), ("notes.txt", "none", None)]
    columns = {r["name"] for r in conn.execute("PRAGMA table_info(night_logs)")}
    assert "by_hand" in columns


def _stored_row(path: Path, name: str) -> dict:
    """The row an upload of `path` as `name` wrote before migration 4: its cards as the
    server stores them and the four values derived then."""
    from arcsec_flask.headers import read_header
    from arcsec_flask.repo.datafiles import _card
    from arcsec_flask.repo.header_columns import added_columns, header_columns

    info = read_header(path, name)
    old = {k: header_columns(info)[k] for k in ("date_obs", "frame_kind", "target_name")}
    return {
        "name": name,
        "format": info.format,
        "compression": info.compression,
        "header": __import__("json").dumps([_card(c) for c in info.cards]),
        **old,
        "expected": added_columns(info),
    }


def test_migration_4_derives_the_header_fields_of_stored_rows(tmp_path):
    """A version-1 database (tests/data/schema-v1.sql) holding real stored headers (FITS,
    gzip FITS, XISF, a frame typed only by its name, a plain file): after migration 4 each
    row has the values an upload derives today, and the new indexes exist."""
    from arcsec_flask import create_app
    from arcsec_flask.repo.header_columns import ADDED_COLUMNS
    from arcsec_flask.repo.sqlite import MIGRATIONS
    from tests.support.factories import light_frame_cards, write_fits, write_xisf

    rows = [
        _stored_row(write_fits(tmp_path / "l.fits", light_frame_cards()), "m31_ha_001.fits"),
        _stored_row(
            write_fits(
                tmp_path / "d.fits.gz",
                {"IMAGETYP": "Dark Frame", "EXPTIME": 300.0, "CCD-TEMP": -9.6, "XBINNING": 2},
                compress="gzip",
            ),
            "dark_300s.fits.gz",
        ),
        _stored_row(
            write_xisf(
                tmp_path / "f.xisf",
                {"FILTER": "OIII", "EXPTIME": (2.5, "[s]"), "TELESCOP": "RC8"},
                {"Instrument:Camera:Name": "ASI2600MM"},
                image_type="Flat",
            ),
            "flat_oiii.xisf",
        ),
        _stored_row(write_fits(tmp_path / "s.fits", {"EXPOSURE": 0.001}), "Dark_001.fits"),
    ]
    assert rows[0]["expected"]["filter_name"] == "Ha" and rows[1]["expected"]["binning"] == "2x2"
    assert rows[3]["expected"]["frame_type"] == "dark"  # by its name only
    conn = connect(tmp_path / "arcsec.sqlite3")
    conn.executescript((Path(__file__).parents[1] / "data" / "schema-v1.sql").read_text())
    conn.execute("PRAGMA user_version = 1")
    conn.executescript(
        "INSERT INTO owners (id, kind) VALUES (1, 'account');"
        "INSERT INTO accounts (owner_id, username, creation_date) VALUES (1, 'old', 'x');"
        "INSERT INTO datasets (id, uuid, owner_id, name, creation_date)"
        " VALUES (1, 'u', 1, 'd', 'x');"
    )
    for i, row in enumerate(rows):
        conn.execute(
            "INSERT INTO datafiles (dataset_id, name, storage_path, size, checksum, format,"
            " compression, header, date_obs, frame_kind, target_name, creation_date)"
            " VALUES (1, ?, 'p' || ?, 1, 'c', ?, ?, ?, ?, ?, ?, 'x')",
            [row["name"], i]
            + [row[k] for k in ("format", "compression", "header", "date_obs", "frame_kind")]
            + [row["target_name"]],
        )
    conn.execute(
        "INSERT INTO datafiles (dataset_id, name, storage_path, size, checksum, format,"
        " creation_date) VALUES (1, 'dark notes.txt', 'p9', 1, 'c', 'other', 'x')"
    )
    create_app({"DATA_DIR": str(tmp_path)})
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 4
    columns = ", ".join(ADDED_COLUMNS)
    found = conn.execute(f"SELECT name, {columns} FROM datafiles ORDER BY id").fetchall()
    for row, stored in zip(rows, found, strict=False):
        assert {k: stored[k] for k in ADDED_COLUMNS} == row["expected"], row["name"]
    assert found[-1]["name"] == "dark notes.txt"
    assert all(found[-1][k] is None for k in ADDED_COLUMNS)  # no header: nothing derived
    indexes = {r[1] for r in conn.execute("PRAGMA index_list(datafiles)")}
    assert {"datafiles_dataset_frame_type", "datafiles_filter_name"} <= indexes
    # The old values are left as they were, and the stored cards untouched (moved as they
    # were to datafile_headers by migration 6).
    stored = "SELECT header FROM datafile_headers WHERE datafile_id = 1"
    assert conn.execute(stored).fetchone()[0] == rows[0]["header"]


def test_migration_4_on_a_new_database_is_a_no_op(app, db):
    from arcsec_flask.repo.sqlite import MIGRATIONS

    MIGRATIONS[3](db)  # idempotent: the columns and indexes exist already
    indexes = {r[1] for r in db.execute("PRAGMA index_list(datafiles)")}
    assert "datafiles_dataset_frame_type" in indexes


def test_workers_starting_together_on_a_new_database_all_boot(tmp_path):
    """gunicorn's workers open a new data folder at once: switching the new file into WAL
    is "database is locked" to all but one (SQLite does not wait on the busy timeout for
    it), which made a worker fail to boot and the master shut down. Every opener waits."""
    import threading

    errors: list[str] = []
    for round_ in range(10):
        path = tmp_path / f"new-{round_}.sqlite3"
        barrier = threading.Barrier(6)

        def start(path=path, barrier=barrier):
            try:
                barrier.wait()
                conn = connect(path)
                try:
                    init_schema(conn)
                    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
                finally:
                    conn.close()
            except Exception as error:
                errors.append(repr(error))

        threads = [threading.Thread(target=start) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
