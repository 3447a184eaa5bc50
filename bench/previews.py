"""Preview time and memory: `render_preview` on big frames against astropy reading the pixels.

Four frames of 8192 x 6144 pixels are written once into a temporary folder: a 201 MB plain
float32 `.fits`, a 16-bit `.fits.gz` (96 MiB of pixels, as a camera writes them: BZERO =
32768), a 96 MiB 16-bit `.xisf`, and the same XISF with its block compressed (zlib, byte
shuffled; for information only: such a block is held decompressed, so it has no memory
target). Their pixels are one 16 MiB slab (sky, noise, stars) repeated, and the gzip file is
concatenated members of one compressed slab (as pigz --independent writes them; the trick
of bench/headers.py), so that they are written in a few seconds.

Each measure runs in a fresh Python process: imports and a warm-up render first, then the
RSS is noted and the kernel's peak-RSS mark reset (/proc/self/clear_refs), then the work is
done 3 times (median time); the growth is the peak (VmHWM) minus the RSS before. (Not
ru_maxrss: Linux carries it over from the parent through fork and exec, and the parent
held the slabs.) Baseline: `fits.getdata(path)`
then `np.nanmin` and `np.nanmax` of the data, the least work that reads every pixel with
astropy (on plain float32 it memory-maps the file; on .gz it decompresses into memory).

Targets: RSS growth at most 0.25 of the pixel data's size for every frame; render time at
most 3x the baseline on plain FITS (ratio baseline / ours >= 0.33) and at most 2x on .gz,
where decompression dominates both (ratio >= 0.5).

Then through a real gunicorn (2 gthread workers, loopback), the plain `.fits` frame is
uploaded and its preview asked for over HTTP: cold (made by the request; the cached PNG is
removed between the RUNS runs, median), while a thread samples the workers' RSS; and warm
(already cached, WARM_GETS requests, median). Baselines: the fits.getdata figure above for
the cold request (target: at most 3x, ratio baseline / cold >= 0.33), and for the warm one
a file of the PNG's size (random bytes, uploaded as .dat) downloaded from
/datafiles/<id>/file/, alternating with the warm requests (target: ratio static / warm >=
0.5). Worker RSS growth while making the preview: at most 0.25 of the pixel data's size.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import httpx
import numpy as np

from bench.upload import KEY_HEADER, RssSampler, upload
from tests.support.servers import start_gunicorn

ROOT = Path(__file__).resolve().parents[1]
MB = 1_000_000
WIDTH, HEIGHT = 8192, 6144
SLAB_ROWS = 512  # 8192 x 512 pixels: 16 MiB of float32, 8 MiB of 16-bit samples
BLOCK = 2880
RUNS = 3
WARM_GETS = 30


def slab(rng: np.random.Generator) -> np.ndarray:
    """Sky with noise and a few hundred stars, as float32 counts."""
    sky = rng.normal(1000, 25, (SLAB_ROWS, WIDTH)).astype(np.float32)
    rows, columns = rng.integers(3, SLAB_ROWS - 3, 300), rng.integers(3, WIDTH - 3, 300)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            sky[rows + dy, columns + dx] += 20_000 * np.exp(-(dx * dx + dy * dy) / 2)
    return sky


def fits_header(bitpix: int, bzero: int | None = None) -> bytes:
    cards = [("SIMPLE", "T"), ("BITPIX", bitpix), ("NAXIS", 2), ("NAXIS1", WIDTH)]
    cards += [("NAXIS2", HEIGHT)]
    if bzero is not None:
        cards += [("BSCALE", 1), ("BZERO", bzero)]
    text = "".join(f"{key:<8}= {value!s:>20}".ljust(80) for key, value in cards)
    text += "END".ljust(80)
    return text.ljust(-(-len(text) // BLOCK) * BLOCK).encode("ascii")


def xisf_header(size: int, compression: str = "") -> bytes:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><xisf version="1.0" '
        'xmlns="http://www.pixinsight.com/xisf"><Image geometry="'
        f'{WIDTH}:{HEIGHT}:1" sampleFormat="UInt16" colorSpace="Gray" {compression}'
        f'location="attachment:4096:{size}"/></xisf>'
    ).encode()
    head = b"XISF0100" + len(xml).to_bytes(4, "little") + b"\0" * 4 + xml
    return head.ljust(4096, b"\0")


def make_files(folder: Path) -> dict[str, tuple[Path, int]]:
    """name -> (path, bytes of pixel data)."""
    counts = slab(np.random.default_rng(20240301))
    slabs = HEIGHT // SLAB_ROWS
    plain = counts.astype(">f4").tobytes()
    camera = np.clip(counts, 0, 65535).astype(np.uint16)
    signed = (camera.astype(np.int32) - 32768).astype(">i2").tobytes()
    files = {}
    path = folder / "frame.fits"
    with path.open("wb") as out:
        out.write(fits_header(-32))
        for _ in range(slabs):
            out.write(plain)
        out.write(b"\0" * (-(slabs * len(plain)) % BLOCK))
    files[path.name] = (path, slabs * len(plain))
    path = folder / "camera.fits.gz"
    member = gzip.compress(signed, compresslevel=3, mtime=0)
    with path.open("wb") as out:
        out.write(gzip.compress(fits_header(16, 32768), mtime=0))
        for _ in range(slabs):
            out.write(member)
        out.write(gzip.compress(b"\0" * (-(slabs * len(signed)) % BLOCK), mtime=0))
    files[path.name] = (path, slabs * len(signed))
    path = folder / "camera.xisf"
    little = camera.astype("<u2").tobytes()
    with path.open("wb") as out:
        out.write(xisf_header(slabs * len(little)))
        for _ in range(slabs):
            out.write(little)
    files[path.name] = (path, slabs * len(little))
    # zlib with byte shuffling (2-byte items), as PixInsight writes it when asked to compress.
    path = folder / "camera-zlib.xisf"
    whole = np.frombuffer(little * slabs, dtype=np.uint8)
    packed = zlib.compress(whole.reshape(-1, 2).T.tobytes(), 1)
    attribute = f'compression="zlib+sh:{len(whole)}:2" '
    path.write_bytes(xisf_header(len(packed), attribute) + packed)
    files[path.name] = (path, len(whole))
    return files


def measure(kind: str, path: str) -> dict[str, float]:
    """In a fresh process: median seconds of RUNS runs and peak RSS growth in bytes."""
    import psutil
    from astropy.io import fits

    from arcsec_flask.images import render_preview

    def ours() -> None:
        assert render_preview(path, Path(path).name) is not None

    def baseline() -> None:
        data = fits.getdata(path)
        np.nanmin(data), np.nanmax(data)

    work = ours if kind == "ours" else baseline
    small = Path(tempfile.mkdtemp()) / "small.fits"
    fits.PrimaryHDU(np.ones((300, 400), np.float32)).writeto(small)
    assert render_preview(small, small.name) is not None
    fits.getdata(small)
    shutil.rmtree(small.parent)
    before = psutil.Process().memory_info().rss
    reset_peak_rss()
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    peak = peak_rss()
    return {"seconds": statistics.median(times), "growth": max(0, peak - before)}


def reset_peak_rss() -> None:
    # Without it the mark dates from the exec: imports and the warm-up, a smaller peak.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def run_measure(kind: str, path: Path) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.previews", "--measure", kind, str(path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def get_seconds(client: httpx.Client, url: str, headers: dict, size: int | None = None) -> float:
    """Seconds to GET `url` and read its whole body (of `size` bytes, when given)."""
    start = time.perf_counter()
    response = client.get(url, headers=headers)
    elapsed = time.perf_counter() - start
    if response.status_code != 200 or (size is not None and len(response.content) != size):
        raise RuntimeError(f"GET {url}: {response.status_code}, {len(response.content)} bytes")
    return elapsed


def served(folder: Path, frame: Path) -> dict[str, float]:
    """The frame's preview over HTTP, cold and warm, and a same-size file's download."""
    from arcsec_flask.services import previews

    server = start_gunicorn(folder / "data", workers=2)
    try:
        keys = server.new_user("bench")
        api = {KEY_HEADER: f"Key {keys['api_key']}"}
        with httpx.Client(base_url=server.url, timeout=600) as client:
            dataset = client.post("datasets/", json={"name": "bench"}, headers=api).json()["uuid"]
            send = partial(upload, client, server.url, keys["upload_key"], dataset)
            # Both workers warmed up (imports, first render) with small previews, concurrently.
            small = folder / "small.fits"
            fits_small(small)
            warm_ups = [send(small, "image/fits", f"warm-{i}.fits")["id"] for i in range(4)]
            with ThreadPoolExecutor(2) as pool:
                list(
                    pool.map(lambda i: client.get(f"datafiles/{i}/preview/", headers=api), warm_ups)
                )
            found = send(frame, "image/fits", frame.name)
            url = f"datafiles/{found['id']}/preview/"
            cache = previews.folder(folder / "data")
            colds, growths = [], []
            for _ in range(RUNS):
                for cached in cache.rglob("*"):
                    if cached.is_file() and cached.name.endswith(".png"):
                        with contextlib.suppress(FileNotFoundError):
                            Path(cached).unlink()
                sampler = RssSampler(server.process.pid)
                colds.append(get_seconds(client, url, api))
                growths.append(sampler.stop())
            png = client.get(url, headers=api).content
            same_size = folder / "same-size.dat"
            same_size.write_bytes(np.random.default_rng(1).bytes(len(png)))
            other = send(same_size, "application/octet-stream", same_size.name)
            file_url = f"datafiles/{other['id']}/file/"
            warm, static = [], []
            for _ in range(WARM_GETS):  # alternated, so that both see the same machine
                warm.append(get_seconds(client, url, api, len(png)))
                static.append(get_seconds(client, file_url, api, len(png)))
    finally:
        server.stop()
    return {
        "cold": statistics.median(colds),
        "growth": max(growths),
        "png": len(png),
        "warm": statistics.median(warm),
        "static": statistics.median(static),
    }


def fits_small(path: Path) -> None:
    from astropy.io import fits

    fits.PrimaryHDU(np.ones((300, 400), np.float32)).writeto(path, overwrite=True)


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="bench-previews-"))
    try:
        start = time.perf_counter()
        files = make_files(folder)
        made = time.perf_counter() - start
        rows = []
        for name, (path, pixels) in files.items():
            ours = run_measure("ours", path)
            base = None if name.endswith(".xisf") else run_measure("baseline", path)
            rows.append((name, path.stat().st_size, pixels, ours, base))
        over_http = served(folder, files["frame.fits"][0])
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print(f"files written in {made:.1f} s ({WIDTH} x {HEIGHT} pixels each)")
    titles = ("file", "file MB", "pixels MB", "ours s", "ours RSS+ MB", "base s", "base RSS+ MB")
    print("{:<16} {:>8} {:>10} {:>7} {:>13} {:>7} {:>13}".format(*titles))
    for name, size, pixels, ours, base in rows:
        base_text = (
            f"{base['seconds']:7.2f} {base['growth'] / MB:13.1f}" if base else f"{'-':>7} {'-':>13}"
        )
        print(
            f"{name:<16} {size / MB:8.1f} {pixels / MB:10.1f} {ours['seconds']:7.2f}"
            f" {ours['growth'] / MB:13.1f} {base_text}"
        )
    print("(base = fits.getdata then nanmin and nanmax; RSS+ = peak RSS growth)")

    print(
        f"over HTTP, frame.fits: cold preview {over_http['cold']:.2f} s (worker RSS+"
        f" {over_http['growth'] / MB:.1f} MB); warm {over_http['warm'] * 1000:.1f} ms for"
        f" {over_http['png'] / 1000:.0f} kB; a file of that size"
        f" {over_http['static'] * 1000:.1f} ms"
    )

    by_name = {name: (pixels, ours, base) for name, _, pixels, ours, base in rows}
    missed = 0
    checks = []
    for label, name in [
        ("fits_rss_growth_vs_pixels", "frame.fits"),
        ("gz_rss_growth_vs_pixels", "camera.fits.gz"),
        ("xisf_rss_growth_vs_pixels", "camera.xisf"),
    ]:
        pixels, ours, _ = by_name[name]
        checks.append((label, ours["growth"] / pixels, "<=", 0.25))
    for label, name, at_least in [
        ("fits_getdata_minmax_vs_ours", "frame.fits", 0.33),
        ("gz_getdata_minmax_vs_ours", "camera.fits.gz", 0.5),
    ]:
        _, ours, base = by_name[name]
        checks.append((label, base["seconds"] / ours["seconds"], ">=", at_least))
    pixels, _, base = by_name["frame.fits"]
    checks.append(("served_rss_growth_vs_pixels", over_http["growth"] / pixels, "<=", 0.25))
    checks.append(
        ("getdata_minmax_vs_served_cold", base["seconds"] / over_http["cold"], ">=", 0.33)
    )
    checks.append(("static_vs_served_warm", over_http["static"] / over_http["warm"], ">=", 0.5))
    for label, value, sense, target in checks:
        ok = value <= target if sense == "<=" else value >= target
        missed += not ok
        print(f"RATIO {label} {value:.3f} (target {sense} {target:.2f}) {'OK' if ok else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2], sys.argv[3])))
        sys.exit(0)
    sys.exit(main())
