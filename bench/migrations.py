"""Migration 4 at an archive's real size: how long an upgrade re-derives the header fields.

Migration 4 (repo/sqlite.py) fills the columns it adds (exposure, filter, frame type,
binning...) for every stored FITS/XISF row from the row's stored cards, by the rules an
upload uses: json-decode the cards, `summarize_stored`, one UPDATE per row (executemany in
batches), all in the upgrade's one transaction.

A temporary database is made as a version-1 server left it (tests/data/schema-v1.sql: the
cards in `datafiles.header`) holding `--rows` data files (default 100,000), inserted by
executemany in one transaction. Two header mixes, one database each:

- `light`: the ~50-card light frame of bench/listing.py (about 3.5 kB of JSON), an amateur
  archive's typical row;
- `corpus`: the real headers of tests/data/headers/ in turn (read back from the FITS files
  the corpus builds), from 30-card amateur frames to 400-card HST headers (about 11 kB).

Then the upgrade runs as a server start runs it (init_schema with every migration from 2),
migrations 4 and 6 (6 moves the cards to datafile_headers) timed inside it.

Baselines, on the same rows in the same run, before the upgrade: a bare pass that reads
every stored header the way migration 4 reads them (`_stored_headers`, by id a page at a
time) and json-decodes it; and the same pass plus `summarize_stored` (the rules, no write).
Targets: migration 4 at most 6x the bare json pass (measured at 8-11x for the light mix: the
rules' per-card objects and the card cap, both useless to a migration, are a third of it), and
at most 1.25x the rules pass (writing the derived columns costs little next to deriving
them). Also printed: seconds per 100,000 files, for docs/operations.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from arcsec_flask.headers import HeaderInfo, read_header, summarize_stored
from arcsec_flask.repo.datafiles import _card
from arcsec_flask.repo.header_columns import header_columns
from arcsec_flask.repo.sqlite import (
    MIGRATIONS,
    _stored_headers,
    connect,
    init_schema,
    transaction,
)
from bench.listing import light_header
from tests.headers import corpus

SCHEMA_V1 = Path(__file__).resolve().parents[1] / "tests" / "data" / "schema-v1.sql"
BATCH = 20_000
TARGET = 6.0  # migration 4 / bare json pass, at most
TARGET_VS_RULES = 1.25  # migration 4 / json + summarize_stored pass, at most


def corpus_headers(folder: Path) -> list[tuple[str, HeaderInfo]]:
    """(file name, header) of every corpus header, as an upload of its FITS file reads it."""
    found = []
    for name in corpus.names():
        path = corpus.write_fits(name, folder / f"{name}.fits")
        found.append((path.name, read_header(path, path.name)))
    return found


def seed(database: Path, headers: list[tuple[str, HeaderInfo]], rows: int) -> float:
    """A version-1 database of `rows` data files cycling through `headers`; seconds taken."""
    start = time.perf_counter()
    conn = connect(database)
    try:
        conn.executescript(SCHEMA_V1.read_text())
        conn.execute("PRAGMA user_version = 1")
        conn.executescript(
            "INSERT INTO owners (id, kind) VALUES (1, 'account');"
            "INSERT INTO accounts (owner_id, username, creation_date) VALUES (1, 'old', 'x');"
            "INSERT INTO datasets (id, uuid, owner_id, name, creation_date)"
            " VALUES (1, 'u', 1, 'd', 'x');"
        )
        stored = []
        for name, info in headers:
            old = header_columns(info)
            stored.append(
                (
                    name,
                    info.format,
                    info.compression,
                    json.dumps([_card(c) for c in info.cards]),
                    old["date_obs"],
                    old["frame_kind"],
                    old["target_name"],
                )
            )

        def values(begin: int, end: int) -> Iterator[tuple]:
            for i in range(begin, end):
                name, fmt, compression, header, date_obs, kind, target = stored[i % len(stored)]
                yield (
                    f"{i:07d}_{name}",
                    f"u/{i}",
                    fmt,
                    compression,
                    header,
                    date_obs,
                    kind,
                    target,
                )

        insert = (
            "INSERT INTO datafiles (dataset_id, name, storage_path, size, checksum, format,"
            " compression, header, date_obs, frame_kind, target_name, creation_date)"
            " VALUES (1, ?, ?, 1, 'c', ?, ?, ?, ?, ?, ?, 'x')"
        )
        with transaction(conn):
            for begin in range(0, rows, BATCH):
                conn.executemany(insert, values(begin, min(rows, begin + BATCH)))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return time.perf_counter() - start


def bare_pass(conn: sqlite3.Connection, rules: bool) -> tuple[float, int]:
    """Seconds to read and json-decode every stored header as migration 4 does (and, with
    `rules`, to summarize it too); the bytes of JSON read."""
    formats = {
        r[0]: (r[1], r[2], r[3])
        for r in conn.execute("SELECT id, name, format, compression FROM datafiles")
    }
    start = time.perf_counter()
    size = 0
    for file_id, header_json in _stored_headers(conn):
        size += len(header_json)
        cards = json.loads(header_json)
        if rules:
            name, fmt, compression = formats[file_id]
            summarize_stored(fmt, compression, cards, name)
    return time.perf_counter() - start, size


def upgrade(database: Path) -> dict[str, float]:
    """Seconds of the upgrade as init_schema runs it at a server start, and of the
    migrations inside it (each wrapped in a timer, run in init_schema's own order and
    transactions)."""
    steps: dict[str, float] = {}

    def timed(number: int) -> Callable[[sqlite3.Connection], None]:
        def step(conn: sqlite3.Connection) -> None:
            start = time.perf_counter()
            MIGRATIONS[number - 1](conn)
            steps[f"migration {number}"] = time.perf_counter() - start

        return step

    conn = connect(database)
    try:
        start = time.perf_counter()
        init_schema(conn, [timed(n) for n in range(1, len(MIGRATIONS) + 1)])
        steps["upgrade"] = time.perf_counter() - start
        filled = conn.execute(
            "SELECT COUNT(*) FROM datafiles WHERE frame_type IS NOT NULL"
        ).fetchone()[0]
        steps["rows with a frame type"] = filled
        return steps
    finally:
        conn.close()


def measure(folder: Path, mix: str, headers: list[tuple[str, HeaderInfo]], rows: int) -> dict:
    database = folder / f"{mix}.sqlite3"
    seeded = seed(database, headers, rows)
    conn = connect(database)
    try:
        bare, size = bare_pass(conn, rules=False)
        ruled, _ = bare_pass(conn, rules=True)
    finally:
        conn.close()
    steps = upgrade(database)
    assert steps["rows with a frame type"] == rows, steps
    return {"seeded": seeded, "bare": bare, "rules": ruled, "json_mb": size / 1e6, **steps}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--rows", type=int, default=10_000, help="data files (10000; the full size: 100000)"
    )
    parser.add_argument("--mix", choices=("light", "corpus", "both"), default="both")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-migrations-"))
    results = {}
    try:
        mixes = {
            "light": lambda: [("light.fits", light_header(folder))],
            "corpus": lambda: corpus_headers(folder),
        }
        for mix, headers in mixes.items():
            if args.mix in (mix, "both"):
                results[mix] = measure(folder, mix, headers(), args.rows)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    rows = args.rows
    print(f"{rows:,} data files per database (version 1), upgraded to {len(MIGRATIONS)}")
    print(
        f"{'mix':<8}{'JSON MB':>8}{'seed s':>8}{'json s':>8}{'+rules s':>9}"
        f"{'mig4 s':>8}{'mig6 s':>8}{'upgrade s':>10}{'mig4 s/100k':>12}"
    )
    for mix, r in results.items():
        print(
            f"{mix:<8}{r['json_mb']:8.0f}{r['seeded']:8.1f}{r['bare']:8.1f}{r['rules']:9.1f}"
            f"{r['migration 4']:8.1f}{r['migration 6']:8.1f}{r['upgrade']:10.1f}"
            f"{r['migration 4'] * 100_000 / rows:12.1f}"
        )
    missed = 0

    def ratio(name: str, value: float, target: float) -> None:
        nonlocal missed
        ok = value <= target
        missed += not ok
        print(f"RATIO {name} {value:.2f} (target <= {target:.2f}) {'OK' if ok else 'MISSED'}")

    for mix, r in results.items():
        ratio(f"migration4_vs_json_pass_{mix}_{rows}", r["migration 4"] / r["bare"], TARGET)
        ratio(
            f"migration4_vs_rules_pass_{mix}_{rows}", r["migration 4"] / r["rules"], TARGET_VS_RULES
        )
        per_100k = r["migration 4"] * 100_000 / rows
        print(f"RATIO migration4_seconds_per_100k_{mix} {per_100k:.1f} (no target) INFO")
        per_100k = r["upgrade"] * 100_000 / rows
        print(f"RATIO upgrade_from_v1_seconds_per_100k_{mix} {per_100k:.1f} (no target) INFO")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
