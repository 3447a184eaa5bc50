"""The watcher's memory after dealing with many files, and what its rescans cost.

`--files` (default 100,000) small files (100 bytes each, in folders of 1,000) whose rows
are then seeded (repo.datafiles.create_many, after the files were written: they are
"filed, not modified since"). A `services.watch.Watcher` catches up on the folder (every
file goes through ingest, skipped as present, as after a restart), then rescans it twice
(what it does every RESCAN_SECONDS). Measured with tracemalloc (this process): what the
watcher holds after the catch-up and after the rescans (its tracker: pending and
remembered files), and the rescans' time.

Baseline, in the same run: the watcher as it was before this change, which remembered
every file dealt with: a second Watcher whose tracker is told `done(path, signature)` for
each of the same files (what the old catch-up left), measured the same way, and its
rescans (a stat and a dict lookup a file, no SELECT). A bare loop (stat, one indexed SELECT
a file) is printed for scale.

Targets: watcher memory after the catch-up <= 0.05 of the old one's; a rescan <= 2.5x the
old one's (it asks the database, one SELECT a file, instead of a dict). The 2-core
machine is shared: run it twice, quote both.
"""

from __future__ import annotations

import argparse
import gc
import logging
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

from arcsec_flask.headers import read_header
from arcsec_flask.repo import accounts, datafiles, datasets
from arcsec_flask.repo.sqlite import connect, init_schema, transaction
from arcsec_flask.services import ingest
from arcsec_flask.services.watch import Watcher, WatchTarget
from arcsec_flask.storage import LocalBackend
from tests.cli.helpers import small_frame

TARGET_MEMORY = 0.05
TARGET_RESCAN = 2.5
PER_FOLDER = 1000
SIZE = 100


def make_files(folder: Path, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        path = folder / f"night{i // PER_FOLDER:03d}" / f"frame_{i:07d}.fits"
        if i % PER_FOLDER == 0:
            path.parent.mkdir(parents=True)
        path.write_bytes(b"x" * SIZE)
        paths.append(path)
    return paths


def seed(conn, owner: int, dataset: dict, paths: list[Path], header) -> None:
    files = (
        (datafiles.StoredFile(p.name, f"{dataset['uuid']}/{i:032x}", SIZE, f"{i:064x}"), header, {})
        for i, p in enumerate(paths)
    )
    with transaction(conn):
        datafiles.create_many(conn, owner, dataset, files)


def traced(action) -> tuple[int, float]:
    """(bytes still allocated by `action()` once it returned, seconds it took)."""
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    kept = action()
    seconds = time.perf_counter() - start
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    del kept
    return grown, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--files", type=int, default=10_000, help="files (10000; the full size: 100000)"
    )
    args = parser.parse_args()
    logging.getLogger("arcsec_flask.watch").setLevel(logging.WARNING)  # a line per file
    work = Path(tempfile.mkdtemp(prefix="bench-watch-memory-"))
    try:
        incoming = work / "incoming"
        paths = make_files(incoming, args.files)
        header = read_header(small_frame(work / "header.fits", 1), "header.fits")
        (work / "files").mkdir()
        conn = connect(work / "arcsec.sqlite3")
        init_schema(conn)
        owner = accounts.create(conn, "bench", "bench@example.org", None)["owner_id"]
        made = datasets.create(conn, owner, {"name": "night"})
        dataset = {"id": made["id"], "uuid": made["uuid"]}
        start = time.perf_counter()
        seed(conn, owner, dataset, paths, header)
        seeded = time.perf_counter() - start
        target = WatchTarget(LocalBackend(work / "files"), owner, dataset)
        watcher = Watcher(conn, target, incoming, stable_seconds=0, poll=True)

        tracemalloc.start()

        old = Watcher(conn, target, incoming, stable_seconds=0, poll=True)

        def old_bookkeeping() -> None:
            for path in ingest.files_under(incoming):
                found = path.stat()
                old.tracker.done(str(path), (found.st_size, found.st_mtime_ns))

        baseline, _ = traced(old_bookkeeping)

        def catch_up() -> None:
            now = time.monotonic()
            watcher._look_under(incoming, now, catching_up=True)
            watcher.step(now)

        after_catch_up, catch_up_s = traced(catch_up)
        assert len(watcher.tracker) == 0, "every file should have been dealt with"
        rescans: dict[str, list[float]] = {"new": [], "old": [], "bare": []}
        for _ in range(2):
            for name, which in (("new", watcher), ("old", old)):
                _grown, seconds = traced(lambda which=which: which.rescan(time.monotonic()))
                rescans[name].append(seconds)
                assert len(which.tracker) == 0, f"a rescan ({name}) took a filed file again"
            start = time.perf_counter()
            for path in ingest.files_under(incoming):
                path.stat()
                datafiles.by_name(conn, dataset["id"], path.name)
            rescans["bare"].append(time.perf_counter() - start)
        tracemalloc.stop()
        remembered = len(watcher.tracker.remembered())
        conn.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    mb = 1024 * 1024
    print(f"{args.files} filed files (rows seeded in {seeded:.1f} s)")
    print(f"  old watcher (every file remembered):  {baseline / mb:7.2f} MB")
    print(
        f"  watcher after its catch-up ({catch_up_s:.0f} s): {after_catch_up / mb:7.2f} MB,"
        f" {remembered} files remembered"
    )
    for name, values in rescans.items():
        print(f"  rescan {name:>4}, s: " + ", ".join(f"{s:.2f}" for s in values))
    memory = max(after_catch_up, 0) / baseline
    rescan = min(rescans["new"]) / min(rescans["old"])
    ok_memory = "OK" if memory <= TARGET_MEMORY else "MISS"
    ok_rescan = "OK" if rescan <= TARGET_RESCAN else "MISS"
    print(f"RATIO watch_memory_vs_old {memory:.4f} (target <= {TARGET_MEMORY}) {ok_memory}")
    print(f"RATIO watch_rescan_vs_old {rescan:.2f} (target <= {TARGET_RESCAN}) {ok_rescan}")
    print(f"RATIO watch_bytes_per_file_old {baseline / args.files:.0f} (no target) INFO")
    return 0 if ok_memory == ok_rescan == "OK" else 1


if __name__ == "__main__":
    raise SystemExit(main())
