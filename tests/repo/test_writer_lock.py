"""Writers of one process queue on the database's writer lock (repo/sqlite.Connection
.write_lock) before BEGIN IMMEDIATE: each is woken when the one before it commits, instead
of polling through SQLite's busy handler; the busy timeout still bounds the wait."""

from __future__ import annotations

import os
import threading

import pytest

from arcsec_flask.repo import sqlite as repo_sqlite
from arcsec_flask.repo.sqlite import connect, transaction


@pytest.fixture
def path(tmp_path):
    conn = connect(tmp_path / "w.sqlite3")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.close()
    return tmp_path / "w.sqlite3"


def test_connections_to_one_file_share_its_lock(path, tmp_path):
    first, second = connect(path), connect(str(path))
    os.symlink(path, tmp_path / "link.sqlite3")
    linked, other = connect(tmp_path / "link.sqlite3"), connect(tmp_path / "other.sqlite3")
    assert first.write_lock is not None
    assert first.write_lock is second.write_lock is linked.write_lock
    assert other.write_lock is not first.write_lock
    assert connect(":memory:").write_lock is None  # nobody else shares that database


def test_a_writer_waits_for_the_one_before_it_then_sees_its_row(path):
    holding, release, entered = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def first():
        conn = connect(path)
        with transaction(conn):
            conn.execute("INSERT INTO t VALUES (1)")
            holding.set()
            release.wait(10)

    def second():
        conn = connect(path)
        with transaction(conn):
            entered.set()
            seen.append(conn.execute("SELECT count(*) FROM t").fetchone()[0])
            conn.execute("INSERT INTO t VALUES (2)")

    a = threading.Thread(target=first)
    a.start()
    assert holding.wait(10)
    b = threading.Thread(target=second)
    b.start()
    assert not entered.wait(0.3)  # queued behind the first writer
    assert connect(path).write_lock.locked()
    release.set()
    a.join(10)
    b.join(10)
    assert seen == [1]
    assert connect(path).execute("SELECT count(*) FROM t").fetchone()[0] == 2


def test_a_writer_kept_waiting_past_the_busy_timeout_is_told_the_database_is_locked(
    path, monkeypatch
):
    monkeypatch.setattr(repo_sqlite, "BUSY_TIMEOUT_MS", 200)
    holder = connect(path)
    with transaction(holder):
        holder.execute("INSERT INTO t VALUES (1)")
        waiting = connect(path)
        locked = pytest.raises(repo_sqlite.sqlite3.OperationalError, match="database is locked")
        with locked, transaction(waiting):
            pytest.fail("entered a transaction another writer holds")
    assert not holder.write_lock.locked()  # released by the commit
    with transaction(waiting):  # and the next writer gets it
        waiting.execute("INSERT INTO t VALUES (2)")
    assert waiting.execute("SELECT count(*) FROM t").fetchone()[0] == 2


def test_a_failed_transaction_releases_the_lock(path):
    conn = connect(path)
    with pytest.raises(ZeroDivisionError), transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        _ = 1 / 0
    assert not conn.write_lock.locked()
    assert not conn.in_transaction
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0


def test_a_forked_child_does_not_inherit_a_lock_the_parent_holds(path):
    """gunicorn forks its workers: a lock one of the parent's threads held at that moment
    would stay held in the child for ever (nobody there releases it)."""
    parent = connect(path)
    assert parent.write_lock.acquire()
    try:
        pid = os.fork()
        if pid == 0:  # the child: writes at once (the parent holds no SQLite lock)
            code = 1
            try:
                conn = connect(path)
                with transaction(conn):
                    conn.execute("INSERT INTO t VALUES (7)")
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
    finally:
        parent.write_lock.release()
    assert os.waitstatus_to_exitcode(status) == 0
    assert parent.execute("SELECT x FROM t").fetchall()[0][0] == 7
