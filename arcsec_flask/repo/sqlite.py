"""SQLite without Flask: connections and their pragmas, transactions, schema, migrations."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import sqlite_utils

from ..headers import summarize_stored
from . import header_columns

BUSY_TIMEOUT_MS = 10_000

# Numbered schema steps after schema.sql: step N runs once, when user_version < N,
# inside the same transaction that raises user_version to N. Append only.
# schema.sql always has the newest shape, so a step must also hold on a new database
# (where schema.sql already made what it adds): write steps idempotently.
Migration = Callable[[sqlite3.Connection], None]


def _add_session_epoch(conn: sqlite3.Connection) -> None:
    """1: accounts.session_epoch, raised at logout to end every browser session."""
    accounts = sqlite_utils.Database(conn).table("accounts")
    if "session_epoch" not in accounts.columns_dict:
        accounts.add_column("session_epoch", int, not_null_default=0)


def _add_header_status(conn: sqlite3.Connection) -> None:
    """2: datafiles.header_status/header_error (files kept although their header could not
    be read) and night_logs.by_hand (night logs made before their files)."""
    db = sqlite_utils.Database(conn)
    datafiles, night_logs = db.table("datafiles"), db.table("night_logs")
    if "header_status" not in datafiles.columns_dict:
        datafiles.add_column("header_status", str, not_null_default="read")
        datafiles.add_column("header_error", str)
        conn.execute("UPDATE datafiles SET header_status = 'none' WHERE format = 'other'")
    if "by_hand" not in night_logs.columns_dict:
        night_logs.add_column("by_hand", int, not_null_default=0)


def _keyset_listing_placeholder(conn: sqlite3.Connection) -> None:
    """3: a placeholder for the step that moves datafiles.header into datafile_headers
    (written on another branch; replaced by it at merge)."""


def _add_header_fields(conn: sqlite3.Connection) -> None:
    """4: datafiles.date_obs_source, exposure_time, filter_name, frame_type,
    instrument_name, telescope_name, binning, ccd_temperature and their indexes, derived
    for stored rows from their stored cards by the rules uploads use (no re-upload)."""
    datafiles = sqlite_utils.Database(conn).table("datafiles")
    present = datafiles.columns_dict
    for name, kind in header_columns.ADDED_COLUMNS.items():
        if name not in present:
            datafiles.add_column(name, kind)
    for statement in _statements(schema_sql()):
        if "INDEX IF NOT EXISTS datafiles_" in statement:
            # An index on a later migration's column (owner_id, 6) waits for init_schema.
            _execute_or_defer(conn, statement)
    _rederive_header_fields(conn)


DERIVED_BATCH = 1000


def _rederive_header_fields(conn: sqlite3.Connection) -> None:
    """Fill migration 4's columns of every readable FITS/XISF row, a batch of updates at
    a time (one transaction: the caller's)."""
    files = {
        r["id"]: (r["name"], r["format"], r["compression"])
        for r in conn.execute(
            "SELECT id, name, format, compression FROM datafiles"
            " WHERE header_status = 'read' AND format IN ('fits', 'xisf')"
        )
    }
    names = list(header_columns.ADDED_COLUMNS)
    update = f"UPDATE datafiles SET {', '.join(f'{n} = :{n}' for n in names)} WHERE id = :id"
    batch: list[dict] = []
    for file_id, header_json in _stored_headers(conn):
        if file_id not in files:
            continue
        name, file_format, compression = files[file_id]
        info = summarize_stored(file_format, compression, json.loads(header_json), name)
        batch.append({**header_columns.added_columns(info), "id": file_id})
        if len(batch) >= DERIVED_BATCH:
            conn.executemany(update, batch)
            batch = []
    if batch:
        conn.executemany(update, batch)


def _stored_headers(conn: sqlite3.Connection, page: int = 500) -> Iterator[tuple[int, str]]:
    """(datafile id, header JSON) of every stored row, by id, a page at a time (no cursor
    stays open across the caller's updates). Where the stored cards live is known here only:
    in datafiles.header before migration 6, in datafile_headers after it (and on a new
    database, where migration 4 runs on the newest shape)."""
    if "header" in sqlite_utils.Database(conn).table("datafiles").columns_dict:
        sql = "SELECT id, header FROM datafiles WHERE id > ? ORDER BY id LIMIT ?"
    else:
        sql = (
            "SELECT datafile_id, header FROM datafile_headers WHERE datafile_id > ?"
            " ORDER BY datafile_id LIMIT ?"
        )
    last = 0
    while True:
        rows = conn.execute(sql, (last, page)).fetchall()
        if not rows:
            return
        yield from ((r[0], r[1]) for r in rows)
        last = rows[-1][0]


def _add_external_path(conn: sqlite3.Connection) -> None:
    """5: datafiles.external_path, the absolute path of a file registered in place (NULL for
    the files in the storage folder)."""
    datafiles = sqlite_utils.Database(conn).table("datafiles")
    if "external_path" not in datafiles.columns_dict:
        datafiles.add_column("external_path", str)


COUNTED = {
    "datasets": "dataset_id",
    "night_logs": "night_log_id",
    "observations": "observation_id",
    "calibrations": "calibration_id",
}


def _list_at_scale(conn: sqlite3.Connection) -> None:
    """6: lists whose cost does not grow with the archive. The header JSON leaves the
    datafiles row for datafile_headers (made by schema.sql); datafiles gains its dataset's
    owner_id (its index, datafiles_owner, is made by init_schema after the migrations); the
    parents gain the data_files_count (and datasets data_files_size) that the schema's
    triggers keep from now on, filled here."""
    db = sqlite_utils.Database(conn)
    datafiles = db.table("datafiles")
    if "owner_id" not in datafiles.columns_dict:
        # ADD COLUMN refuses REFERENCES with a non-NULL default: the link is by the fill.
        conn.execute("ALTER TABLE datafiles ADD COLUMN owner_id INTEGER NOT NULL DEFAULT 0")
        conn.execute(
            "UPDATE datafiles SET owner_id ="
            " (SELECT owner_id FROM datasets WHERE datasets.id = datafiles.dataset_id)"
        )
    for table, column in COUNTED.items():
        if "data_files_count" not in db.table(table).columns_dict:
            db.table(table).add_column("data_files_count", int, not_null_default=0)
        conn.execute(
            f"UPDATE {table} SET data_files_count ="
            f" (SELECT COUNT(*) FROM datafiles f WHERE f.{column} = {table}.id)"
        )
    if "data_files_size" not in db.table("datasets").columns_dict:
        db.table("datasets").add_column("data_files_size", int, not_null_default=0)
    conn.execute(
        "UPDATE datasets SET data_files_size ="
        " (SELECT IFNULL(SUM(f.size), 0) FROM datafiles f WHERE f.dataset_id = datasets.id)"
    )
    for replaced in ("dataset", "night_log", "observation", "calibration"):
        # Superseded by schema.sql's datafiles_<parent>_owner, made after the migrations.
        conn.execute(f"DROP INDEX IF EXISTS datafiles_{replaced}")
    # Last: DROP COLUMN checks the schema's triggers, which need the columns above.
    if "header" in datafiles.columns_dict:
        conn.execute(
            "INSERT OR IGNORE INTO datafile_headers (datafile_id, header)"
            " SELECT id, header FROM datafiles"
        )
        conn.execute("ALTER TABLE datafiles DROP COLUMN header")


MIGRATIONS: list[Migration] = [
    _add_session_epoch,
    _add_header_status,
    _keyset_listing_placeholder,
    _add_header_fields,
    _add_external_path,
    _list_at_scale,
]


# The database holds key and password hashes: only its owner reads it. SQLite gives the
# -wal and -shm files the database file's own mode.
DATABASE_MODE = 0o600


def make_private(path: str | Path) -> None:
    """Create the database file 0600 if it does not exist yet (SQLite would make it 0644
    under the usual umask), and take group and other bits off an existing one and its
    -wal/-shm (an older install made them world-readable). Not for ":memory:" or URIs."""
    text = str(path)
    if text.startswith((":", "file:")) or not text:
        return
    # Never open an existing database here: closing any descriptor of a file drops every
    # POSIX lock this process holds on it, the locks of other threads' SQLite connections.
    if not os.path.exists(text):
        try:
            os.close(os.open(text, os.O_RDWR | os.O_CREAT | os.O_EXCL, DATABASE_MODE))
        except FileExistsError:
            pass  # another thread made it a moment ago, 0600 too
        except OSError:
            return  # read-only place or no folder: sqlite3.connect says so itself
    for name in (text, f"{text}-wal", f"{text}-shm"):
        try:
            mode = os.stat(name).st_mode
        except FileNotFoundError:
            continue
        if mode & 0o077:
            os.chmod(name, stat.S_IMODE(mode) & ~0o077)


class Connection(sqlite3.Connection):
    """A connection that knows its database's writer lock in this process (None for an
    in-memory database, which no other connection shares)."""

    write_lock: threading.Lock | None = None


# One lock per database file and process, taken by transaction() before BEGIN IMMEDIATE.
# Threads of one process then queue on it and each is woken the moment the writer before
# it commits; without it they met on SQLite's busy handler, which sleeps 1, 2, 5, 10 ms...
# between tries (the write lock is often held across a GIL switch, so they met often:
# about one sleep per upload with 4 threads). Processes still meet on the busy handler.
_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock_of(path: str | Path) -> threading.Lock | None:
    text = str(path)
    if text.startswith((":", "file:")) or not text:
        return None
    key = os.path.realpath(text)
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.Lock())


