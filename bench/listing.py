"""List endpoint at an archive's real size: `GET /datafiles/?dataset=...` through gunicorn.

A temporary data folder holds `--rows` data files (default 100,000; `--rows 1000000` for a
million) in one dataset of a telescope at a site, as a long campaign of light frames gives
them: 100 frames a night, 5 targets, each row with the JSON of a real ~50-card header
(read by `read_header` from a FITS file written here, about 3.4 kB) and its derived night
log and observation. The rows are written through the repo layer
(`repo.datafiles.create_many`: executemany, then the grouping an upload does) in one
transaction: at one upload per transaction 100,000 rows would take minutes.

Two real gunicorns (2 gthread workers, 4 threads, as the tests run it) serve the same
database file: ours, and a bare Flask app whose one endpoint answers the same page of the
same dataset with two queries (the dataset's id and owner by its uuid; then the listed columns
and the parents' uuids `WHERE f.dataset_id = ? AND f.owner_id = ? ORDER BY f.id LIMIT 100
OFFSET ?`, on the index ours uses) and `jsonify`: no key check, no count, no schema.

Measured, for each server: the first page (100 files) and a deep page (the middle of the
dataset, `?page=N`; for ours also the page its `next` links reach there, by cursor), each
with 2 and with 16 connections (threads of http.client keep-alive connections, spread
evenly over the server's two workers, each sending its requests in turn for a fixed time;
bare and ours in turn, twice, each keeping its better round), requests per second and
p99 latency; the workers' peak RSS. Targets: ours >= 0.5 of bare's requests/s on the first
and the deep page; our deep page's requests/s within 1.5x of our first page's (ratio >=
1/1.5); our p99 at 2 connections, on the first, deep and cursor pages, at most 2x the bare
first page's.

`--keep DIR` seeds DIR once (DIR/seeded.json, written last, says what is there) and
reuses it on later runs: a million rows take about 20 minutes to seed. Keep it outside
the repo (e.g. /work/tmp-listing/1m).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import psutil

from arcsec_flask.headers import HeaderInfo, read_header
from arcsec_flask.repo import datafiles
from arcsec_flask.repo.sqlite import connect, transaction
from tests.support.factories import light_frame_cards, write_fits
from tests.support.servers import Server, start_gunicorn

KEY_HEADER = "X-Arcsecond-API-Authorization"
PAGE = 100
PER_NIGHT = 100
TARGETS = ("M31", "M42", "NGC 7000", "IC 1396", "M101")
BATCH = 20_000
SECONDS = 4.0
CONNECTIONS = (2, 16)
ROUNDS = 2  # measurements of each cell and server, best kept
SEEDED = "seeded.json"  # in a --keep folder: what its seed made
TARGET_VS_BARE = 0.5
TARGET_DEEP_VS_FIRST = 1 / 1.5
TARGET_P99 = 2.0  # our p99 at most twice the bare first page's, at 2 connections

BARE_COLUMNS = (
    "f.id, f.name, f.size, f.checksum, f.is_raw, f.tags, f.format, f.compression,"
    " f.date_obs, f.header_status, f.header_error, f.creation_date, f.storage_path,"
    " f.external_path, f.content_type, f.target_name, f.date_obs_source, f.exposure_time,"
    " f.filter_name, f.frame_type, f.instrument_name, f.telescope_name, f.binning,"
    " f.ccd_temperature, d.uuid AS dataset, o.uuid AS observation, c.uuid AS calibration,"
    " n.uuid AS night_log"
)


def make_bare_app():
    """The baseline: the same page of the same table, one query, jsonify."""
    from flask import Flask, g, jsonify, request

    database = os.environ["ARCSEC_DATA_DIR"] + "/arcsec.sqlite3"
    app = Flask("bare")
    local = threading.local()

    def db() -> sqlite3.Connection:
        if not hasattr(local, "conn"):
            local.conn = sqlite3.connect(database, check_same_thread=False)
            local.conn.row_factory = sqlite3.Row
        return local.conn

    @app.get("/datafiles/")
    def page():
        offset = (int(request.args.get("page", 1)) - 1) * PAGE
        conn = db()
        dataset = conn.execute(
            "SELECT id, owner_id FROM datasets WHERE uuid = ?", (request.args["dataset"],)
        ).fetchone()
        g.rows = conn.execute(
            f"SELECT {BARE_COLUMNS} FROM datafiles f JOIN datasets d ON d.id = f.dataset_id"
            " LEFT JOIN observations o ON o.id = f.observation_id"
            " LEFT JOIN calibrations c ON c.id = f.calibration_id"
            " LEFT JOIN night_logs n ON n.id = f.night_log_id"
            # On the index ours uses: without the owner, SQLite picks (dataset_id, name)
            # and sorts the whole dataset for every page (5 req/s at 100,000 rows).
            " WHERE f.dataset_id = ? AND f.owner_id = ? ORDER BY f.id LIMIT ? OFFSET ?",
            (dataset["id"], dataset["owner_id"], PAGE, offset),
        ).fetchall()
        return jsonify({"results": [dict(r) for r in g.rows]})

    @app.get("/healthcheck/")
    def healthcheck():
        return {"status": "ok"}

    return app


def light_header(folder: Path) -> HeaderInfo:
    """A ~50-card light-frame header (about 3.4 kB of JSON stored), as an upload reads it."""
    cards = light_frame_cards()
    cards += [(f"FOCUS{i:02d}", 10_000 + i, "focuser position") for i in range(20)]
    cards += [("HISTORY", f"step {i}: calibrated") for i in range(5)]
    path = write_fits(folder / "header.fits", cards)
    return read_header(path, path.name)


def seed(database: str, dataset_uuid: str, header: HeaderInfo, rows: int) -> float:
    """`rows` files into the dataset, through repo.datafiles.create_many; seconds taken."""
    conn = connect(database)
    try:
        found = conn.execute(
            "SELECT id, uuid, owner_id FROM datasets WHERE uuid = ?", (dataset_uuid,)
        ).fetchone()
        first_night = datetime(2020, 1, 1, 20, 0, tzinfo=UTC)
        start = time.perf_counter()

        def files(begin: int, end: int):
            for i in range(begin, end):
                night, frame = divmod(i, PER_NIGHT)
                taken = first_night + timedelta(days=night, minutes=3 * frame)
                stored = datafiles.StoredFile(
                    f"light_{i:07d}.fits", f"{dataset_uuid}/{i:032x}", 62_611_200, f"{i:064x}"
                )
                info = replace(header, date_obs=taken, target_name=TARGETS[frame % len(TARGETS)])
                yield stored, info, {"is_raw": True, "tags": ["lrgb", f"night{night}"]}

        with transaction(conn):  # one transaction: create_many joins it
            for begin in range(0, rows, BATCH):
                datafiles.create_many(
                    conn, found["owner_id"], dict(found), files(begin, min(rows, begin + BATCH))
                )
        seconds = time.perf_counter() - start
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the size below is the database's
        # The seed left about a gigabyte of dirty pages: written back now, not by the
        # kernel during the first measurements (where it halved the first one's rate).
        os.sync()
        return seconds
    finally:
        conn.close()


def load(
    url: str, headers: dict[str, str], connections: int, seconds: float, workers: list[int]
) -> dict:
    """`connections` threads, each with its own keep-alive connection, sending GET `url`
    in turn for `seconds`: requests/s, p50 and p99 latency (ms), and every status seen.

    The connections are spread over the server's `workers` (pids) first, as evenly as
    they divide (spread_over): a keep-alive connection stays with the worker that accepted
    it, and the kernel may hand both of 2 connections to one worker, whose one interpreter
    then serves at about half the rate of two (seen as one cell or another at half rate,
    for ours and for bare alike)."""
    parts = urlsplit(url)
    target = f"{parts.path}?{parts.query}"
    latencies: list[list[float]] = [[] for _ in range(connections)]
    statuses: set[int] = set()
    start_line = threading.Barrier(connections + 1)
    stop = threading.Event()

    def opened() -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        conn.request("GET", target, headers=headers)  # accepted by a worker, answered
        response = conn.getresponse()
        response.read()
        statuses.add(response.status)
        return conn

    pool = spread_over([opened() for _ in range(connections)], workers, opened)

    def one(slot: int) -> None:
        conn = pool[slot]
        start_line.wait()
        while not stop.is_set():
            began = time.perf_counter()
            conn.request("GET", target, headers=headers)
            response = conn.getresponse()
            response.read()
            latencies[slot].append(time.perf_counter() - began)
            statuses.add(response.status)
        conn.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    start_line.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    every = sorted(x for slot in latencies for x in slot)
    return {
        "rps": len(every) / elapsed,
        "p50": every[len(every) // 2] * 1000,
        "p99": every[min(len(every) - 1, int(len(every) * 0.99))] * 1000,
        "statuses": statuses,
    }


def spread_over(
    pool: list[http.client.HTTPConnection],
    workers: list[int],
    opened: Callable[[], http.client.HTTPConnection],
    tries: int = 200,
) -> list[http.client.HTTPConnection]:
    """The connections, reopened until no worker holds more than its share (the ceiling
    of connections / workers), or `tries` reopenings were made."""
    share = -(-len(pool) // len(workers))
    for _ in range(tries):
        held = holders_of(pool, workers)
        counts: dict[int | None, int] = {}
        for pid in held:
            counts[pid] = counts.get(pid, 0) + 1
        crowded = next(
            (i for i, pid in enumerate(held) if pid is None or counts[pid] > share), None
        )
        if crowded is None:
            return pool
        pool[crowded].close()
        pool[crowded] = opened()
    return pool


def holders_of(pool: list[http.client.HTTPConnection], workers: list[int]) -> list[int | None]:
    """For each connection, the pid of the worker holding its other end (None: not found)."""
    ports = {}
    for pid in workers:
        process = psutil.Process(pid)
        listed = getattr(process, "net_connections", None) or process.connections
        for c in listed(kind="tcp"):
            if c.raddr:
                ports[c.raddr.port] = pid
    return [ports.get(conn.sock.getsockname()[1]) if conn.sock else None for conn in pool]


def workers_of(server: Server) -> list[int]:
    return [p.pid for p in psutil.Process(server.process.pid).children()]


def worker_rss_mb(server) -> float:
    """The largest resident set of the server's workers (the children of its master)."""
    biggest = 0
    for pid in workers_of(server):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):  # peak, so far
                biggest = max(biggest, int(line.split()[1]))
    return biggest / 1024


