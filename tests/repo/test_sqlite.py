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
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2


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
