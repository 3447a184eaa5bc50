"""`arcsec-flask check`: the rows against the stored files (through the storage Backend,
so the same check runs on the local folder and on S3), the in-place files against their
rows, crash leftovers, and the derived data against the rows; then, with `repair`, the
fixes that lose nothing.

What is repaired, each step on its own (a database step is one transaction):
- files no row refers to, older than the grace period: moved to lost+found/<UTC date>/;
- upload parts no upload will finish: removed (an incomplete upload by definition);
- cached previews of no row: removed (they are made again on demand);
- derived links (night logs, observations, calibrations): recomputed, at most `batch`
  files a transaction, each held 0.3 s at most (repo/integrity.py), then the groups no
  file uses pruned; stored counts: recounted.
Never repaired, only reported: rows without their file, size or checksum mismatches,
in-place files gone or changed (the data is the observatory's, not ours to touch).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from ..repo import integrity
from ..repo.integrity import FileRow
from ..storage import Backend, StoredEntry, Stray
from . import previews

# The report's sections, in order: kind -> what a finding of that kind is.
KINDS: dict[str, str] = {
    "missing": "rows whose stored file is gone",
    "unreferenced": "stored files no row refers to",
    "size_mismatch": "stored files whose size is not their row's",
    "checksum_mismatch": "stored files whose sha256 is not their row's",
    "in_place_missing": "in-place files gone",
    "in_place_size_mismatch": "in-place files whose size changed",
    "in_place_checksum_mismatch": "in-place files whose sha256 changed",
    "stale_parts": "upload parts no upload will finish",
    "orphan_previews": "cached previews of no row",
    "derived_links": "files whose night log, observation or calibration is out of date",
    "derived_empty": "night logs, observations or calibrations no file uses",
    "counts": "stored counts out of date",
}
REPAIRABLE = ("unreferenced", "stale_parts", "orphan_previews", "derived_links",
              "derived_empty", "counts")  # fmt: skip
CHUNK = 1024 * 1024  # checksums read this much at a time: memory stays bounded
DEFAULT_GRACE_S = 3600.0
DEFAULT_STALE_S = 24 * 3600.0
DEFAULT_BATCH = integrity.BATCH


class Progress(Protocol):
    """Told the bytes to hash, then each piece hashed (a progress bar, on a terminal)."""

    def start(self, total_bytes: int) -> None: ...

    def advance(self, nbytes: int) -> None: ...


@dataclass(frozen=True)
class Options:
    verify_checksums: bool = False
    repair: bool = False
    # An unreferenced file younger than this may be an upload being filed (placed, its
    # row not committed yet): reported apart, never moved.
    grace_s: float = DEFAULT_GRACE_S
    # A part still held by a running upload counts as hung after this long.
    stale_s: float = DEFAULT_STALE_S
    # Files whose derived links are recomputed per write transaction, at most (uploads
    # wait for one batch, which also stops after holding the lock integrity.HOLD_S).
    batch: int = DEFAULT_BATCH


@dataclass
class Report:
    storage: str  # the backend's kind
    rows: int
    stored: int
    findings: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {kind: [] for kind in KINDS}
    )
    recent: list[dict[str, Any]] = field(default_factory=list)  # unreferenced, within grace
    repaired: dict[str, int] = field(default_factory=dict)
    lost_found: str | None = None

    def count(self, kind: str) -> int:
        return sum(item.get("count", 1) for item in self.findings[kind])

    @property
    def problems(self) -> int:
        return sum(self.count(kind) for kind in KINDS)

    def as_dict(self) -> dict[str, Any]:
        return {
            "storage": self.storage,
            "rows": self.rows,
            "stored_files": self.stored,
            "problems": self.problems,
            "findings": {
                kind: {"count": self.count(kind), "items": items}
                for kind, items in self.findings.items()
            },
            "recent_unreferenced": self.recent,
            "repaired": self.repaired,
            "lost_found": self.lost_found,
        }


def check(
    conn: sqlite3.Connection,
    backend: Backend,
    data_dir: str | Path,
    options: Options,
    progress: Progress | None = None,
) -> Report:
    """Find every kind of damage in KINDS; with `options.repair`, fix what REPAIRABLE says."""
    # Rows first, then the listing: a file placed in between is young (the grace period),
    # a row deleted in between with its file is asked again (_missing).
    rows = integrity.file_rows(conn)
    listing = backend.inventory()
    report = Report(backend.kind, len(rows), len(listing))
    now = time.time()
    _compare_files(conn, backend, rows, listing, report, options, progress, now)
    strays = backend.stray_uploads(older_than_s=options.stale_s)
    report.findings["stale_parts"] = [_stray_item(s, now) for s in strays]
    orphan_previews = previews.orphans(data_dir, {r.storage_path for r in rows})
    report.findings["orphan_previews"] = [
        {"path": str(p.relative_to(previews.folder(data_dir)))} for p in orphan_previews
    ]
    if options.repair:
        _repair_files(conn, backend, report, strays, orphan_previews, now)
    _derived(conn, report, options)
    return report


def _compare_files(
    conn: sqlite3.Connection,
    backend: Backend,
    rows: list[FileRow],
    listing: dict[str, StoredEntry],
    report: Report,
    options: Options,
    progress: Progress | None,
    now: float,
) -> None:
    """The rows against the listing (and against the in-place files where they are)."""
    found = report.findings
    stored_rows = {r.storage_path: r for r in rows if not r.external_path}
    found["missing"] = _missing(conn, backend, stored_rows, listing)
    referenced = {r.storage_path for r in rows}
    for relative in sorted(set(listing) - referenced):
        entry = listing[relative]
        item = {"path": relative, "size": entry.size, "age_s": round(now - entry.changed, 1)}
        old_enough = now - entry.changed >= options.grace_s
        (found["unreferenced"] if old_enough else report.recent).append(item)
    present = [r for path, r in stored_rows.items() if path in listing]
    wrong_size = [
        {"id": r.id, "path": r.storage_path, "expected": r.size, "actual": a}
        for r in present
        if (a := listing[r.storage_path].size) != r.size
    ]
    found["size_mismatch"] = _described(conn, wrong_size)
    gone, changed, intact = _in_place_sizes([r for r in rows if r.external_path])
    found["in_place_missing"] = _described(conn, gone)
    found["in_place_size_mismatch"] = _described(conn, changed)
    if options.verify_checksums:
        same_size = [r for r in present if listing[r.storage_path].size == r.size]
        stored_bad, placed_bad = _checksums(backend, same_size, intact, progress)
        found["checksum_mismatch"] = _described(conn, stored_bad)
        found["in_place_checksum_mismatch"] = _described(conn, placed_bad)


def _derived(conn: sqlite3.Connection, report: Report, options: Options) -> None:
    """Derived links and stored counts; with `repair`, recomputed (in batches)."""
    repair = options.repair
    drift = integrity.derived_drift(conn, repair=repair, batch=options.batch)
    report.findings["derived_links"] = drift["files"]
    report.findings["derived_empty"] = [{"table": t, "count": n} for t, n in drift["empty"].items()]
    report.findings["counts"] = integrity.count_drift(conn, repair=repair)
    if repair:
        report.repaired["derived_links"] = len(report.findings["derived_links"])
        report.repaired["derived_empty"] = report.count("derived_empty")
        report.repaired["counts"] = len(report.findings["counts"])


def _missing(
    conn: sqlite3.Connection,
    backend: Backend,
    stored_rows: dict[str, FileRow],
    listing: dict[str, StoredEntry],
) -> list[dict[str, Any]]:
    """Rows whose file the listing lacks, asked again one by one: a file deleted with its
    row while the check listed (an API delete) is no finding."""
    candidates = [r for path, r in stored_rows.items() if path not in listing]
    lost = [r for r in candidates if not backend.exists(r.storage_path)]
    return _described(conn, [{"id": r.id, "path": r.storage_path} for r in lost])


def _stray_item(stray: Stray, now: float) -> dict[str, Any]:
    item: dict[str, Any] = {"key": stray.key, "age_s": round(now - stray.started, 1)}
    if stray.upload_id:  # an S3 multipart upload
        item["upload_id"] = stray.upload_id
    return item


def _in_place_sizes(
    rows: list[FileRow],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[FileRow]]:
    """(gone, changed size, intact) among the in-place files."""
    gone, changed, intact = [], [], []
    for r in rows:
        path = Path(r.external_path or "")
        item: dict[str, Any] = {"id": r.id, "external_path": str(path)}
        try:
            size = path.stat().st_size if path.is_file() else None
        except OSError as error:  # a folder we may not read: as gone, with the reason
            gone.append({**item, "error": error.strerror})
            continue
        if size is None:
            gone.append(item)
        elif size != r.size:
            changed.append({**item, "expected": r.size, "actual": size})
        else:
            intact.append(r)
    return gone, changed, intact


def _checksums(
    backend: Backend,
    stored: list[FileRow],
    in_place: list[FileRow],
    progress: Progress | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The files among these whose sha256 is not their row's, read CHUNK at a time."""
    if progress is not None:
        progress.start(sum(r.size for r in stored) + sum(r.size for r in in_place))
    stored_bad = []
    for r in stored:
        actual = _sha256(lambda r=r: backend.open(r.storage_path), progress)
        if actual != r.checksum:
            stored_bad.append(
                {"id": r.id, "path": r.storage_path, "expected": r.checksum, "actual": actual}
            )
    placed_bad = []
    for r in in_place:
        path = Path(r.external_path or "")
        actual = _sha256(lambda path=path: path.open("rb"), progress)
        if actual != r.checksum:
            placed_bad.append(
                {"id": r.id, "external_path": str(path), "expected": r.checksum, "actual": actual}
            )
    return stored_bad, placed_bad


