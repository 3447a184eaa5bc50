"""Ingest throughput: a night of small frames uploaded by 1 and by 8 concurrent clients.

`--files` (default 2,000) small FITS light frames (a 128x128 16-bit image under a
light frame's header, about 37 KB each, written by astropy, spread over four nights) are
uploaded to a real gunicorn (2 gthread workers, 4 threads each, as the tests run it) into
a dataset of a telescope at a site, so that every upload also reads its header and derives
its night log and observation. The clients are separate processes, each with its own
httpx connection, sending the parts the arcsecond client sends (`dataset`, `is_raw`,
`file`); first one client sends them all, then 8 clients share them out.

Baseline, in the same run: the same gunicorn (same workers and threads) serving a bare
Flask app whose one endpoint streams the request body to a new file in 1 MiB reads, fsyncs
it and answers 201: what one fsynced file per request costs over HTTP here, with nothing
of ours. Target with 8 clients: our files/s / bare files/s >= 0.7 (1 client printed too).

The CPU time the server's workers spent per file (user + system, all their threads, read
from the kernel before and after each run) is printed too: it depends less on the load of
a shared machine than files/s does.

Also printed (for docs/scaling.md): how many data file rows one SQLite writer commits per
second with our transactions (`repo.datafiles.create`, one BEGIN IMMEDIATE ... COMMIT per
row, WAL, synchronous=NORMAL, night log and observation derived), the ceiling of ingest
whatever the HTTP side does.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import psutil

from arcsec_flask.headers import read_header
from arcsec_flask.repo import accounts, datafiles, datasets, sites, telescopes
from arcsec_flask.repo.sqlite import connect, init_schema
from tests.support.factories import light_frame_cards, write_fits
from tests.support.servers import start_gunicorn

KEY_HEADER = "X-Arcsecond-API-Authorization"
CLIENTS = 8
TARGET_RATIO_8 = 0.7
SQLITE_ROWS = 2000
FIRST_NIGHT = datetime(2024, 3, 1, 20, 0, tzinfo=UTC)


def make_bare_app():
    """The baseline: stream the body to a file, fsync it, 201. BENCH_BARE_DIR is where."""
    from flask import Flask, request

    folder = Path(os.environ["BENCH_BARE_DIR"])
    app = Flask("bare")

    @app.post("/datafiles/")
    def receive():
        fd, _ = tempfile.mkstemp(dir=folder)
        try:
            while piece := request.stream.read(1024 * 1024):
                os.write(fd, piece)
            os.fsync(fd)
        finally:
            os.close(fd)
        return {"id": 1}, 201

    @app.get("/healthcheck/")
    def healthcheck():
        return {"status": "ok"}

    return app


def make_frames(folder: Path, count: int) -> list[Path]:
    rng = np.random.default_rng(5)
    pixels = (1000 + rng.normal(0, 30, (128, 128))).astype(np.int16)
    cards = [c for c in light_frame_cards() if c[0] != "DATE-OBS"]
    frames = []
    for i in range(count):
        night, frame = divmod(i, max(count // 4, 1))
        taken = FIRST_NIGHT + timedelta(days=night, seconds=10 * frame)
        date_obs = ("DATE-OBS", taken.strftime("%Y-%m-%dT%H:%M:%S"), "UTC start")
        path = folder / f"light_{i:05d}.fits"
        frames.append(write_fits(path, [*cards, date_obs], data=pixels))
    return frames


def send(job: tuple[str, str, str, list[str]]) -> list[int]:
    """One client: upload its files in turn on one connection; the statuses."""
    url, key, dataset, paths = job
    statuses = []
    with httpx.Client(timeout=120) as client:
        for path in paths:
            with open(path, "rb") as f:
                response = client.post(
                    url + "datafiles/",
                    data={"dataset": dataset, "is_raw": "True"},
                    files={"file": (Path(path).name, f, "image/fits")},
                    headers={KEY_HEADER: f"Key {key}"},
                )
            statuses.append(response.status_code)
    return statuses


def workers_cpu(master_pid: int) -> float:
    """CPU seconds (user + system) the gunicorn master's workers have spent so far."""
    spent = 0.0
    for worker in psutil.Process(master_pid).children():
        times = worker.cpu_times()
        spent += times.user + times.system
    return spent


def files_per_second(
    pool, url: str, key: str, dataset: str, frames: list[Path], clients: int, master: int = 0
) -> tuple[float, float]:
    """(files/s, CPU ms per file of the server's workers: 0 without `master`)."""
    paths = [str(p) for p in frames]
    jobs = [(url, key, dataset, paths[i::clients]) for i in range(clients)]
    cpu = workers_cpu(master) if master else 0.0
    start = time.perf_counter()
    statuses = [s for result in pool.map(send, jobs) for s in result]
    elapsed = time.perf_counter() - start
    cpu = (workers_cpu(master) - cpu) if master else 0.0
    if statuses != [201] * len(frames):
        bad = sorted({s for s in statuses if s != 201})
        raise RuntimeError(f"uploads answered {bad} ({statuses.count(201)} of {len(frames)})")
    return len(frames) / elapsed, cpu * 1000 / len(frames)


