"""A watcher's restart (an ingest re-run) over a folder whose files are all filed already.

`--files` (default 2,000) small FITS frames (bench/ingest.py's, about 37 KB each) are
ingested once (`--link`) into a fresh data folder; then the same folder is ingested again,
which files nothing: by default (same name, size, not modified since filed: not read) and
with `verify=True` (every file read, header and sha256, as before this rule).

Baseline, in the same run: a bare loop that only stats every file (what a catch-up cannot
do without) and looks its name up in the dataset (one indexed SELECT each).
Targets: default re-run files/s / verify files/s >= 5 (on page-cached 37 KB frames: on a
cold disk or larger frames the gap is far wider); default / bare printed for scale.
Best of `--rounds` (2) runs each; the 2-core machine is shared: run it twice, quote both.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from arcsec_flask.repo import accounts, datafiles, datasets
from arcsec_flask.repo.sqlite import connect, init_schema
from arcsec_flask.services import ingest
from arcsec_flask.storage import LocalBackend
from bench.ingest import make_frames

TARGET = 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2000, help="frames (2000)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, best of each (2)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-rerun-"))
    rates: dict[str, list[float]] = {"bare": [], "default": [], "verify": []}
    try:
        frames = work / "frames"
        frames.mkdir()
        paths = make_frames(frames, args.files)
        (work / "files").mkdir()
        conn = connect(work / "arcsec.sqlite3")
        init_schema(conn)
        owner = accounts.create(conn, "bench", "bench@example.org", None)["owner_id"]
        made = datasets.create(conn, owner, {"name": "night"})
        dataset = {"id": made["id"], "uuid": made["uuid"]}
        backend = LocalBackend(work / "files")
        first = ingest.ingest_folder(conn, backend, owner, dataset, frames, "link", 2)
        assert first.imported == args.files, first
        for _round in range(args.rounds):
            start = time.perf_counter()
            for path in ingest.files_under(frames):
                path.stat()
                datafiles.by_name(conn, dataset["id"], path.name)
            rates["bare"].append(len(paths) / (time.perf_counter() - start))
            for name, verify in (("default", False), ("verify", True)):
                start = time.perf_counter()
                summary = ingest.ingest_folder(
                    conn, backend, owner, dataset, frames, "link", 2, verify=verify
                )
                rates[name].append(len(paths) / (time.perf_counter() - start))
                assert summary.present == args.files and not summary.refused, summary
                assert (summary.headers_read > 0) is verify, summary
        conn.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    best = {name: max(values) for name, values in rates.items()}
    print(f"{args.files} filed frames, re-run; files/s, best of {args.rounds}:")
    for name, values in rates.items():
        print(f"  {name:>8}: " + ", ".join(f"{v:.0f}" for v in values))
    ratio = best["default"] / best["verify"]
    verdict = "OK" if ratio >= TARGET else "MISS"
    print(f"RATIO rerun_default_vs_verify {ratio:.1f} (target >= {TARGET}) {verdict}")
    print(f"RATIO rerun_default_vs_stat {best['default'] / best['bare']:.2f} (no target) INFO")
    print(f"RATIO rerun_verify_vs_stat {best['verify'] / best['bare']:.3f} (no target) INFO")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