def _sha256(opener: Any, progress: Progress | None) -> str | None:
    """The hex sha256 of what `opener()` reads; None when it cannot be read (gone or an
    I/O error meanwhile: reported as a mismatch whose actual checksum is unknown)."""
    digest = hashlib.sha256()
    try:
        with opener() as reader:
            while piece := reader.read(CHUNK):
                digest.update(piece)
                if progress is not None:
                    progress.advance(len(piece))
    except OSError:
        return None
    return digest.hexdigest()


def _described(conn: sqlite3.Connection, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each finding about a row with that row's dataset and name; a row deleted meanwhile
    (the file went with it) is dropped."""
    known = integrity.describe(conn, [item["id"] for item in items])
    return [{**known[item["id"]], **item} for item in items if item["id"] in known]


def _repair_files(
    conn: sqlite3.Connection,
    backend: Backend,
    report: Report,
    strays: Iterable[Stray],
    orphan_previews: list[Path],
    now: float,
) -> None:
    folder = datetime.fromtimestamp(now, UTC).date().isoformat()
    moved = 0
    for item in report.findings["unreferenced"]:
        # Asked again: a row committed since the listing now owns the file.
        if integrity.referenced(conn, item["path"]):
            continue
        try:
            item["moved_to"] = backend.move_aside(item["path"], folder)
        except FileNotFoundError:  # removed meanwhile
            continue
        moved += 1
    report.lost_found = folder
    report.repaired["unreferenced"] = moved
    report.repaired["stale_parts"] = backend.remove_strays(strays)
    removed = 0
    for path in orphan_previews:
        path.unlink(missing_ok=True)
        removed += 1
    report.repaired["orphan_previews"] = removed