def _forget_write_locks() -> None:
    """In a forked child: a lock another thread of the parent held stays held forever."""
    global _WRITE_LOCKS_GUARD
    _WRITE_LOCKS_GUARD = threading.Lock()
    _WRITE_LOCKS.clear()


os.register_at_fork(after_in_child=_forget_write_locks)


def connect(path: str | Path) -> sqlite3.Connection:
    """Open a connection with the pragmas every connection needs, on a database file
    only its owner can read (make_private).

    Autocommit mode (isolation_level=None): writes open their own transaction with
    `transaction()`, so a request never holds a lock it did not ask for.
    """
    make_private(path)
    conn = sqlite3.connect(
        path,
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=False,
        factory=Connection,
    )
    conn.write_lock = _write_lock_of(path)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: BEGIN IMMEDIATE takes the write lock up front, so two
    writers queue instead of failing on a lock upgrade: on this process's writer lock
    (Connection.write_lock) first, then, against other processes, on the busy timeout."""
    if conn.in_transaction:  # nested use joins the outer transaction
        yield conn
        return
    lock = getattr(conn, "write_lock", None)
    if lock is not None and not lock.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
        raise sqlite3.OperationalError("database is locked")  # as the busy timeout says it
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        if lock is not None:
            lock.release()


def use_wal(conn: sqlite3.Connection) -> None:
    """Put the database in WAL mode (it stays so: the mode is stored in the file).

    Switching a new file into WAL needs it to itself, and SQLite answers "database is
    locked" at once rather than through the busy timeout, so gunicorn's workers starting
    together on a new data folder would fail to boot: retried here up to the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def schema_sql() -> str:
    return resources.files("arcsec_flask").joinpath("schema.sql").read_text(encoding="utf-8")


