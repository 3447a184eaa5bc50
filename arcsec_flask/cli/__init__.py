"""The `arcsec-flask` command: the Flask CLI over create_app, with the administration
commands of each module here."""

from __future__ import annotations

from flask import Flask
from flask.cli import FlaskGroup

from . import accounts, backup, check, ingest, migrate, storage, watch


def init_app(app: Flask) -> None:
    app.cli.add_command(accounts.users)
    app.cli.add_command(accounts.orgs)
    app.cli.add_command(accounts.bootstrap)
    app.cli.add_command(storage.group)
    app.cli.add_command(check.check_command)
    app.cli.add_command(backup.backup_command)
    app.cli.add_command(backup.restore_command)
    app.cli.add_command(ingest.ingest_command)
    app.cli.add_command(migrate.migrate_storage)
    app.cli.add_command(watch.watch_command)


def main() -> None:
    FlaskGroup(create_app=_command_app, help="The arcsec_flask server's administration.")()


def _command_app() -> Flask:
    """The app of a command. It does not sweep the crash leftovers that a server start
    sweeps: `check` reports them and `check --repair` removes them (`init-db`, which
    starts a deployment, sweeps them itself)."""
    from .. import create_app

    return create_app({"SWEEP_PARTS_AT_START": False})
