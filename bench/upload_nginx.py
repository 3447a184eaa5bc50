"""What nginx's request buffering costs an upload: one large file through real nginx in front
of a real gunicorn, with deploy/nginx.conf.example as it is (proxy_request_buffering on:
nginx spools the body to its temporary folder, then hands it to gunicorn) and in its
streaming variant (off: the body goes through as it arrives).

A real gunicorn (2 gthread workers, 4 threads each, as the tests run it) serves a temporary
data folder; nginx's temporary folder is in the same folder, as the example puts it on the
data disk. A file of `--size` MiB of random bytes (default 1024, the 1 GiB of the brief)
is uploaded with httpx, streamed from disk as multipart (the parts `dataset`, `is_raw`,
`file`, as the arcsecond client sends them), alternately through each variant, `--runs`
times each (default 2); the best time counts.

Baseline, in the same run: the streaming variant. Targets: buffered MB/s / streaming MB/s
>= 0.5 (the body is written once more); and the answer's wait after the client has sent
its last byte, which buffering makes the whole of the app's work (streaming: only what
is left of it), at most 20 s per GiB: the arcsecond client gives up after 60 s, so a
3 GiB frame still fits. Noisy on a shared machine: run twice and quote both.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.upload import KEY_HEADER, MB, MIB, make_dat, sha256_of
from tests.support.nginx import nginx_binary, start_nginx
from tests.support.servers import start_gunicorn

GIB = 1024 * MIB
TARGET_SPEED_RATIO = 0.5
TARGET_WAIT_PER_GIB = 20.0


class TimedReader:
    """The file handle httpx streams from, noting when the last byte has been read."""

    def __init__(self, handle) -> None:
        self.handle = handle
        self.size = os.fstat(handle.fileno()).st_size
        self.last_byte_at: float | None = None

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        if self.last_byte_at is None and self.handle.tell() >= self.size:
            self.last_byte_at = time.perf_counter()
        return data

    def fileno(self) -> int:
        return self.handle.fileno()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()


def upload(url: str, key: str, dataset: str, path: Path, name: str) -> tuple[float, float, dict]:
    """(seconds in all, seconds from the last byte sent to the answer, the data file)."""
    with path.open("rb") as handle, httpx.Client(timeout=600) as client:
        reader = TimedReader(handle)
        start = time.perf_counter()
        response = client.post(
            url + "datafiles/",
            data={"dataset": dataset, "is_raw": "True"},
            files={"file": (name, reader, "application/octet-stream")},
            headers={KEY_HEADER: f"Key {key}"},
        )
        end = time.perf_counter()
    if response.status_code != 201:
        raise RuntimeError(f"upload of {name}: {response.status_code} {response.text[:500]}")
    assert reader.last_byte_at is not None
    return end - start, end - reader.last_byte_at, response.json()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--size", type=int, default=256, help="file size in MiB (256; the full size: 1024)"
    )
    parser.add_argument("--runs", type=int, default=2, help="uploads per variant (default 2)")
    args = parser.parse_args()
    if nginx_binary() is None:
        print("nginx is not installed: nothing measured")
        return 1
    size = args.size * MIB
    folder = Path(tempfile.mkdtemp(prefix="bench-upload-nginx-"))
    app = None
    proxies = {}
    try:
        app = start_gunicorn(folder / "data", workers=2, extra_env={"ARCSEC_PROXY_FIX": "1"})
        files = folder / "data" / "files"
        for variant, buffering in (("buffered", True), ("streaming", False)):
            proxies[variant] = start_nginx(
                folder / f"nginx-{variant}",
                app.url,
                files,
                body_temp=folder / "data" / f"nginx-body-{variant}",
                request_buffering=buffering,
            )
        keys = app.new_user("bench")
        key = keys["upload_key"]
        auth = {KEY_HEADER: f"Key {key}"}
        dataset = httpx.post(app.url + "datasets/", json={"name": "bench"}, headers=auth)
        dataset_id = dataset.json()["uuid"]

        path = folder / "big.dat"
        make_dat(path, size)
        with path.open("rb+") as f:  # its own writeback must not slow the first run down
            os.fsync(f.fileno())
        checksum = sha256_of(path)  # also leaves the file in the page cache for every run
        times: dict[str, list[float]] = {name: [] for name in proxies}
        waits: dict[str, list[float]] = {name: [] for name in proxies}
        for run in range(args.runs):
            for variant, proxy in proxies.items():
                total, wait, created = upload(
                    proxy.url, key, dataset_id, path, f"{run}-{variant}.dat"
                )
                assert created["size"] == size and created["checksum"] == checksum
                times[variant].append(total)
                waits[variant].append(wait)
    finally:
        for proxy in proxies.values():
            proxy.stop()
        if app is not None:
            app.stop()
        shutil.rmtree(folder, ignore_errors=True)

    gib = size / GIB
    print(f"{'variant':<10} {'MB':>6} {'MB/s':>8} {'wait after last byte s':>24}")
    for variant in proxies:
        best = min(times[variant])
        print(f"{variant:<10} {size / MB:6.0f} {size / MB / best:8.1f} {min(waits[variant]):24.2f}")
    print(f"(best of {args.runs} uploads per variant, interleaved; all: {times}, waits: {waits})")
    ratio = min(times["streaming"]) / min(times["buffered"])
    speed_ok = ratio >= TARGET_SPEED_RATIO
    print(
        f"RATIO upload_nginx_buffered_vs_streaming {ratio:.2f}"
        f" (target >= {TARGET_SPEED_RATIO}) {'OK' if speed_ok else 'MISSED'}"
    )
    per_gib = min(waits["buffered"]) / gib
    wait_ok = per_gib <= TARGET_WAIT_PER_GIB
    print(
        f"RATIO upload_nginx_buffered_answer_wait_s_per_gib {per_gib:.2f}"
        f" (target <= {TARGET_WAIT_PER_GIB:.0f}; streaming"
        f" {min(waits['streaming']) / gib:.2f}) {'OK' if wait_ok else 'MISSED'}"
    )
    return 0 if speed_ok and wait_ok else 1


if __name__ == "__main__":
    sys.exit(main())