def prepare(folder: Path, rows: int) -> tuple[Server, dict[str, str], str, float, int]:
    """Our server on `folder`/data, seeded with `rows` files (or as a kept folder left it):
    the server, the API key header, the dataset's uuid, the seconds seeding took and the
    cards in each file's header."""
    header = light_header(folder)
    seeded = folder / SEEDED
    ours = start_gunicorn(folder / "data", workers=2)
    if seeded.exists():
        kept = json.loads(seeded.read_text())
        if kept["rows"] != rows:
            ours.stop()
            raise SystemExit(f"{folder} holds {kept['rows']} rows, not {rows}: another --keep")
        api = {KEY_HEADER: f"Key {kept['api_key']}"}
        return ours, api, kept["dataset"], kept["seconds"], len(header.cards)
    keys = ours.new_user("bench")
    api = {KEY_HEADER: f"Key {keys['api_key']}"}
    with httpx.Client(timeout=120) as client:
        site = client.post(
            ours.url + "observingsites/", json={"name": "OHP", "time_zone": "UTC"}, headers=api
        ).json()
        scope = client.post(
            ours.url + "telescopes/",
            json={"name": "RC8", "observing_site": site["uuid"]},
            headers=api,
        ).json()
        dataset = client.post(
            ours.url + "datasets/", json={"name": "Survey", "telescope": scope["uuid"]}, headers=api
        ).json()["uuid"]
    seconds = seed(str(folder / "data" / "arcsec.sqlite3"), dataset, header, rows)
    # Written last: a folder without it is a seed that did not finish (seeded again).
    kept = {"rows": rows, "api_key": keys["api_key"], "dataset": dataset, "seconds": seconds}
    seeded.write_text(json.dumps(kept))
    return ours, api, dataset, seconds, len(header.cards)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="data files (100000)")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="per measurement (4)")
    parser.add_argument(
        "--keep",
        type=Path,
        help="a folder to seed once and reuse on later runs (kept; never inside the repo)",
    )
    args = parser.parse_args()
    rows = args.rows
    if args.keep:
        folder = args.keep.resolve()
        if folder.exists() and not (folder / SEEDED).exists():
            shutil.rmtree(folder)  # a seed cut short: start again
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="bench-listing-"))
    ours = bare = None
    results: dict[tuple[str, str, int], dict] = {}
    try:
        ours, api, dataset, seed_seconds, cards = prepare(folder, rows)
        client = httpx.Client(timeout=120)
        size_mb = sum(p.stat().st_size for p in (folder / "data").glob("arcsec.sqlite3*")) / 1e6
        bare = start_gunicorn(folder / "data", workers=2, app="bench.listing:make_bare_app()")

        deep = rows // PAGE // 2 + 1
        query = {"dataset": dataset, "page_size": PAGE}
        first = client.get(ours.url + "datafiles/", params=query, headers=api).json()
        assert first["count"] == rows and len(first["results"]) == PAGE, first.get("count")
        assert first["results"][0]["night_log"] and first["results"][0]["observation"]
        before = client.get(
            ours.url + "datafiles/", params={**query, "page": deep - 1}, headers=api
        ).json()
        cursor_url = before["next"]
        assert "cursor=" in cursor_url, cursor_url
        by_cursor = client.get(cursor_url, headers=api).json()
        by_offset = client.get(
            ours.url + "datafiles/", params={**query, "page": deep}, headers=api
        ).json()
        assert by_cursor["results"] == by_offset["results"]
        bare_deep = client.get(bare.url + "datafiles/", params={**query, "page": deep}).json()
        assert [f["id"] for f in bare_deep["results"]] == [f["id"] for f in by_offset["results"]]
        client.close()

        urls = {
            ("ours", "first"): (ours.url + "datafiles/?" + urlencode(query), api),
            ("ours", "deep"): (
                ours.url + "datafiles/?" + urlencode({**query, "page": deep}),
                api,
            ),
            ("ours", "cursor"): (cursor_url, api),
            ("bare", "first"): (bare.url + "datafiles/?" + urlencode(query), {}),
            ("bare", "deep"): (bare.url + "datafiles/?" + urlencode({**query, "page": deep}), {}),
        }
        workers = {"ours": workers_of(ours), "bare": workers_of(bare)}
        for (server, _page), (url, headers) in urls.items():  # warm every worker and thread
            load(url, headers, 8, 0.5, workers[server])
        for connections in CONNECTIONS:
            for page in ("first", "deep", "cursor"):
                # In turn, ROUNDS times: the same machine for both; each keeps its best
                # round (a few seconds of the host's own work halved one cell or another).
                for _ in range(ROUNDS):
                    for server in ("bare", "ours"):
                        if (server, page) not in urls:
                            continue
                        url, headers = urls[server, page]
                        found = load(url, headers, connections, args.seconds, workers[server])
                        assert found["statuses"] == {200}, found["statuses"]
                        best = results.get((server, page, connections))
                        if best is None or found["rps"] > best["rps"]:
                            results[server, page, connections] = found
        rss = {"ours": worker_rss_mb(ours), "bare": worker_rss_mb(bare)}
    finally:
        for server in (ours, bare):
            if server is not None:
                server.stop()
        for server in (ours, bare):
            if server is not None:
                server.log.unlink(missing_ok=True)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)

    print(
        f"{rows:,} data files in one dataset ({cards}-card headers), seeded in"
        f" {seed_seconds:.1f} s; database {size_mb:.0f} MB; pages of {PAGE}, deep = page {deep}"
    )
    print(f"{'page':<8}{'conns':>6}{'ours req/s':>12}{'p99 ms':>8}{'bare req/s':>12}{'p99 ms':>8}")
    for connections in CONNECTIONS:
        for page in ("first", "deep", "cursor"):
            mine = results["ours", page, connections]
            base = results.get(("bare", "deep" if page == "cursor" else page, connections))
            print(
                f"{page:<8}{connections:>6}{mine['rps']:12.1f}{mine['p99']:8.0f}"
                f"{base['rps'] if base else 0:12.1f}{base['p99'] if base else 0:8.0f}"
            )
    print(f"worker peak RSS: ours {rss['ours']:.0f} MB, bare {rss['bare']:.0f} MB")
    missed = 0

    def ratio(name: str, value: float, target: float, at_most: bool = False) -> None:
        nonlocal missed
        ok = value <= target if at_most else value >= target
        missed += not ok
        sign = "<=" if at_most else ">="
        print(f"RATIO {name} {value:.2f} (target {sign} {target:.2f}) {'OK' if ok else 'MISSED'}")

    for connections in CONNECTIONS:
        for page in ("first", "deep"):
            mine, base = results["ours", page, connections], results["bare", page, connections]
            value = mine["rps"] / base["rps"]
            ratio(f"list_{page}_vs_bare_{connections}c_{rows}", value, TARGET_VS_BARE)
        first = results["ours", "first", connections]["rps"]
        for page in ("deep", "cursor"):
            deep_rps = results["ours", page, connections]["rps"]
            value = deep_rps / first
            ratio(f"list_{page}_vs_first_{connections}c_{rows}", value, TARGET_DEEP_VS_FIRST)
    # Latency: our p99 at 2 connections against the bare first page's p99 (issue 10).
    bare_p99 = results["bare", "first", 2]["p99"]
    for page in ("first", "deep", "cursor"):
        value = results["ours", page, 2]["p99"] / bare_p99
        ratio(f"list_{page}_p99_vs_bare_first_p99_2c_{rows}", value, TARGET_P99, at_most=True)
    print(f"RATIO list_worker_peak_rss_mb_{rows} {rss['ours']:.0f} (no target) INFO")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
