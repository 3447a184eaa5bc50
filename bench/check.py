"""`arcsec-flask check --verify-checksums`: its speed against a bare sha256 loop over the same
files, and its memory whatever the sizes.

A store made by the real `ingest --link` of `--files` (1,000) small FITS frames plus
`--big` (4) sparse 512 MiB FITS frames (a header, then a hole: the reads cost no disk).
Measured: `arcsec-flask check --verify-checksums` as a subprocess (the console script, as
an operator runs it: start-up, rows, listing, derived data and every file's sha256), best
of 2. Baseline in the same run: a loop in this process reading every stored file in 1 MiB
pieces into hashlib.sha256, best of 2, alternating with the checks. Memory: the peak RSS
(wait4's ru_maxrss) of `check --verify-checksums` against `check` alone on the same store.

Targets: baseline time / the checksums' own time (`check --verify-checksums` minus `check`
on the same store: the command's start-up, about 4 s of imports on a loaded machine, is
paid with or without checksums) >= 0.6; peak RSS growth from the checksums <= 30 MB. The
whole command's time against the baseline is printed too, without a target.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy.io import fits

from tests.cli.helpers import BIN, env_for, make_user, run, small_frame

MB = 1024 * 1024
TARGET_SPEED_RATIO = 0.6
TARGET_RSS_GROWTH_MB = 30


def sparse_frame(path: Path, size: int) -> Path:
    side = int((size / 4) ** 0.5)
    header = fits.PrimaryHDU(data=np.zeros((1, 1), dtype=np.int32)).header
    header["NAXIS1"], header["NAXIS2"] = side, side
    header["IMAGETYP"], header["OBJECT"] = "LIGHT", "NGC 7000"
    header["DATE-OBS"] = "2024-07-01T22:00:00"
    with path.open("wb") as out:
        out.write(header.tostring().encode())
        data = side * side * 4
        out.truncate(out.tell() + data + (-data % 2880))
    return path


def timed_check(data_dir: Path, *args: str) -> tuple[float, int, int]:
    """(seconds, exit status, peak RSS in bytes) of one `arcsec-flask check`."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [BIN, "check", *args], env=env_for(data_dir), stdout=subprocess.DEVNULL
    )
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, process.returncode, usage.ru_maxrss * 1024  # KiB on Linux


def bare_hashing(paths: list[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        digest = hashlib.sha256()
        with path.open("rb") as reader:
            while piece := reader.read(MB):
                digest.update(piece)
        digest.hexdigest()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=1000, help="small frames (1000)")
    parser.add_argument("--big", type=int, default=4, help="sparse 512 MiB frames (4)")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-check-"))
    try:
        night = folder / "night"
        for i in range(options.files):
            small_frame(night / f"f{i:05d}.fits", i)
        for i in range(options.big):
            sparse_frame(night / f"big{i}.fits", 512 * MB)
        data_dir = folder / "data"
        make_user(data_dir, "bench")
        done = run(data_dir, "ingest", night, "--dataset", "D", "--user", "bench", "--link")
        if done.returncode != 0:
            raise RuntimeError(done.stdout + done.stderr)
        stored = [p for p in (data_dir / "files").rglob("*") if p.is_file()]
        stored = [p for p in stored if ".tmp" not in p.parts]
        total = sum(p.stat().st_size for p in stored)
        plain_s, plain_rss = [], []
        checks, bares = [], []
        for _ in range(2):
            seconds, status, rss = timed_check(data_dir)
            if status != 0:
                raise RuntimeError(f"check found problems in a clean store ({status})")
            plain_s.append(seconds)
            plain_rss.append(rss)
            seconds, status, rss = timed_check(data_dir, "--verify-checksums")
            if status != 0:
                raise RuntimeError(f"check --verify-checksums exited {status}")
            checks.append((seconds, rss))
            bares.append(bare_hashing(stored))
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    best_check = min(s for s, _ in checks)
    best_bare = min(bares)
    growth = max(r for _, r in checks) - min(plain_rss)
    print(f"{len(stored)} stored files, {total / MB:.0f} MiB ({options.big} sparse)")
    print(f"check alone:             {min(plain_s):6.2f} s, peak RSS {min(plain_rss) / MB:.0f} MB")
    print(
        f"check --verify-checksums: {best_check:6.2f} s ({total / MB / best_check:.0f} MiB/s),"
        f" peak RSS {max(r for _, r in checks) / MB:.0f} MB"
    )
    print(f"bare sha256 loop:         {best_bare:6.2f} s ({total / MB / best_bare:.0f} MiB/s)")
    phase = max(best_check - min(plain_s), 1e-3)  # noise could make it 0 or less
    speed = best_bare / phase
    speed_ok = speed >= TARGET_SPEED_RATIO
    rss_ok = growth <= TARGET_RSS_GROWTH_MB * MB
    print(f"checksums' own time:      {phase:6.2f} s ({total / MB / phase:.0f} MiB/s)")
    print(
        f"RATIO check_checksum_phase_vs_bare_sha256 {speed:.2f}"
        f" (target >= {TARGET_SPEED_RATIO}) {'OK' if speed_ok else 'MISSED'}"
    )
    print(f"RATIO check_command_vs_bare_sha256 {best_bare / best_check:.2f} (no target) INFO")
    print(
        f"RATIO check_checksums_rss_growth_mb {growth / MB:.1f}"
        f" (target <= {TARGET_RSS_GROWTH_MB}) {'OK' if rss_ok else 'MISSED'}"
    )
    return 0 if speed_ok and rss_ok else 1


if __name__ == "__main__":
    sys.exit(main())
