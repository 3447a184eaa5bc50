"""`ingest FOLDER`: import frames already on disk through the upload's own code."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from .. import storage
from ..domain.errors import ArcsecError
from ..domain.ids import canonical_uuid
from ..repo import accounts, datasets, organisations
from ..services import ingest
from ..web.storage import backend_of
from .common import database


def target_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options `ingest` and `watch` share: where files go and how they are kept."""
    options = [
        click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False)),
        click.option(
            "--dataset", "dataset_ref", required=True, help="Dataset name (made if new) or UUID."
        ),
        click.option("--telescope", default=None, help="Telescope UUID for a new dataset."),
        click.option("--user", "username", default=None, help="Owner: this account."),
        click.option("--org", "subdomain", default=None, help="Owner: this organisation."),
        click.option(
            "--copy", "mode", flag_value="copy", default=True, help="Copy the files (default)."
        ),
        click.option(
            "--link", "mode", flag_value="link", help="Hard-link them (a copy across disks)."
        ),
        click.option(
            "--in-place",
            "mode",
            flag_value="in-place",
            help="Register them where they are, read-only: never moved nor changed.",
        ),
        click.option("--jobs", default=4, show_default=True, help="Header readers in parallel."),
        click.option(
            "--verify",
            is_flag=True,
            help="Compare every file whose name the dataset holds by sha256 (it reads them),"
            " instead of taking one of the same size, not modified since, as present.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command("ingest")
@with_appcontext
@target_options
def ingest_command(
    folder: Path,
    dataset_ref: str,
    telescope: str | None,
    username: str | None,
    subdomain: str | None,
    mode: ingest.Mode,
    jobs: int,
    verify: bool,
) -> None:
    """Import a folder tree; a re-run imports nothing twice. Exit 1 if a file was refused.

    Ctrl-C stops after the file being filed (what is filed stays; run again to resume);
    a second Ctrl-C stops at once, rolling back the last batch."""
    paths = ingest.files_under(folder)
    with database() as conn, stop_on_sigint() as stop:
        owner_id, dataset = owner_and_dataset(conn, username, subdomain, dataset_ref, telescope)
        bar = tqdm(
            total=sum(p.stat().st_size for p in paths),
            unit="B",
            unit_scale=True,
            desc=f"{len(paths)} files",
            file=sys.stderr,
            disable=None,  # no bar when stderr is not a terminal
        )
        try:
            summary = ingest.ingest_paths(
                conn,
                backend_of(current_app),
                owner_id,
                dataset,
                paths,
                mode=mode,
                jobs=jobs,
                progress=lambda _path, size: bar.update(size),
                stop=stop,
                verify=verify,
            )
        except ingest.InPlaceNeedsLocal as error:
            bar.close()
            raise click.ClickException(error.detail) from error
        except KeyboardInterrupt:
            bar.close()
            storage.remove_unfinished()  # a part the interrupt caught being made
            click.echo("Interrupted: the last batch was rolled back; run again to resume.")
            raise SystemExit(130) from None
        bar.close()
    report(summary)
    if summary.interrupted:
        click.echo("Interrupted: the files filed so far are kept; run again to resume.")
        raise SystemExit(130)
    if summary.refused:
        raise SystemExit(1)


def report(summary: ingest.Summary) -> None:
    counts = summary.as_dict()
    click.echo(
        f"imported: {counts['imported']}, already present: {counts['skipped_present']},"
        f" flagged unreadable: {counts['flagged_unreadable']}, refused: {counts['refused']}"
    )
    for path, reason in summary.refused:
        click.echo(f"refused: {path}: {reason}")


@contextmanager
def stop_on_sigint() -> Iterator[threading.Event]:
    """An Event set by the first Ctrl-C (and SIGTERM); the next Ctrl-C raises as usual."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():  # e.g. a test runner
        yield stop
        return

    def request_stop(signum: int, _frame: object) -> None:
        stop.set()
        if signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        click.echo("Stopping after the current file (Ctrl-C again to stop now)...", err=True)

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def owner_and_dataset(
    conn, username: str | None, subdomain: str | None, dataset_ref: str, telescope: str | None
) -> tuple[int, dict]:
    if (username is None) == (subdomain is None):
        raise click.UsageError("Give exactly one owner: --user USER or --org SUBDOMAIN.")
    owner_id = _owner(conn, username, subdomain)
    return owner_id, _dataset(conn, owner_id, dataset_ref, telescope)


def _owner(conn, username: str | None, subdomain: str | None) -> int:
    if username is not None:
        account = accounts.get_by_username(conn, username)
        if account is None:
            raise click.ClickException(f"No user '{username}'.")
        return account["owner_id"]
    org = organisations.get(conn, subdomain or "")
    if org is None:
        raise click.ClickException(f"No organisation '{subdomain}'.")
    return org["owner_id"]


def _dataset(conn, owner_id: int, ref: str, telescope: str | None) -> dict:
    if canonical_uuid(ref.lower()):
        try:
            return datasets.writable(conn, owner_id, ref.lower())
        except ArcsecError as error:
            raise click.ClickException(f"No dataset {ref} of this owner.") from error
    _count, found = datasets.list_(conn, owner_id, {"name": ref}, 2, 0)
    if len(found) > 1:
        raise click.ClickException(f"Several datasets are named '{ref}': give its UUID.")
    if found:
        return {"id": found[0]["id"], "uuid": found[0]["uuid"]}
    try:
        made = datasets.create(conn, owner_id, {"name": ref, "telescope": telescope})
    except ArcsecError as error:
        raise click.ClickException(error.detail) from error
    return {"id": made["id"], "uuid": made["uuid"]}
