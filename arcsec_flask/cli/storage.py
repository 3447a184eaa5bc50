"""The stored files: `storage check`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from .. import storage as stored
from ..repo import datafiles
from ..services import previews
from .common import database

group = AppGroup("storage", help="The stored files.")


@group.command("check")
@click.option("--delete", is_flag=True, help="Remove unreferenced files and stale parts.")
@click.option(
    "--stale-hours",
    default=24.0,
    show_default=True,
    help="Age after which a part still held by a running upload counts as hung (a part no"
    " upload holds is a crash's leftover at any age).",
)
def storage_check(delete: bool, stale_hours: float) -> None:
    """Compare the stored files with the rows; exit 1 when a row has lost its file.

    A crash can leave a file without a row (renamed into place, row not committed) or a
    temporary part (upload cut by a power loss): both are invisible to the API and
    removed by --delete, as are cached previews of files that no row holds. A row without
    its file is reported, never deleted.
    """
    files_dir = current_app.config["FILES_DIR"]
    with database() as conn:
        rows = datafiles.all_storage_paths(conn)
        previewed = datafiles.all_storage_paths(conn, in_place=True)
    on_disk = stored.stored_paths(files_dir)
    stale = stored.stale_parts(files_dir, stale_hours * 3600)
    orphan_previews = previews.orphans(current_app.config["DATA_DIR"], previewed)
    unreferenced, missing = sorted(on_disk - rows), sorted(rows - on_disk)
    click.echo(
        f"{len(rows)} rows, {len(on_disk)} stored files, {len(unreferenced)} "
        f"unreferenced, {len(stale)} stale parts, {len(missing)} missing"
    )
    click.echo(f"{len(orphan_previews)} cached previews of no row")
    for path in missing:
        click.echo(f"missing: {path}")
    for path in unreferenced:
        click.echo(f"unreferenced: {path}")
    if delete:
        stored.remove(files_dir, unreferenced)
        for part in [*stale, *orphan_previews]:
            part.unlink(missing_ok=True)
        click.echo(f"removed {len(unreferenced)} unreferenced files and {len(stale)} stale parts")
        click.echo(f"removed {len(orphan_previews)} cached previews of no row")
    if missing:
        raise SystemExit(1)
