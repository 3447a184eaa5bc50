"""Header read time: `read_header` against `astropy.io.fits.getheader` on the same big files.

Three realistic frames are written once into a temporary folder: a ~100 MB `.fits.gz`, a
~30 MB `.fits.bz2` and a ~50 MB plain `.fits`, each a 32-bit integer image (sky level plus
noise: compressible, but not trivially) under a header of ~150 cards. The compressed files
are written as concatenated gzip members / bzip2 streams of one compressed 16 MiB slab of
pixels (as pigz --independent or pbzip2 write them): valid files that every reader
decompresses in full, generated in a second instead of compressing 200 MB each run.

Baseline: `fits.getheader(path)` on the same file, median of a few runs. Targets: ours at
least 5x faster on .gz and .bz2 (getheader decompresses far more than the header there). On
plain .fits the like-for-like baseline is getheader then every value and comment read (ours
parses every card, to store it; getheader alone parses lazily): ours at most 2x slower.
"""

from __future__ import annotations

import bz2
import gzip
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from astropy.io import fits

from arcsec_flask.headers import read_header
from tests.support.factories import fits_header, light_frame_cards

ROOT = Path(__file__).resolve().parents[1]

MB = 1_000_000
BLOCK = 2880
SLAB_PIXELS = 4096 * 1024  # 16 MiB of 32-bit pixels, one compressed unit
WIDTH = 4096
GZIP_LEVEL = 3  # moderate: decompression speed hardly depends on it


def header_cards(width: int, height: int) -> list[tuple]:
    """~150 cards, as an acquisition program and a few processing steps write them."""
    cards: list[tuple] = [
        ("SIMPLE", True, "conforms to FITS standard"),
        ("BITPIX", 32, "array data type"),
        ("NAXIS", 2, "number of array dimensions"),
        ("NAXIS1", width),
        ("NAXIS2", height),
        ("EXTEND", True),
        ("BZERO", 0),
        ("BSCALE", 1),
    ]
    cards += light_frame_cards()
    cards += [
        ("XPIXSZ", 3.76, "[um] Pixel X axis size"),
        ("YPIXSZ", 3.76, "[um] Pixel Y axis size"),
        ("FOCRATIO", 8.0, "Focal ratio"),
        ("SITEELEV", 650.0, "[m] Observation site elevation"),
        ("DATE-LOC", "2024-03-01T22:00:00.000", "Time of observation (local)"),
        ("AIRMASS", 1.0612, "Airmass at frame start"),
        ("HIERARCH ESO DPR CATG", "SCIENCE", "Observation category"),
        ("HIERARCH ESO DPR TYPE", "OBJECT", "Observation type"),
    ]
    cards += [(f"FOCPOS{i:02d}", 10_000 + i, "focuser position log") for i in range(40)]
    cards += [(f"WEATH{i:03d}", 12.5 + i / 10, "[degC] ambient temperature log") for i in range(40)]
    cards += [("HISTORY", f"step {i}: calibrated with master frame {i}") for i in range(20)]
    cards += [("COMMENT", "FITS (Flexible Image Transport System) format is defined in 'A&A'")] * 10
    return cards


def make_files(folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(20240301)
    slab = (1000 + rng.normal(0, 100, SLAB_PIXELS)).astype(">i4").tobytes()
    gz_member = gzip.compress(slab, compresslevel=GZIP_LEVEL, mtime=0)
    bz2_stream = bz2.compress(slab, 9)
    plans = {  # name: (slabs of 16 MiB, compression)
        "frame.fits.gz": (14, "gzip"),
        "frame.fits.bz2": (6, "bzip2"),
        "frame.fits": (3, None),
    }
    files = {}
    for name, (slabs, compression) in plans.items():
        height = slabs * SLAB_PIXELS // WIDTH
        header = fits_header(header_cards(WIDTH, height)).tostring().encode("ascii")
        padding = b"\0" * (-(slabs * len(slab)) % BLOCK)
        parts: list[bytes]
        if compression == "gzip":
            packed = gzip.compress
            parts = [packed(header, mtime=0), *[gz_member] * slabs, packed(padding, mtime=0)]
        elif compression == "bzip2":
            parts = [bz2.compress(header), *[bz2_stream] * slabs, bz2.compress(padding)]
        else:
            parts = [header, *[slab] * slabs, padding]
        path = folder / name
        with path.open("wb") as out:
            for part in parts:
                out.write(part)
        files[name] = path
    return files


def median_ms(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="bench-headers-"))
    try:
        start = time.perf_counter()
        files = make_files(folder)
        made = time.perf_counter() - start
        # Warm up both readers (imports, astropy's lazy setup) on a small file.
        small = folder / "small.fits"
        small.write_bytes(fits_header(header_cards(8, 8)).tostring().encode() + b"\0" * BLOCK)
        read_header(small, small.name)
        fits.getheader(small)
        rows = []
        for name, path in files.items():
            info = read_header(path, name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = fits.getheader(path)
            assert info.format == "fits" and len(info.cards) >= 140, (name, len(info.cards))
            assert theirs["NAXIS2"] == dict((c.key, c.value) for c in info.cards)["NAXIS2"]
            slow = name.endswith(".bz2")
            ours_ms = median_ms(lambda p=path, n=name: read_header(p, n), 9)
            base_ms = median_ms(lambda p=path: fits.getheader(p), 3 if slow else 5)
            rows.append((name, path.stat().st_size / MB, len(info.cards), ours_ms, base_ms))
        # For information: getheader parses cards lazily; reading every value and comment
        # (what read_header does, to store them) is the like-for-like work.
        plain = files["frame.fits"]
        eager_ms = median_ms(lambda: [(c.value, c.comment) for c in fits.getheader(plain).cards], 9)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print(f"files written in {made:.1f} s")
    titles = ("file", "MB", "cards", "read_header ms", "getheader ms", "ratio")
    print("{:<16} {:>7} {:>6} {:>15} {:>13} {:>7}".format(*titles))
    for name, size, cards, ours, base in rows:
        print(f"{name:<16} {size:7.1f} {cards:6d} {ours:15.2f} {base:13.2f} {base / ours:7.2f}")
    plain_ours = next(row[3] for row in rows if row[0] == "frame.fits")
    print(
        f"frame.fits, getheader then every value and comment read: {eager_ms:.2f} ms"
        f" (ratio {eager_ms / plain_ours:.2f})"
    )
    print("(ratio = getheader time / read_header time: above 1, read_header is faster)")

    by_name = {name: (ours, base) for name, _, _, ours, base in rows}
    by_name["frame.fits, every value"] = (plain_ours, eager_ms)
    missed = 0
    for label, name, at_least in [
        ("gz_getheader_vs_ours", "frame.fits.gz", 5.0),
        ("bz2_getheader_vs_ours", "frame.fits.bz2", 5.0),
        ("fits_getheader_all_values_vs_ours", "frame.fits, every value", 0.5),
    ]:
        ours, base = by_name[name]
        ratio = base / ours
        ok = ratio >= at_least
        missed += not ok
        print(f"RATIO {label} {ratio:.2f} (target >= {at_least:.2f}) {'OK' if ok else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
