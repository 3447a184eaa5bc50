"""Writes one SQLite writer sustains with our transactions: `repo.datafiles.create`, as an
upload files its row (one transaction: the row, its header cards, its night grouping and
the kept counts' triggers), from 1, 4 and 8 threads each with its own connection (as the
threads of gunicorn's workers have), on one database file.

The database is seeded first with `--seed` files (default 20,000) of the same dataset
(create_many, as bench/listing.py), so that the inserts go into indexes of a real size;
each row carries the ~50-card header of a light frame (3.4 kB of JSON, bench/listing.py).
Baseline, in the same run, same pragmas (WAL, synchronous=NORMAL): a bare loop of
`BEGIN IMMEDIATE; INSERT` of a 3.4 kB row into a table with one index; `COMMIT`, one row
per transaction, one thread.

Printed: rows/s and p50/p99 per insert for each thread count, and for 1 thread with the
WAL's automatic checkpoints off (what they add to the tail). Targets: ours from 1 thread
>= 0.01 of the bare loop's rows/s (the derived rows, the triggers and the checkpoints of
the pages they add cost at most a hundred bare inserts); 8 threads >= 0.5 of 1 thread's
rows/s (writers queue on the lock, they must not thrash it).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from arcsec_flask import create_app
from arcsec_flask.repo import accounts, datafiles, datasets, sites, telescopes
from arcsec_flask.repo.sqlite import connect
from bench.listing import light_header, seed

THREADS = (1, 4, 8)
TARGET_VS_BARE = 0.01
TARGET_8_VS_1 = 0.5


def setup(folder: Path) -> tuple[str, dict, int]:
    """A data folder with one account's dataset on a telescope; (database, dataset, owner)."""
    app = create_app({"DATA_DIR": str(folder / "data"), "TESTING": True})
    database = app.config["DATABASE"]
    conn = connect(database)
    try:
        owner = accounts.create(conn, "bench", "bench@example.org", None)["id"]
        site = sites.create(conn, owner, {"name": "OHP", "time_zone": "UTC"})
        scope = telescopes.create(conn, owner, {"name": "RC8", "observing_site": site["uuid"]})
        made = datasets.create(conn, owner, {"name": "Survey", "telescope": scope["uuid"]})
        found = conn.execute(
            "SELECT id, uuid, owner_id FROM datasets WHERE uuid = ?", (made["uuid"],)
        ).fetchone()
    finally:
        conn.close()
    return database, dict(found), owner


def ours(
    database: str,
    dataset: dict,
    owner: int,
    header,
    threads: int,
    each: int,
    tag: str,
    autocheckpoint: bool = True,
):
    """`threads` threads each filing `each` rows by datafiles.create: (rows/s, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(threads + 1)
    first_night = datetime(2026, 1, 1, 20, 0, tzinfo=UTC)

    def work(slot: int) -> None:
        conn = connect(database)
        if not autocheckpoint:  # to tell the checkpoints' share of the tail latency
            conn.execute("PRAGMA wal_autocheckpoint = 0")
        mine = []
        try:
            start_gate.wait()
            for i in range(each):
                stored = datafiles.StoredFile(
                    f"{tag}_{slot}_{i:06d}.fits",
                    f"{dataset['uuid']}/{tag}{slot:02d}{i:026x}",
                    62_611_200,
                    f"{slot:08x}{i:056x}",
                )
                taken = first_night + timedelta(days=i // 100, minutes=3 * (i % 100))
                info = replace(header, date_obs=taken)
                began = time.perf_counter()
                datafiles.create(conn, owner, dataset, stored, info, {"is_raw": True})
                mine.append(time.perf_counter() - began)
        finally:
            conn.close()
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    start_gate.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - began
    return threads * each / seconds, latencies


def bare(folder: Path, rows: int) -> tuple[float, list[float]]:
    """One thread, one row per transaction, a 3.4 kB row, one index."""
    conn = sqlite3.connect(folder / "bare.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, payload TEXT)")
    conn.execute("CREATE UNIQUE INDEX t_name ON t (name)")
    payload = "x" * 3400
    latencies = []
    began = time.perf_counter()
    for i in range(rows):
        one = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (name, payload) VALUES (?, ?)", (f"f{i:07d}", payload))
        conn.execute("COMMIT")
        latencies.append(time.perf_counter() - one)
    seconds = time.perf_counter() - began
    conn.close()
    return rows / seconds, latencies


def p(latencies: list[float], q: float) -> float:
    return statistics.quantiles(latencies, n=100)[int(q) - 1] * 1000 if len(latencies) > 1 else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=20_000, help="rows before (20000)")
    parser.add_argument("--rows", type=int, default=800, help="rows per measurement (800)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-writes-"))
    try:
        database, dataset, owner = setup(folder)
        header = light_header(folder)
        seeded = seed(database, dataset["uuid"], header, args.seed) if args.seed else 0.0
        print(f"seeded {args.seed} rows in {seeded:.1f} s")
        bare_rate, bare_lat = bare(folder, args.rows * 4)
        print(
            f"bare INSERT, 1 thread: {bare_rate:8.0f} rows/s  p50 {p(bare_lat, 50):6.2f} ms"
            f"  p99 {p(bare_lat, 99):6.2f} ms"
        )
        rates = {}
        for threads in THREADS:
            rate, lat = ours(
                database, dataset, owner, header, threads, args.rows // threads, f"t{threads}"
            )
            rates[threads] = rate
            print(
                f"datafiles.create, {threads} thread(s): {rate:8.0f} rows/s"
                f"  p50 {p(lat, 50):6.2f} ms  p99 {p(lat, 99):6.2f} ms"
            )
        rate, lat = ours(
            database, dataset, owner, header, 1, args.rows, "nockpt", autocheckpoint=False
        )
        print(
            f"datafiles.create, 1 thread, no auto-checkpoint: {rate:8.0f} rows/s"
            f"  p50 {p(lat, 50):6.2f} ms  p99 {p(lat, 99):6.2f} ms"
        )
        size = sum(f.stat().st_size for f in Path(database).parent.glob("arcsec.sqlite3*"))
        print(f"database: {size / 1e6:.0f} MB for {args.seed + 3 * args.rows} rows")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    vs_bare = rates[1] / bare_rate
    scaling = rates[8] / rates[1]
    ok_bare, ok_scaling = vs_bare >= TARGET_VS_BARE, scaling >= TARGET_8_VS_1
    print(
        f"RATIO writes_create_vs_bare_insert {vs_bare:.3f}"
        f" (target >= {TARGET_VS_BARE}) {'OK' if ok_bare else 'MISSED'}"
    )
    print(
        f"RATIO writes_8_threads_vs_1 {scaling:.2f}"
        f" (target >= {TARGET_8_VS_1}) {'OK' if ok_scaling else 'MISSED'}"
    )
    return 0 if ok_bare and ok_scaling else 1


if __name__ == "__main__":
    raise SystemExit(main())
