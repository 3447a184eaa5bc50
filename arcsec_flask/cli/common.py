"""What every command shares: a connection to the app's database, domain errors as
command-line errors (an unreachable bucket among them), and how keys are shown."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import click
from flask import current_app

from ..domain.errors import ArcsecError
from ..repo.sqlite import connect
from ..storage.s3 import StorageUnavailable


@contextmanager
def database() -> Iterator[sqlite3.Connection]:
    conn = connect(current_app.config["DATABASE"])
    try:
        yield conn
    except ArcsecError as error:
        raise click.ClickException(error.detail) from error
    finally:
        conn.close()


@contextmanager
def bucket_reachable(config: Mapping[str, Any], not_done: str) -> Iterator[None]:
    """The bucket failing to answer as one line (exit 1): which bucket, why (botocore's
    words: the endpoint, the refusal) and `not_done`; not a traceback, nor the message a
    download gets (which names neither). Inside `database()`, which would say less."""
    s3_log = logging.getLogger(StorageUnavailable.__module__)
    level = s3_log.level
    s3_log.setLevel(logging.ERROR)  # its warning says what the line below says
    try:
        yield
    except StorageUnavailable as error:
        cause = error.__cause__ or error
        bucket = config["S3_BUCKET"]
        raise click.ClickException(
            f"The file storage (S3 bucket {bucket!r}) cannot be reached: {cause}. {not_done}"
        ) from None
    finally:
        s3_log.setLevel(level)


def print_keys(account: dict, as_json: bool) -> None:
    keys = {k: account[k] for k in ("username", "api_key", "upload_key")}
    if as_json:
        click.echo(json.dumps(keys))
        return
    click.echo(f"User:       {keys['username']}")
    click.echo(f"API key:    {keys['api_key']}")
    click.echo(f"Upload key: {keys['upload_key']}")
    click.echo("Keep them now: they are stored hashed and cannot be shown again.")
