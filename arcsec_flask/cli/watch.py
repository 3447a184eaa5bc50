"""`watch FOLDER`: file new frames as they land in a folder (the watcher's systemd unit)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import storage
from ..services import ingest
from ..services.watch import Watcher, WatchTarget
from ..web.storage import backend_of
from .common import database
from .ingest import owner_and_dataset, stop_on_sigint, target_options


@click.command("watch")
@with_appcontext
@target_options
@click.option(
    "--stable-seconds",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Take a file once its size and mtime have not changed for this long.",
)
@click.option("--poll", is_flag=True, help="Poll the folder instead of using file events.")
def watch_command(
    folder: Path,
    dataset_ref: str,
    telescope: str | None,
    username: str | None,
    subdomain: str | None,
    mode: ingest.Mode,
    jobs: int,
    verify: bool,
    stable_seconds: float,
    poll: bool,
) -> None:
    """Import files as they appear under FOLDER, once complete; first, what is already
    there (a restart catches up, importing nothing twice). One line per file on stderr.

    SIGTERM or Ctrl-C: stops after the file being filed, exit 0."""
    _log_to_stderr()
    with database() as conn, stop_on_sigint() as stop:
        owner_id, dataset = owner_and_dataset(conn, username, subdomain, dataset_ref, telescope)
        target = WatchTarget(backend_of(current_app), owner_id, dataset, mode, jobs, verify)
        watcher = Watcher(conn, target, folder, stable_seconds, poll, stop)
        try:
            watcher.run()
        except KeyboardInterrupt:  # a second Ctrl-C: the batch in hand was rolled back
            storage.remove_unfinished()  # a part the interrupt caught being made
            click.echo("Interrupted: the last batch was rolled back.", err=True)
            raise SystemExit(130) from None
    click.echo("Stopped.", err=True)


def _log_to_stderr() -> None:
    """Plain lines (journald adds the time and the unit), warnings and above marked."""
    logger = logging.getLogger("arcsec_flask.watch")
    if logger.handlers:  # a second run in the same process (tests)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
