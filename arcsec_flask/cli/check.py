"""`arcsec-flask check`: is every row's file there, whole, and nothing else; with --repair,
fix what can be fixed without losing data (services/store_check.py)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from ..services import store_check
from ..services.store_check import KINDS, Options, Report
from ..storage import LOST_FOUND, backend_from_config
from .common import bucket_reachable, database

# Each item's fields shown in the text report, after the kind (all of them in --json).
SHOWN = ("dataset", "name", "id", "path", "external_path", "key", "table", "count",
         "fields", "expected", "actual", "size", "age_s", "error", "moved_to")  # fmt: skip

HELP = f"""Compare the rows with the stored files and the derived data with the rows.

Exit status: 0 when nothing was found, 1 when something was (repaired or not) or the
storage could not be read (an S3 bucket unreachable: one line saying so), 2 on a usage
error.

Found: rows without their file; files without a row; files whose size (and, with
--verify-checksums, sha256) is not their row's; in-place files gone or changed; upload
parts no upload will finish (those no running upload holds, at any age: a crash's
leftovers; and those held for more than --stale-hours: hung); cached previews of no row;
night logs, observations and calibrations out of date; stored counts out of date.

--repair loses nothing: files without a row are moved to DATA_DIR/{LOST_FOUND}/<UTC date>/
(never deleted), and only those unchanged for --grace-hours, because an upload being filed
right now has its file in place a moment before its row is committed; stale parts and
previews of no row are removed (incomplete uploads; previews are made again); derived
links and counts are recomputed. Rows without their file, mismatches and in-place files
gone or changed are only reported: a person decides what they mean.
"""


def _hours(value: float) -> float:
    if value < 0:
        raise click.BadParameter("must be at least 0")
    return value


@click.command("check", help=HELP)
@with_appcontext
@click.option(
    "--verify-checksums", is_flag=True, help="Read every file and compare its sha256 (slow)."
)
@click.option("--repair", is_flag=True, help="Fix what can be fixed without losing data.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option(
    "--grace-hours",
    type=float,
    default=store_check.DEFAULT_GRACE_S / 3600,
    show_default=True,
    callback=lambda _ctx, _param, value: _hours(value),
    help="Files without a row changed more recently than this are reported apart and never"
    " moved: they may be uploads being filed.",
)
@click.option(
    "--stale-hours",
    type=float,
    default=store_check.DEFAULT_STALE_S / 3600,
    show_default=True,
    callback=lambda _ctx, _param, value: _hours(value),
    help="Age after which a part still held by a running upload counts as hung (on S3, which"
    " cannot tell a running upload, the age after which any multipart upload is stale).",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=store_check.DEFAULT_BATCH,
    show_default=True,
    help="Files whose night log, observation and calibration are recomputed per transaction,"
    " at most (a transaction also stops after holding the lock 0.3 s): uploads wait for one"
    " batch at most.",
)
def check_command(
    verify_checksums: bool,
    repair: bool,
    as_json: bool,
    grace_hours: float,
    stale_hours: float,
    batch: int,
) -> None:
    options = Options(verify_checksums, repair, grace_hours * 3600, stale_hours * 3600, batch)
    backend = backend_from_config(current_app.config)
    bar = _Bar() if verify_checksums and not as_json else None
    not_done = "The check could not finish: run it again once the bucket answers."
    with database() as conn, bucket_reachable(current_app.config, not_done):
        try:
            report = store_check.check(conn, backend, current_app.config["DATA_DIR"], options, bar)
        finally:
            if bar is not None:
                bar.close()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        _print(report, options)
    if report.problems:
        raise SystemExit(1)


class _Bar:
    """tqdm over the bytes hashed, on stderr, shown only when stderr is a terminal."""

    def __init__(self) -> None:
        self._bar: Any = None

    def start(self, total_bytes: int) -> None:
        self._bar = tqdm(
            total=total_bytes,
            unit="B",
            unit_scale=True,
            desc="sha256",
            file=sys.stderr,
            disable=None,  # no bar when stderr is not a terminal
        )

    def advance(self, nbytes: int) -> None:
        if self._bar is not None:
            self._bar.update(nbytes)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _print(report: Report, options: Options) -> None:
    click.echo(
        f"{report.rows} rows, {report.stored} stored files ({report.storage} storage)"
        + (", checksums verified" if options.verify_checksums else "")
    )
    for kind, title in KINDS.items():
        if kind.endswith("checksum_mismatch") and not options.verify_checksums:
            continue
        click.echo(f"{title}: {report.count(kind)}")
        for item in report.findings[kind]:
            click.echo(f"  {kind}: {_describe(item)}")
    if report.recent:
        click.echo(
            f"stored files no row refers to, changed within {options.grace_s / 3600:g} h"
            f" (maybe being filed; not a problem yet): {len(report.recent)}"
        )
        for item in report.recent:
            click.echo(f"  recent: {_describe(item)}")
    if options.repair:
        done = ", ".join(f"{kind} {n}" for kind, n in report.repaired.items())
        click.echo(f"repaired: {done}")
    click.echo(f"{report.problems} problems found" if report.problems else "clean")


def _describe(item: dict[str, Any]) -> str:
    return " ".join(f"{key}={item[key]}" for key in SHOWN if item.get(key) is not None)
