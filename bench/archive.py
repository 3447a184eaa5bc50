"""A 5 GB data package streamed as a zip through a real gunicorn: flat worker memory.

Five 1 GiB frames (sparse files: they read as zeros and take no disk) are brought in with
`arcsec-flask ingest --link`, put in one package, and its archive is downloaded with httpx
while a thread samples the workers' RSS (bench/upload.py's sampler). Baseline: reading the
same five files one by one from the same server (`GET /datafiles/<id>/file/`: send_file,
no zip), in the same run. Then the download is resumed at
90 % with a Range request: the time to its first byte is printed (the stream is generated
again and the bytes before the range dropped, so it re-reads the files up to there).

Targets: worker RSS growth at most 30 MB while 5 GB stream; the archive's throughput at
least 0.5 of the plain downloads' (the zip adds framing and a CRC-32 of every byte, and
goes through a Python generator rather than the file wrapper).
`--gib N` changes the package size (default 5).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.upload import RssSampler
from tests.support.servers import start_gunicorn

GIB = 1 << 30
MB = 1_000_000
KEY_HEADER = "X-Arcsecond-API-Authorization"
TARGET_GROWTH_MB = 30.0
TARGET_SPEED_RATIO = 0.5


def download_each(client: httpx.Client, auth: dict[str, str]) -> float:
    """Seconds to download every data file of the account, one after the other."""
    files = client.get("datafiles/", params={"page_size": 100}, headers=auth).json()["results"]
    start = time.perf_counter()
    for found in files:
        with client.stream("GET", f"datafiles/{found['id']}/file/", headers=auth) as response:
            assert response.status_code == 200, response.status_code
            received = sum(len(chunk) for chunk in response.iter_raw(1 << 20))
        assert received == found["size"]
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=int, default=5, help="package size in GiB (1 GiB files)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-archive-"))
    server = None
    try:
        frames = folder / "night"
        frames.mkdir()
        paths = []
        for i in range(args.gib):
            path = frames / f"frame_{i:03d}.dat"
            with path.open("wb") as f:
                f.truncate(GIB)
            paths.append(path)
        server = start_gunicorn(folder / "data", workers=2)
        keys = server.new_user("bench")
        server.admin("ingest", str(frames), "--dataset", "night", "--user", "bench", "--link")
        auth = {KEY_HEADER: f"Key {keys['api_key']}"}
        client = httpx.Client(timeout=600, base_url=server.url)
        dataset = client.get("datasets/", headers=auth).json()["results"][0]["uuid"]
        package = client.post(
            "datapackages/", json={"name": "night", "datasets": [dataset]}, headers=auth
        ).json()
        url = f"datapackages/{package['uuid']}/archive/"

        baseline = min(download_each(client, auth) for _ in range(2))
        sampler = RssSampler(server.process.pid)
        start, received = time.perf_counter(), 0
        with client.stream("GET", url, headers=auth) as response:
            assert response.status_code == 200, response.read()[:300]
            length = int(response.headers["Content-Length"])
            for chunk in response.iter_raw(1 << 20):
                received += len(chunk)
        elapsed = time.perf_counter() - start
        growth = sampler.stop()
        assert received == length, (received, length)

        resume_at = length * 9 // 10
        start = time.perf_counter()
        with client.stream(
            "GET", url, headers={**auth, "Range": f"bytes={resume_at}-"}
        ) as response:
            assert response.status_code == 206
            rest, to_first_byte = 0, 0.0
            for chunk in response.iter_raw(1 << 20):
                to_first_byte = to_first_byte or time.perf_counter() - start
                rest += len(chunk)
        assert rest == length - resume_at
        client.close()
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)

    size = args.gib * GIB
    ours, plain = size / MB / elapsed, size / MB / baseline
    print(f"package: {args.gib} files of 1 GiB, zip of {length:,} bytes")
    rss = f"(worker RSS +{growth / MB:.1f} MB)"
    print(f"archive download {elapsed:6.1f} s  {ours:7.0f} MB/s   {rss}")
    print(f"plain downloads  {baseline:6.1f} s  {plain:7.0f} MB/s")
    print(f"resume at 90 %: first byte after {to_first_byte:.1f} s")
    growth_ok = growth <= TARGET_GROWTH_MB * MB
    speed_ok = ours / plain >= TARGET_SPEED_RATIO
    print(
        f"RATIO archive_worker_rss_growth_mb {growth / MB:.1f}"
        f" (target <= {TARGET_GROWTH_MB:.0f}) {'OK' if growth_ok else 'MISSED'}"
    )
    print(
        f"RATIO archive_vs_plain_downloads {ours / plain:.2f}"
        f" (target >= {TARGET_SPEED_RATIO}) {'OK' if speed_ok else 'MISSED'}"
    )
    return 0 if growth_ok and speed_ok else 1


if __name__ == "__main__":
    sys.exit(main())
