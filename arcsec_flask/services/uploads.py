"""Filing an uploaded file: name checks, header reading, placement, then its row.

Order matters for "impossible to corrupt": the bytes are fsynced and renamed into place
before the row is committed, so a crash can leave an unreferenced file (which `storage
check` finds) but never a row without its file, nor a half-written visible file. A failure
after the file was placed removes it here, where it was placed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from .. import storage
from ..domain.names import base_name
from ..headers import HeaderError, HeaderInfo, read_header
from ..headers.model import Compression
from ..repo import datafiles, datasets
from ..storage import StreamingFile


def file_upload(
    conn: sqlite3.Connection,
    files_dir: str | Path,
    owner_id: int,
    fields: dict[str, Any],
    upload: StreamingFile,
    filename: str | None,
    content_type: str | None,
) -> dict[str, Any]:
    """File one uploaded part into the dataset `fields["dataset"]`; returns the data file."""
    name = base_name(filename)
    dataset = datasets.writable(conn, owner_id, fields["dataset"])
    datafiles.check_name_free(conn, dataset, name)  # before reading any header
    upload.finish()
    try:
        info, problem = read_header(upload.path, name, content_type), None
    except HeaderError as error:
        # Never refused for its content (docs/API.md §8): the client would retry, then
        # abort the whole night's upload. Stored as sent, flagged, with no night log.
        info, problem = unreadable(name), str(error)
    relative = storage.new_relative_path(dataset["uuid"])
    upload.place(files_dir, relative)
    stored = datafiles.StoredFile(name, relative, upload.size, upload.checksum)
    try:
        return datafiles.create(conn, owner_id, dataset, stored, info, fields, problem)
    except BaseException:
        storage.remove(files_dir, [relative])  # no row: the placed file goes too
        raise


COMPRESSIONS: dict[str, Compression] = {
    ".gz": "gzip",
    ".gzip": "gzip",
    ".bz2": "bzip2",
    ".bzip2": "bzip2",
    ".zip": "zip",
}


def unreadable(name: str) -> HeaderInfo:
    """What is known of a file that claims to be FITS or XISF but whose header could not be
    read: its kind, by name (XISF is told by its signature, so a failed XISF is rare), and
    its compression."""
    lower = name.lower()
    compression = next((c for ext, c in COMPRESSIONS.items() if lower.endswith(ext)), None)
    stem = lower.rsplit(".", 1)[0] if compression else lower
    return HeaderInfo(format="xisf" if stem.endswith(".xisf") else "fits", compression=compression)
