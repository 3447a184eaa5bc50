"""List endpoint throughput: `GET /datafiles/?page_size=1000` pages through a real gunicorn.

A real gunicorn (2 sync workers) serves a temporary data folder holding 5,000 data files in
one dataset of a telescope at a site, as a month of light frames gives them: 50 nights of
100 frames, 5 targets, each row with the JSON of a real ~50-card header (read by
`read_header` from a FITS file written here) and its derived night log and observation. The
rows are inserted through the repo layer (`repo.datafiles.insert`, the call an upload ends
with, which also derives the night log and observation) in one transaction, in under a
second: uploading 5,000 tiny files over HTTP (about 7 ms each here) would take 35 s.

Measured: the 5 pages of 1,000 files, fetched in turn with httpx (best of a few rounds).
Baseline, in the same run: the same rows fetched with a plain
`SELECT * FROM datafiles LIMIT 1000 OFFSET ?` through sqlite3 (best of as many rounds).
Target: HTTP time / SQL time <= 40 (the API's work is the joins, the count, one dict and one
marshmallow dump per row, a URL per row, JSON and HTTP; SELECT * only copies rows).
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from arcsec_flask.headers import HeaderInfo, read_header
from arcsec_flask.repo import datafiles
from arcsec_flask.repo.sqlite import connect, transaction
from tests.support.factories import light_frame_cards, write_fits
from tests.support.servers import start_gunicorn

ROOT = Path(__file__).resolve().parents[1]

FILES = 5000
PAGE = 1000
NIGHTS = 50
TARGETS = ("M31", "M42", "NGC 7000", "IC 1396", "M101")
ROUNDS = 5
KEY_HEADER = "X-Arcsecond-API-Authorization"
TARGET_RATIO = 40.0


def light_header(folder: Path) -> HeaderInfo:
    """A ~50-card light-frame header, as an upload reads it."""
    cards = light_frame_cards()
    cards += [(f"FOCUS{i:02d}", 10_000 + i, "focuser position") for i in range(20)]
    cards += [("HISTORY", f"step {i}: calibrated") for i in range(5)]
    path = write_fits(folder / "header.fits", cards)
    return read_header(path, path.name)


def insert_rows(database: str, dataset_uuid: str, header: HeaderInfo) -> float:
    conn = connect(database)
    try:
        found = conn.execute(
            "SELECT id, owner_id FROM datasets WHERE uuid = ?", (dataset_uuid,)
        ).fetchone()
        dataset = {"id": found["id"], "uuid": dataset_uuid}
        first_night = datetime(2024, 3, 1, 20, 0, tzinfo=UTC)
        start = time.perf_counter()
        with transaction(conn):
            for i in range(FILES):
                night, frame = divmod(i, FILES // NIGHTS)
                taken = first_night + timedelta(days=night, minutes=3 * frame)
                stored = datafiles.StoredFile(
                    f"light_{i:05d}.fits", f"{dataset_uuid}/{i:032x}", 62_611_200, f"{i:064x}"
                )
                info = replace(header, date_obs=taken, target_name=TARGETS[frame % len(TARGETS)])
                fields = {"is_raw": True, "tags": ["lrgb", f"night{night}"]}
                datafiles.create(conn, found["owner_id"], dataset, stored, info, fields)
        return time.perf_counter() - start
    finally:
        conn.close()


def fetch_http(client: httpx.Client, url: str, key: str) -> tuple[float, int, int]:
    """Seconds for every page in turn, files seen, bytes of JSON."""
    seen = size = 0
    start = time.perf_counter()
    for page in range(1, FILES // PAGE + 1):
        response = client.get(
            url + "datafiles/",
            params={"page_size": PAGE, "page": page},
            headers={KEY_HEADER: f"Key {key}"},
        )
        response.raise_for_status()
        body = response.json()
        seen += len(body["results"])
        size += len(response.content)
    return time.perf_counter() - start, seen, size


def fetch_sql(database: str) -> tuple[float, int]:
    conn = sqlite3.connect(database)
    try:
        seen = 0
        start = time.perf_counter()
        for offset in range(0, FILES, PAGE):
            seen += len(
                conn.execute("SELECT * FROM datafiles LIMIT 1000 OFFSET ?", (offset,)).fetchall()
            )
        return time.perf_counter() - start, seen
    finally:
        conn.close()


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="bench-listing-"))
    server = None
    try:
        server = start_gunicorn(folder / "data", workers=2)
        keys = server.new_user("bench")
        api = {KEY_HEADER: f"Key {keys['api_key']}"}
        client = httpx.Client(timeout=60)
        url = server.url
        site = client.post(
            url + "observingsites/", json={"name": "OHP", "time_zone": "Europe/Paris"}, headers=api
        ).json()
        scope = client.post(
            url + "telescopes/", json={"name": "RC8", "observing_site": site["uuid"]}, headers=api
        ).json()
        dataset = client.post(
            url + "datasets/", json={"name": "March", "telescope": scope["uuid"]}, headers=api
        ).json()["uuid"]
        header = light_header(folder)
        database = str(folder / "data" / "arcsec.sqlite3")
        insert_seconds = insert_rows(database, dataset, header)

        first = client.get(url + "datafiles/", params={"page_size": PAGE}, headers=api).json()
        assert first["count"] == FILES and len(first["results"]) == PAGE, first["count"]
        assert first["results"][0]["night_log"] and first["results"][0]["observation"]
        http_runs, sql_runs = [], []
        for _ in range(ROUNDS):  # alternate, so that both see the same machine
            seconds, seen, size = fetch_http(client, url, keys["upload_key"])
            assert seen == FILES, seen
            http_runs.append(seconds)
            seconds, seen = fetch_sql(database)
            assert seen == FILES, seen
            sql_runs.append(seconds)
        client.close()
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)

    http, sql = min(http_runs), min(sql_runs)
    pages = FILES // PAGE
    print(f"{FILES} rows ({len(header.cards)}-card headers) inserted in {insert_seconds:.1f} s")
    print(f"{'fetch':<36} {'ms/page':>8} {'rows/s':>9}")
    print(f"{'GET /datafiles/?page_size=1000':<36} {http / pages * 1000:8.1f} {FILES / http:9.0f}")
    print(f"{'SELECT * ... LIMIT 1000 OFFSET ?':<36} {sql / pages * 1000:8.1f} {FILES / sql:9.0f}")
    print(f"(best of {ROUNDS} rounds of {pages} pages; {size / pages / 1e6:.2f} MB of JSON a page)")
    ratio = http / sql
    ok = ratio <= TARGET_RATIO
    print(
        f"RATIO list_http_vs_sql_select {ratio:.1f} (target <= {TARGET_RATIO:.0f})"
        f" {'OK' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
