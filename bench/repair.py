"""`check --repair`'s derived recompute at an archive's size: how long it takes and how
long a writer beside it waits for the lock.

`--rows` (default 100,000) files of one telescope with a site, over 1,000 nights (night
logs and observations), seeded by repo.datafiles.create_many (bench/listing.py's
~50-card header); then every night log is deleted (their observations go with them), so
that every file's links are wrong and the repair recomputes them all. Measured:
`repo.integrity.derived_drift(repair=True)` in batches (each held 0.3 s at most, of at
most `--batch` files: the command's defaults), then `count_drift(repair=True)` (the
stored counts, one transaction), while a writer thread on its own connection runs
`BEGIN IMMEDIATE; INSERT; COMMIT` every 20 ms and records how long each BEGIN waited: its
longest wait is the longest the lock was held against an upload.

Baseline, in the same run on the same store: the recompute as it was, every file in one
transaction (a batch of every row), the same writer beside it.

Targets, at 100,000 files (the default: the batches are held 0.3 s each whatever the
size, so against a store whose whole recompute takes a second the ratios say little): the
longest wait beside the batched repair <= 0.1 of the baseline's; its total time <= 1.5x
the baseline's. The 2-core machine is shared: run it twice, quote both.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from arcsec_flask.repo import datafiles, integrity
from arcsec_flask.repo.sqlite import connect, transaction
from bench.listing import light_header
from bench.writes import setup

TARGET_WAIT = 0.1
TARGET_TIME = 1.5
NIGHTS = 1000
TARGETS = ("M31", "M42", "NGC 7000", "M51")


def seed(database: str, dataset: dict, rows: int, folder: Path) -> None:
    header = light_header(folder)
    first = datetime(2020, 1, 1, 21, 0, tzinfo=UTC)
    per_night = max(1, rows // NIGHTS)

    def files():
        for i in range(rows):
            night, frame = divmod(i, per_night)
            info = replace(
                header,
                date_obs=first + timedelta(days=night, minutes=frame % 600),
                target_name=TARGETS[frame % len(TARGETS)],
            )
            path = f"{dataset['uuid']}/{i:032x}"
            yield datafiles.StoredFile(f"f{i:07d}.fits", path, 1000, f"{i:064x}"), info, {}

    conn = connect(database)
    try:
        with transaction(conn):
            datafiles.create_many(conn, dataset["owner_id"], dataset, files())
        conn.execute("CREATE TABLE bench_writes (at REAL)")
    finally:
        conn.close()


class Writer(threading.Thread):
    """An upload's stand-in: a write transaction every 20 ms; how long each waited."""

    def __init__(self, database: str) -> None:
        super().__init__()
        self.database = database
        self.stop = threading.Event()
        self.waits: list[float] = []

    def run(self) -> None:
        conn = sqlite3.connect(self.database, timeout=3600, isolation_level=None)
        try:
            while not self.stop.is_set():
                start = time.perf_counter()
                conn.execute("BEGIN IMMEDIATE")
                self.waits.append(time.perf_counter() - start)
                conn.execute("INSERT INTO bench_writes VALUES (?)", (time.time(),))
                conn.execute("COMMIT")
                self.stop.wait(0.02)
        finally:
            conn.close()


def repair(database: str, batch: int, hold_s: float = integrity.HOLD_S) -> dict[str, float]:
    conn = connect(database)
    try:
        conn.execute("DELETE FROM night_logs")  # every file's links wrong
        writer = Writer(database)
        writer.start()
        time.sleep(0.1)
        start = time.perf_counter()
        drift = integrity.derived_drift(conn, repair=True, batch=batch, hold_s=hold_s)
        derived = time.perf_counter() - start
        counts = integrity.count_drift(conn, repair=True)
        total = time.perf_counter() - start
        time.sleep(0.1)
        writer.stop.set()
        writer.join()
        assert len(drift["files"]) == conn.execute("SELECT COUNT(*) FROM datafiles").fetchone()[0]
        assert not counts, counts
        assert integrity.derived_drift(conn) == {"files": [], "empty": {}}
    finally:
        conn.close()
    return {
        "derived": derived,
        "total": total,
        "wait": max(writer.waits),
        "writes": len(writer.waits),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--rows", type=int, default=100_000, help="files (100000, an archive's size)"
    )
    parser.add_argument(
        "--batch", type=int, default=integrity.BATCH, help="files a batch at most (10000)"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-repair-"))
    try:
        database, dataset, _owner = setup(folder)
        start = time.perf_counter()
        seed(database, dataset, args.rows, folder)
        seeded = time.perf_counter() - start
        batched = repair(database, args.batch)
        whole = repair(database, args.rows + 1, hold_s=float("inf"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{args.rows} files, {NIGHTS} nights (seeded in {seeded:.0f} s)")
    for name, got in ((f"batches of {args.batch}", batched), ("one transaction", whole)):
        print(
            f"  {name:>16}: derived {got['derived']:6.1f} s, with counts {got['total']:6.1f} s;"
            f" writer: {got['writes']} writes, longest wait {got['wait']:.3f} s"
        )
    wait = batched["wait"] / whole["wait"]
    took = batched["total"] / whole["total"]
    ok_wait = "OK" if wait <= TARGET_WAIT else "MISS"
    ok_time = "OK" if took <= TARGET_TIME else "MISS"
    print(f"RATIO repair_longest_wait_vs_one_tx {wait:.3f} (target <= {TARGET_WAIT}) {ok_wait}")
    print(f"RATIO repair_time_vs_one_tx {took:.2f} (target <= {TARGET_TIME}) {ok_time}")
    print(f"RATIO repair_longest_wait_s {batched['wait']:.3f} (no target) INFO")
    return 0 if ok_wait == ok_time == "OK" else 1


if __name__ == "__main__":
    raise SystemExit(main())
