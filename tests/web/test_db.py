"""web/db.py: one connection per thread, reused across requests, handed out clean."""

from __future__ import annotations

import sqlite3
import threading

from arcsec_flask.web.db import EXTENSION, get_db


def _request_connection(app) -> sqlite3.Connection:
    with app.test_request_context("/"):
        return get_db()


def test_a_thread_reuses_its_connection_with_its_pragmas(app):
    first, second = _request_connection(app), _request_connection(app)
    assert first is second
    assert first.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert first.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
    assert first.execute("SELECT count(*) FROM accounts").fetchone()[0] == 0  # still open


def test_each_thread_has_its_own_connection(app):
    mine = _request_connection(app)
    theirs: list[sqlite3.Connection] = []
    worker = threading.Thread(target=lambda: theirs.extend([_request_connection(app)] * 2))
    worker.start()
    worker.join()
    assert theirs[0] is theirs[1] and theirs[0] is not mine


def test_a_transaction_left_open_by_an_error_is_rolled_back(app, client, alice):
    with app.test_request_context("/"):
        conn = get_db()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE accounts SET email = 'evil@example.org'")
        # The request ends here without COMMIT or ROLLBACK, as an escaping error leaves it.
    assert not conn.in_transaction
    other = sqlite3.connect(app.config["DATABASE"], timeout=0)  # the write lock is free
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        assert other.execute("SELECT email FROM accounts").fetchone()[0] == "alice@example.org"
    finally:
        other.close()
    assert client.get("/datasets/", headers=alice.api).status_code == 200


def test_a_connection_found_in_a_transaction_is_reset_before_reuse(app):
    connections = app.extensions[EXTENSION]
    conn = connections.get(app.config["DATABASE"])
    conn.execute("BEGIN IMMEDIATE")  # as if the request's teardown never ran
    assert connections.get(app.config["DATABASE"]) is conn
    assert not conn.in_transaction


def test_another_database_gets_another_connection(app, tmp_path):
    before = _request_connection(app)
    app.config["DATABASE"] = str(tmp_path / "other.sqlite3")
    after = _request_connection(app)
    assert after is not before
    assert after.execute("PRAGMA database_list").fetchone()[2].endswith("other.sqlite3")