def init_schema(conn: sqlite3.Connection, migrations: list[Migration] | None = None) -> int:
    """Apply schema.sql (idempotent) then every migration not applied yet.

    Returns the resulting user_version.
    """
    steps = MIGRATIONS if migrations is None else migrations
    use_wal(conn)
    later = []
    with transaction(conn):
        for statement in _statements(schema_sql()):
            if not _execute_or_defer(conn, statement):
                later.append(statement)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, step in enumerate(steps, start=1):
        if number <= version:
            continue
        with transaction(conn):
            step(conn)
            conn.execute(f"PRAGMA user_version = {number}")
        version = number
    with transaction(conn):
        for statement in later:  # their columns exist now
            conn.execute(statement)
    return version


def _execute_or_defer(conn: sqlite3.Connection, statement: str) -> bool:
    """Run one statement of schema.sql; False for an index on a column an older database
    does not have yet (its migration adds the column): it is run after the migrations."""
    try:
        conn.execute(statement)
    except sqlite3.OperationalError as error:
        if "CREATE INDEX" in statement and "no such column" in str(error):
            return False
        raise
    return True


def _statements(script: str) -> Iterator[str]:
    """Split a script into complete statements (executescript would commit)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                yield pending
            pending = ""
    if pending.strip():
        yield pending


def ping(conn: sqlite3.Connection) -> None:
    """Raise if the database does not answer (the health check)."""
    conn.execute("SELECT 1").fetchone()
