"""Previews of data files: a PNG made once per stored file and kept in the data folder.

`<DATA_DIR>/previews/<storage path>.<version>.png` holds the preview of the stored file at
`<storage path>`; `<storage path>.<version>.none` records that the file has no image to show
(a FITS table only, damaged pixels), so that it is not read again on every request. Both are
written atomically (a temporary file renamed into place): two workers making the same
preview at once each write a whole file and the last rename wins, with the same bytes.

Nothing here touches the database: the caller reads the row first, and rendering (which
may take a second for a large frame) holds no transaction, let alone a write lock.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import storage
from ..domain.errors import NotFound
from ..images import MAX_SIZE, render_preview

log = logging.getLogger(__name__)

FOLDER = "previews"
# Part of every cached name and of the ETag: raise it when render_preview draws differently,
# so that old previews are neither served nor matched by a browser's If-None-Match.
VERSION = "v1"
TMP_PREFIX = ".preview-"
NOT_AN_IMAGE = "This data file has no image to preview (it is not a FITS or XISF file)."
UNREADABLE = "This data file's header could not be read: it has no preview."
STALE_TMP_S = 3600  # a temporary file older than this is a crashed worker's leftover
NO_IMAGE = "This data file holds no image that can be previewed (no 2-D image, or damaged)."


@dataclass(frozen=True)
class Preview:
    """A preview ready to send: the PNG's path and its strong ETag (without quotes)."""

    path: Path
    etag: str


def folder(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / FOLDER


def can_have_preview(datafile: dict[str, Any]) -> bool:
    """Whether a data file may have a preview at all: FITS or XISF, header not flagged.
    (One that may can still turn out to have none: a table only, damaged pixels.)"""
    return datafile["format"] != "other" and datafile["header_status"] != "unreadable"


def preview_of(
    data_dir: str | os.PathLike[str], files_dir: str | os.PathLike[str], datafile: dict[str, Any]
) -> Preview:
    """The data file's preview, made now unless it was made before; NotFound when there is
    none (not FITS/XISF, flagged header, no 2-D image or damaged pixels)."""
    if datafile["format"] == "other":
        raise NotFound(NOT_AN_IMAGE)
    if datafile["header_status"] == "unreadable":
        raise NotFound(UNREADABLE)
    png, none = _cached(data_dir, datafile["storage_path"])
    found = Preview(png, f"{datafile['checksum'][:32]}-{VERSION}")
    if png.is_file():
        return found
    if none.is_file():
        raise NotFound(NO_IMAGE)
    stored = storage.location(files_dir, datafile)  # where it is, for one ingested in place
    rendered = render_preview(stored, datafile["name"], datafile["content_type"], MAX_SIZE)
    if rendered is None:
        _write_atomically(none, b"")
        raise NotFound(NO_IMAGE)
    _write_atomically(png, rendered)
    return found


def discard(data_dir: str | os.PathLike[str], storage_paths: Iterable[str]) -> None:
    """Remove what was cached for these stored files (after their rows are gone); nothing
    cached is not an error."""
    for relative in storage_paths:
        base = folder(data_dir) / relative
        # Every version's files: <token>.v1.png, <token>.v1.none... (tokens are hex).
        for path in base.parent.glob(f"{base.name}.*") if base.parent.is_dir() else []:
            try:
                path.unlink(missing_ok=True)
            except OSError:
                log.exception("Could not remove preview %s", path)


def orphans(data_dir: str | os.PathLike[str], storage_paths: set[str]) -> list[Path]:
    """Cached previews (and leftover temporary files) of no stored file in `storage_paths`."""
    root = folder(data_dir)
    if not root.is_dir():
        return []
    found, cutoff = [], time.time() - STALE_TMP_S
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name.startswith(TMP_PREFIX):  # being written, unless it is old
            if path.stat().st_mtime < cutoff:
                found.append(path)
            continue
        relative = str(path.relative_to(root))
        if relative.rsplit(".", 2)[0] not in storage_paths:
            found.append(path)
    return found


def _cached(data_dir: str | os.PathLike[str], storage_path: str) -> tuple[Path, Path]:
    # Storage paths are ours (<uuid>/<hex token>), never client text: safe to join.
    base = folder(data_dir) / storage_path
    return base.with_name(f"{base.name}.{VERSION}.png"), base.with_name(
        f"{base.name}.{VERSION}.none"
    )


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=TMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(name, 0o644)
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
