"""`migrate-storage`: copy the stored files into the other storage backend."""

from __future__ import annotations

import sys
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from ..services import migration
from ..storage import backend_from_config
from ..web.storage import get_backend
from .common import bucket_reachable, database


@click.command("migrate-storage")
@click.option(
    "--to", "kind", type=click.Choice(["s3", "file"]), required=True, help="The target storage."
)
@with_appcontext
def migrate_storage(kind: str) -> None:
    """Copy every stored file into the other storage (the bucket, or FILES_DIR), verifying
    each sha256; resumable (files already there, right size and checksum, are skipped).
    Changes no setting and removes nothing: it prints what to set. Exit 1 if a file could
    not be copied."""
    config = current_app.config
    if config["STORAGE"] == kind:
        raise click.ClickException(
            f"The storage is already {kind!r}: the target must be the other one."
        )
    if kind == "s3" and not config["S3_BUCKET"]:
        raise click.ClickException("--to s3 needs ARCSEC_S3_BUCKET (and the S3 settings).")
    source = get_backend()
    target = backend_from_config({**config, "STORAGE": kind})
    not_done = "Stopped: what was copied is kept (and skipped); run it again once it answers."
    with database() as conn, bucket_reachable(config, not_done):
        bar = tqdm(unit="file", desc="stored files", file=sys.stderr, disable=None)
        try:
            summary = migration.migrate(conn, source, target, progress=lambda _r: bar.update(1))
        finally:
            bar.close()
    click.echo(
        f"{summary.copied} copied ({summary.bytes} bytes), {summary.present} already there, "
        f"{len(summary.failed)} failed"
    )
    for path, reason in summary.failed:
        click.echo(f"failed: {path}: {reason}")
    if summary.failed:
        click.echo("Not every file is in the target: fix the failures, then run again.")
        raise SystemExit(1)
    click.echo(_what_to_set(kind, config))


def _what_to_set(kind: str, config: Any) -> str:
    if kind == "s3":
        where = f"ARCSEC_S3_BUCKET={config['S3_BUCKET']}"
        if config["S3_ENDPOINT_URL"]:
            where += f" ARCSEC_S3_ENDPOINT_URL={config['S3_ENDPOINT_URL']}"
        setting = f"ARCSEC_STORAGE=s3 ({where})"
        left = f"the files in {config['FILES_DIR']}"
    else:
        setting = f"ARCSEC_STORAGE=file (ARCSEC_FILES_DIR={config['FILES_DIR']})"
        left = f"the objects in the bucket {config['S3_BUCKET']}"
    return (
        f"Every stored file is in the target. To switch: stop uploads, run this once more "
        f"(it copies only what is new), set {setting} and restart the server. Nothing was "
        f"removed: delete {left} once the server runs from the new storage."
    )
