"""The app's database: one connection per request, and the init-db command."""

from __future__ import annotations

import sqlite3

import click
from flask import Flask, current_app, g

from ..repo.sqlite import MIGRATIONS, connect, init_schema, transaction

__all__ = ["MIGRATIONS", "connect", "get_db", "init_app", "init_schema", "transaction"]


def get_db() -> sqlite3.Connection:
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def close_db(_error: BaseException | None = None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


@click.command("init-db")
def init_db_command() -> None:
    """Create the data folder and apply the schema and migrations."""
    conn = connect(current_app.config["DATABASE"])
    try:
        version = init_schema(conn)
    finally:
        conn.close()
    click.echo(f"Initialised {current_app.config['DATABASE']} (schema version {version}).")


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
    app.cli.add_command(init_db_command)
    conn = connect(app.config["DATABASE"])
    try:
        init_schema(conn)
    finally:
        conn.close()
