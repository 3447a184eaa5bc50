"""The app's database: one connection per worker thread, reused, and the init-db command.

Opening a connection and setting its pragmas cost about 6 % of a small upload's time, so
each thread keeps its own and reuses it across requests (gunicorn's gthread workers run
requests on a fixed pool of threads; a thread never shares its connection). A request
gets its thread's connection clean: one left inside a transaction by an error is rolled
back before it is handed out again, and at the request's end. Connections are closed
when their thread or process goes; one opened before a fork is never used after it.
"""

from __future__ import annotations

import os
import sqlite3
import threading

import click
from flask import Flask, current_app, g

from .. import storage
from ..repo.sqlite import MIGRATIONS, connect, init_schema, transaction

__all__ = ["MIGRATIONS", "connect", "get_db", "init_app", "init_schema", "transaction"]

EXTENSION = "arcsec_db_connections"

# Connections inherited across a fork: closing one in the child could drop the parent's
# locks, so they are kept here, unused, for the life of the process.
_INHERITED: list[sqlite3.Connection] = []


class ThreadConnections(threading.local):
    """This thread's connection to one database file, opened on first use."""

    def __init__(self) -> None:
        self.conn: sqlite3.Connection | None = None
        self.key: tuple[int, str] | None = None

    def get(self, path: str) -> sqlite3.Connection:
        key = (os.getpid(), path)
        if self.conn is not None and self.key != key:
            # Another database (config changed) or a fork's inherited copy: never reused.
            if self.key is not None and self.key[0] == key[0]:
                self.conn.close()
            else:
                _INHERITED.append(self.conn)
            self.conn = None
        if self.conn is None:
            self.conn, self.key = connect(path), key
        reset(self.conn)
        return self.conn


def reset(conn: sqlite3.Connection) -> None:
    """Roll back whatever transaction an interrupted request left open on `conn`."""
    if conn.in_transaction:
        conn.rollback()  # sqlite3 rolls back any open transaction, ours included


def get_db() -> sqlite3.Connection:
    if "db" not in g:
        connections: ThreadConnections = current_app.extensions[EXTENSION]
        g.db = connections.get(current_app.config["DATABASE"])
    return g.db


def release_db(_error: BaseException | None = None) -> None:
    """End of a request: the connection stays open for the thread's next request."""
    conn = g.pop("db", None)
    if conn is not None:
        reset(conn)


@click.command("init-db")
def init_db_command() -> None:
    """Create the data folder, apply the schema and migrations, sweep crash leftovers."""
    conn = connect(current_app.config["DATABASE"])
    try:
        version = init_schema(conn)
    finally:
        conn.close()
    click.echo(f"Initialised {current_app.config['DATABASE']} (schema version {version}).")
    swept = storage.sweep_stale_parts(current_app.config["FILES_DIR"])
    if swept:
        click.echo(f"Removed {swept} upload parts left by a crash.")


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = ThreadConnections()
    app.teardown_appcontext(release_db)
    app.cli.add_command(init_db_command)
    conn = connect(app.config["DATABASE"])
    try:
        init_schema(conn)
    finally:
        conn.close()
