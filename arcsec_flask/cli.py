"""The `arcsec-flask` command: a Flask CLI group over create_app."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext
from werkzeug.security import generate_password_hash

from . import storage
from .db import connect
from .exceptions import ArcsecError
from .repo import accounts, datafiles, organisations


@contextmanager
def _db() -> Iterator[sqlite3.Connection]:
    conn = connect(current_app.config["DATABASE"])
    try:
        yield conn
    except ArcsecError as error:
        raise click.ClickException(error.detail) from error
    finally:
        conn.close()


def _print_keys(account: dict, as_json: bool) -> None:
    keys = {k: account[k] for k in ("username", "api_key", "upload_key")}
    if as_json:
        click.echo(json.dumps(keys))
        return
    click.echo(f"User:       {keys['username']}")
    click.echo(f"API key:    {keys['api_key']}")
    click.echo(f"Upload key: {keys['upload_key']}")
    click.echo("Keep them now: they are stored hashed and cannot be shown again.")


users = AppGroup("users", help="Accounts and their keys.")
orgs = AppGroup("orgs", help="Organisations and their members.")


@users.command("create")
@click.argument("username")
@click.option("--email", default="", help="Email address.")
@click.option("--password", default=None, help="Password for the browseable pages.")
@click.option("--json", "as_json", is_flag=True, help="Print only the keys, as JSON.")
def users_create(username: str, email: str, password: str | None, as_json: bool) -> None:
    """Create an account and print its two keys."""
    password_hash = generate_password_hash(password) if password else None
    with _db() as conn:
        account = accounts.create(conn, username, email, password_hash)
    _print_keys(account, as_json)


@users.command("rotate-keys")
@click.argument("username")
@click.option("--json", "as_json", is_flag=True, help="Print only the keys, as JSON.")
def users_rotate_keys(username: str, as_json: bool) -> None:
    """Replace both keys of an account (the old ones stop working)."""
    with _db() as conn:
        account = accounts.rotate_keys(conn, username)
    _print_keys(account, as_json)


@users.command("list")
def users_list() -> None:
    """List the accounts."""
    with _db() as conn:
        for account in accounts.list_all(conn):
            click.echo(f"{account['username']}\t{account['email']}\t{account['creation_date']}")


@orgs.command("create")
@click.argument("subdomain")
@click.option("--name", required=True, help="Display name.")
@click.option("--owner", required=True, help="Username of the first owner.")
def orgs_create(subdomain: str, name: str, owner: str) -> None:
    """Create an organisation with its first owner."""
    with _db() as conn:
        org = organisations.create(conn, subdomain, name, owner)
    click.echo(f"Created organisation '{org['subdomain']}' ({org['name']}), owner {owner}.")


@orgs.command("add-member")
@click.argument("subdomain")
@click.argument("username")
@click.option("--role", required=True, help="owner, admin, member or visitor.")
def orgs_add_member(subdomain: str, username: str, role: str) -> None:
    """Add a member to an organisation (or change their role)."""
    with _db() as conn:
        organisations.add_member(conn, subdomain, username, role)
    click.echo(f"{username} is now {role} of '{subdomain}'.")


storage_group = AppGroup("storage", help="The stored files.")


@storage_group.command("check")
@click.option("--delete", is_flag=True, help="Remove unreferenced files and stale parts.")
@click.option(
    "--stale-hours",
    default=24.0,
    show_default=True,
    help="Age after which a temporary upload part counts as left by a crash.",
)
def storage_check(delete: bool, stale_hours: float) -> None:
    """Compare the stored files with the rows; exit 1 when a row has lost its file.

    A crash can leave a file without a row (renamed into place, row not committed) or a
    temporary part (upload cut by a power loss): both are invisible to the API and
    removed by --delete. A row without its file is reported, never deleted.
    """
    files_dir = current_app.config["FILES_DIR"]
    with _db() as conn:
        rows = datafiles.all_storage_paths(conn)
    on_disk = storage.stored_paths(files_dir)
    stale = storage.stale_parts(files_dir, stale_hours * 3600)
    unreferenced, missing = sorted(on_disk - rows), sorted(rows - on_disk)
    click.echo(
        f"{len(rows)} rows, {len(on_disk)} stored files, {len(unreferenced)} "
        f"unreferenced, {len(stale)} stale parts, {len(missing)} missing"
    )
    for path in missing:
        click.echo(f"missing: {path}")
    for path in unreferenced:
        click.echo(f"unreferenced: {path}")
    if delete:
        storage.remove(files_dir, unreferenced)
        for part in stale:
            part.unlink(missing_ok=True)
        click.echo(f"removed {len(unreferenced)} unreferenced files and {len(stale)} stale parts")
    if missing:
        raise SystemExit(1)


@click.command("bootstrap")
@with_appcontext
@click.option("--username", default="observer", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print only the keys, as JSON.")
def bootstrap(username: str, as_json: bool) -> None:
    """Create a first account when there is none, and print its keys."""
    with _db() as conn:
        if accounts.count(conn):
            if not as_json:
                click.echo("Accounts exist already; keys are shown only when created.")
                click.echo("New keys: arcsec-flask users rotate-keys USERNAME")
            return
        account = accounts.create(conn, username)
    _print_keys(account, as_json)


def init_app(app: Flask) -> None:
    app.cli.add_command(users)
    app.cli.add_command(orgs)
    app.cli.add_command(bootstrap)
    app.cli.add_command(storage_group)


def main() -> None:
    from . import create_app

    FlaskGroup(create_app=create_app, help="The arcsec_flask server's administration.")()
