"""The `arcsec-flask` command: the Flask CLI over create_app, with the administration
commands of each module here."""

from __future__ import annotations

from flask import Flask
from flask.cli import FlaskGroup

from . import accounts, backup, ingest, storage, watch


def init_app(app: Flask) -> None:
    app.cli.add_command(accounts.users)
    app.cli.add_command(accounts.orgs)
    app.cli.add_command(accounts.bootstrap)
    app.cli.add_command(storage.group)
    app.cli.add_command(backup.backup_command)
    app.cli.add_command(backup.restore_command)
    app.cli.add_command(ingest.ingest_command)
    app.cli.add_command(watch.watch_command)


def main() -> None:
    from .. import create_app

    FlaskGroup(create_app=create_app, help="The arcsec_flask server's administration.")()
