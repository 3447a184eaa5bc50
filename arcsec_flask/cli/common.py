"""What every command shares: a connection to the app's database, domain errors as
command-line errors, and how keys are shown."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import current_app

from ..domain.errors import ArcsecError
from ..repo.sqlite import connect


@contextmanager
def database() -> Iterator[sqlite3.Connection]:
    conn = connect(current_app.config["DATABASE"])
    try:
        yield conn
    except ArcsecError as error:
        raise click.ClickException(error.detail) from error
    finally:
        conn.close()


def print_keys(account: dict, as_json: bool) -> None:
    keys = {k: account[k] for k in ("username", "api_key", "upload_key")}
    if as_json:
        click.echo(json.dumps(keys))
        return
    click.echo(f"User:       {keys['username']}")
    click.echo(f"API key:    {keys['api_key']}")
    click.echo(f"Upload key: {keys['upload_key']}")
    click.echo("Keep them now: they are stored hashed and cannot be shown again.")
