"""Backups: `backup DEST [--with-files] [--previous PREV]`, `backup --verify BACKUP`,
`restore BACKUP` (docs/operations.md). Under S3 storage `--with-files` copies the
bucket's objects, and `restore` restores the database against the files in the bucket."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..domain.errors import ArcsecError
from ..services import backup as backups
from ..web.storage import get_backend
from .common import bucket_reachable


def _report(summary: dict) -> None:
    click.echo(json.dumps(summary, indent=2, default=str))
    if not summary.get("ok", True):
        raise SystemExit(1)


@click.command("backup")
@with_appcontext
@click.argument("dest", type=click.Path(path_type=Path))
@click.option(
    "--with-files", is_flag=True, help="Copy the stored files too (from the bucket under S3)."
)
@click.option(
    "--previous",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="An earlier backup: files it holds unchanged are hard-linked, not copied.",
)
@click.option(
    "--verify", "verify_only", is_flag=True, help="Check the backup DEST; change nothing."
)
def backup_command(dest: Path, with_files: bool, previous: Path | None, verify_only: bool) -> None:
    """A consistent copy of the database (and files) taken while the server runs."""
    config = current_app.config
    backend = get_backend()
    try:
        if verify_only:
            _report(backups.verify(dest))
            return
        with bucket_reachable(config, "No backup was made."):
            summary = backups.backup(
                Path(config["DATABASE"]),
                Path(config["FILES_DIR"]),
                dest,
                with_files=with_files,
                previous=previous,
                secret_key=Path(config["DATA_DIR"]) / "secret_key",
                stored=backend.open if backend.kind == "s3" else None,
            )
        _report(summary)
    except (backups.BackupError, ArcsecError) as error:
        raise click.ClickException(str(error)) from error


@click.command("restore")
@with_appcontext
@click.argument("backup_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
def restore_command(backup_dir: Path) -> None:
    """Bring a backup back into this (empty) data folder, verifying every file (under S3:
    the database only, checked against the objects in the bucket)."""
    config = current_app.config
    backend = get_backend()
    try:
        with bucket_reachable(config, "Nothing was restored."):
            summary = backups.restore(
                backup_dir,
                Path(config["DATA_DIR"]),
                files_dir=Path(config["FILES_DIR"]),
                database=Path(config["DATABASE"]),
                bucket=backend if backend.kind == "s3" else None,
            )
        _report(summary)
    except (backups.BackupError, ArcsecError) as error:
        raise click.ClickException(str(error)) from error
