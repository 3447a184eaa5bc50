"""Upload throughput and worker memory with S3 storage: one large file through a real
gunicorn into a real SeaweedFS on loopback.

A SeaweedFS (`weed server -s3`, as the tests start it) and a real gunicorn (2 gthread
workers, as the tests run it) with ARCSEC_STORAGE=s3 and the default 8 MiB parts. A file
of random bytes of `--size` MiB (default 128; `--size 1024` for the 1 GiB of issue 14, or
ARCSEC_BENCH_S3_MIB) is uploaded with httpx, streamed from disk as multipart (`dataset`,
`is_raw`, `file`, as the arcsecond client sends them), twice under new names: the best
time counts, the worst memory growth.

Baseline, in the same run, the same server and the same bucket: boto3's `upload_file` of
the same file (its managed transfer: 8 MiB parts, up to 10 in parallel), best of three,
interleaved with the uploads. Target: upload MB/s / upload_file MB/s >= 0.5.

Memory: the RSS of the gunicorn workers sampled every 50 ms (bench/upload.py's sampler).
Target: growth < 30 MB + 4 parts, whatever the file size (the upload holds a part being
filled and one being sent, never the file).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bench.upload import KEY_HEADER, MB, MIB, RssSampler, make_dat, sha256_of, upload
from tests.support.s3 import REGION, start_seaweedfs
from tests.support.servers import start_gunicorn

PART = 8 * MIB
RUNS = 2
BASELINE_RUNS = 3
TARGET_SPEED_RATIO = 0.5
TARGET_GROWTH_MB = 30.0 + 4 * PART / MB


def boto3_seconds(client, bucket: str, path: Path) -> float:
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART)
    key = f"baseline/{uuid.uuid4().hex}"
    start = time.perf_counter()
    client.upload_file(str(path), bucket, key, Config=config)
    elapsed = time.perf_counter() - start
    client.delete_object(Bucket=bucket, Key=key)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = int(os.environ.get("ARCSEC_BENCH_S3_MIB", "128"))
    parser.add_argument("--size", type=int, default=default, help="file size in MiB")
    size = parser.parse_args().size * MIB
    folder = Path(tempfile.mkdtemp(prefix="bench-s3-"))
    weed = server = None
    try:
        weed = start_seaweedfs(folder / "weed")
        os.environ.update(weed.env)  # boto3 here and in gunicorn read the credentials
        s3 = weed.client()
        bucket = "bench"
        s3.create_bucket(Bucket=bucket)
        env = {
            **weed.env,
            "ARCSEC_STORAGE": "s3",
            "ARCSEC_S3_ENDPOINT_URL": weed.endpoint,
            "ARCSEC_S3_BUCKET": bucket,
            "ARCSEC_S3_REGION": REGION,
            "ARCSEC_S3_PART_SIZE": str(PART),
        }
        server = start_gunicorn(folder / "data", workers=2, extra_env=env)
        keys = server.new_user("bench")
        key = keys["upload_key"]
        client = httpx.Client(timeout=900)
        auth = {KEY_HEADER: f"Key {key}"}
        dataset = client.post(server.url + "datasets/", json={"name": "b"}, headers=auth).json()
        path = folder / "big.dat"
        make_dat(path, size)
        checksum = sha256_of(path)  # also leaves it in the page cache
        warm = folder / "warm.dat"
        make_dat(warm, 2 * PART)  # the workers' first S3 connections, imports
        for i in range(2):
            upload(
                client, server.url, key, dataset["uuid"], warm, "application/octet-stream", f"w{i}"
            )
        baselines, uploads, growths = [boto3_seconds(s3, bucket, path)], [], []
        for run in range(RUNS):
            sampler = RssSampler(server.process.pid)
            start = time.perf_counter()
            made = upload(
                client, server.url, key, dataset["uuid"], path, "application/octet-stream", f"{run}"
            )
            uploads.append(time.perf_counter() - start)
            growths.append(sampler.stop())
            assert made["size"] == size and made["checksum"] == checksum
            baselines.append(boto3_seconds(s3, bucket, path))
        while len(baselines) < BASELINE_RUNS:
            baselines.append(boto3_seconds(s3, bucket, path))
        left = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        assert left == [], left
        client.close()
    finally:
        if server is not None:
            server.stop()
        if weed is not None:
            weed.stop()
        shutil.rmtree(folder, ignore_errors=True)

    up, base, growth = min(uploads), min(baselines), max(growths)
    print(f"{'MB':>6} {'upload MB/s':>12} {'upload_file MB/s':>17} {'ratio':>6} {'RSS +MB':>8}")
    print(
        f"{size / MB:6.0f} {size / MB / up:12.1f} {size / MB / base:17.1f} {base / up:6.2f}"
        f" {growth / MB:8.1f}"
    )
    print(
        f"(best of {RUNS} uploads through gunicorn against the best of {BASELINE_RUNS} boto3"
        f" upload_file of the same file; RSS = worst growth of a worker; parts {PART // MIB} MiB)"
    )
    missed = 0
    ok = base / up >= TARGET_SPEED_RATIO
    missed += not ok
    print(
        f"RATIO s3_upload_vs_boto3_upload_file {base / up:.2f}"
        f" (target >= {TARGET_SPEED_RATIO}) {'OK' if ok else 'MISSED'}"
    )
    ok = growth < TARGET_GROWTH_MB * MB
    missed += not ok
    print(
        f"RATIO s3_worker_rss_growth_mb {growth / MB:.1f}"
        f" (target < {TARGET_GROWTH_MB:.0f}; {growth / size:.3f} of the file size)"
        f" {'OK' if ok else 'MISSED'}"
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