def our_dataset(client: httpx.Client, url: str, api: dict, name: str) -> str:
    site = client.post(
        url + "observingsites/", json={"name": name, "time_zone": "Europe/Paris"}, headers=api
    ).json()
    scope = client.post(
        url + "telescopes/", json={"name": name, "observing_site": site["uuid"]}, headers=api
    ).json()
    return client.post(
        url + "datasets/", json={"name": name, "telescope": scope["uuid"]}, headers=api
    ).json()["uuid"]


def sqlite_rows_per_second(folder: Path, frame: Path) -> float:
    """One writer, one transaction per row, as an upload commits it."""
    conn = connect(folder / "writer.sqlite3")
    try:
        init_schema(conn)
        account = accounts.create(conn, "writer", "writer@example.org", None)
        owner = account["owner_id"]
        site = sites.create(conn, owner, {"name": "OHP", "time_zone": "Europe/Paris"})
        scope = telescopes.create(conn, owner, {"name": "RC8", "observing_site": site["uuid"]})
        made = datasets.create(conn, owner, {"name": "d", "telescope": scope["uuid"]})
        dataset = datasets.writable(conn, owner, made["uuid"])
        header = read_header(frame, frame.name)
        start = time.perf_counter()
        for i in range(SQLITE_ROWS):
            stored = datafiles.StoredFile(
                f"light_{i:05d}.fits", f"{made['uuid']}/{i:032x}", 37_440, f"{i:064x}"
            )
            info = replace(header, date_obs=FIRST_NIGHT + timedelta(seconds=10 * i))
            datafiles.create(conn, owner, dataset, stored, info, {"is_raw": True, "tags": []})
        return SQLITE_ROWS / (time.perf_counter() - start)
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2000, help="frames per run (2000)")
    count = parser.parse_args().files
    folder = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    ours = bare = None
    results: dict[tuple[str, int], tuple[float, float]] = {}
    try:
        frames = make_frames(folder, count)
        size = frames[0].stat().st_size
        bare_dir = folder / "bare-files"
        bare_dir.mkdir()
        bare = start_gunicorn(
            folder / "bare",
            extra_env={"BENCH_BARE_DIR": str(bare_dir)},
            app="bench.ingest:make_bare_app()",
        )
        ours = start_gunicorn(folder / "ours", workers=2)
        keys = ours.new_user("bench")
        api = {KEY_HEADER: f"Key {keys['api_key']}"}
        client = httpx.Client(timeout=60)
        context = multiprocessing.get_context("fork")
        with context.Pool(CLIENTS) as pool:
            # Warm both servers' workers up (imports, first header read).
            warm = our_dataset(client, ours.url, api, "warm")
            files_per_second(pool, ours.url, keys["upload_key"], warm, frames[:16], CLIENTS)
            files_per_second(pool, bare.url, "-", "-", frames[:16], CLIENTS)
            for clients in (1, CLIENTS):  # bare and ours in turn: the same machine for both
                results["bare", clients] = files_per_second(
                    pool, bare.url, "-", "-", frames, clients, bare.process.pid
                )
                dataset = our_dataset(client, ours.url, api, f"run{clients}")
                results["ours", clients] = files_per_second(
                    pool, ours.url, keys["upload_key"], dataset, frames, clients, ours.process.pid
                )
        client.close()
        rows_per_s = sqlite_rows_per_second(folder, frames[0])
    finally:
        for server in (ours, bare):
            if server is not None:
                server.stop()
        shutil.rmtree(folder, ignore_errors=True)

    print(f"{count} FITS frames of {size / 1000:.0f} KB, 2 gthread workers x 4 threads")
    print(
        f"{'clients':>7} {'ours files/s':>13} {'bare files/s':>13} {'ratio':>6}"
        f" {'ours CPU ms/file':>17} {'bare CPU ms/file':>17}"
    )
    for clients in (1, CLIENTS):
        (mine, mine_cpu), (base, base_cpu) = results["ours", clients], results["bare", clients]
        print(
            f"{clients:>7} {mine:13.0f} {base:13.0f} {mine / base:6.2f}"
            f" {mine_cpu:17.2f} {base_cpu:17.2f}"
        )
    print(f"one SQLite writer, a transaction per data file row: {rows_per_s:.0f} rows/s")
    missed = 0
    for clients in (1, CLIENTS):
        ratio = results["ours", clients][0] / results["bare", clients][0]
        target = TARGET_RATIO_8 if clients == CLIENTS else None
        ok = target is None or ratio >= target
        missed += not ok
        sense = f"target >= {target}" if target else "no target"
        verdict = ("OK" if ok else "MISSED") if target else "INFO"
        print(f"RATIO ingest_vs_bare_{clients}_clients {ratio:.2f} ({sense}) {verdict}")
    for clients in (1, CLIENTS):
        cpu = results["ours", clients][1]
        print(f"RATIO ingest_{clients}_clients_worker_cpu_ms_per_file {cpu:.2f} (no target) INFO")
    print(f"RATIO sqlite_single_writer_rows_per_s {rows_per_s:.0f} (no target) INFO")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
