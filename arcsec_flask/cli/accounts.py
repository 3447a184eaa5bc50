"""Accounts and organisations: `users ...`, `orgs ...`, `bootstrap`."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup, with_appcontext
from werkzeug.security import generate_password_hash

from ..repo import accounts, organisations
from .common import database, print_keys

users = AppGroup("users", help="Accounts and their keys.")
orgs = AppGroup("orgs", help="Organisations and their members.")
_LOCAL_CREATED = "Created the organisation 'local' (portal /local/...), owned by {username}."


_HISTORY_WARNING = (
    "Warning: a password given with --password lands in your shell history and in the"
    " process list; leave it out to be asked for it, or use --password-file."
)


@users.command("create")
@click.argument("username")
@click.option("--email", default="", help="Email address.")
@click.option(
    "--password",
    default=None,
    help="Password for the browseable pages (seen in shell history: prefer the prompt).",
)
@click.option(
    "--password-file",
    type=click.File("r"),
    default=None,
    help="Read the password from the first line of this file ('-': standard input).",
)
@click.option("--json", "as_json", is_flag=True, help="Print only the keys, as JSON.")
def users_create(
    username: str, email: str, password: str | None, password_file, as_json: bool
) -> None:
    """Create an account and print its two keys (the first account also owns `local`).

    On a terminal, without --password or --password-file, asks for the password (hidden,
    twice; empty for none: keys only). Without a terminal (scripts), no password is set.
    """
    password = _password(password, password_file)
    password_hash = generate_password_hash(password) if password else None
    with database() as conn:
        account = organisations.create_account(conn, username, email, password_hash)
    print_keys(account, as_json)
    if account["local"] and not as_json:
        click.echo(_LOCAL_CREATED.format(username=account["username"]))


def _password(given: str | None, source) -> str | None:
    if given is not None and source is not None:
        raise click.UsageError("Give --password or --password-file, not both.")
    if given is not None:
        click.echo(_HISTORY_WARNING, err=True)
        return given
    if source is not None:
        return source.readline().rstrip("\r\n") or None
    if not sys.stdin.isatty():
        return None
    entered = click.prompt(
        "Password (empty for none)",
        default="",
        show_default=False,
        hide_input=True,
        confirmation_prompt=True,
        err=True,
    )
    return entered or None


@users.command("rotate-keys")
@click.argument("username")
@click.option("--json", "as_json", is_flag=True, help="Print only the keys, as JSON.")
def users_rotate_keys(username: str, as_json: bool) -> None:
    """Replace both keys of an account (the old ones stop working)."""
    with database() as conn:
        account = accounts.rotate_keys(conn, username)
    print_keys(account, as_json)


@users.command("list")
def users_list() -> None:
    """List the accounts."""
    with database() as conn:
        for account in accounts.list_all(conn):
            click.echo(f"{account['username']}\t{account['email']}\t{account['creation_date']}")


@orgs.command("create")
@click.argument("subdomain")
@click.option("--name", required=True, help="Display name.")
@click.option("--owner", required=True, help="Username of the first owner.")
def orgs_create(subdomain: str, name: str, owner: str) -> None:
    """Create an organisation with its first owner."""
    with database() as conn:
        org = organisations.create(conn, subdomain, name, owner)
    click.echo(f"Created organisation '{org['subdomain']}' ({org['name']}), owner {owner}.")


@orgs.command("add-member")
@click.argument("subdomain")
@click.argument("username")
@click.option("--role", required=True, help="owner, admin, member or visitor.")
def orgs_add_member(subdomain: str, username: str, role: str) -> None:
    """Add a member to an organisation (or change their role)."""
    with database() as conn:
        organisations.add_member(conn, subdomain, username, role)
    click.echo(f"{username} is now {role} of '{subdomain}'.")


@click.command("bootstrap")
@with_appcontext
@click.option("--username", default="observer", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print only the keys, as JSON.")
def bootstrap(username: str, as_json: bool) -> None:
    """Create a first account, owner of the `local` organisation, when there is none, and
    print its keys. On an install with accounts but no `local`, create it for the first
    account. Running it again changes nothing."""
    with database() as conn:
        first = accounts.first(conn)
        if first is not None:
            local = organisations.ensure_local(conn, first["username"])
            if not as_json:
                if local:
                    click.echo(_LOCAL_CREATED.format(username=first["username"]))
                click.echo("Accounts exist already; keys are shown only when created.")
                click.echo("New keys: arcsec-flask users rotate-keys USERNAME")
            return
        account = organisations.create_account(conn, username)
    print_keys(account, as_json)
    if account["local"] and not as_json:
        click.echo(_LOCAL_CREATED.format(username=account["username"]))
