"""Filing an uploaded file: name checks, placement, header reading, then its row.

Order matters for "impossible to corrupt": the bytes are made durable and placed (renamed
into the storage folder, or the bucket's multipart upload completed) before the row is
committed, so a crash can leave an unreferenced file (which `storage check` finds) but
never a row without its file, nor a half-written visible file. A failure after the file
was placed removes it here, where it was placed.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ..domain.names import base_name
from ..headers import HeaderError, HeaderInfo, read_header, read_header_file
from ..headers.model import Compression
from ..repo import datafiles, datasets
from ..storage import Backend, RangedFile, Writer, new_relative_path


def file_upload(
    conn: sqlite3.Connection,
    backend: Backend,
    owner_id: int,
    fields: dict[str, Any],
    upload: Writer,
    filename: str | None,
    content_type: str | None,
) -> dict[str, Any]:
    """File one uploaded part into the dataset `fields["dataset"]`; returns the data file."""
    name = base_name(filename)
    dataset = datasets.writable(conn, owner_id, fields["dataset"])
    datafiles.check_name_free(conn, dataset, name)  # before placing anything
    upload.finish()
    relative = storage_path_for(upload, dataset)
    upload.place(relative)
    try:
        info, problem = stored_header(backend, relative, upload.size, name, content_type)
        stored = datafiles.StoredFile(name, relative, upload.size, upload.checksum)
        return datafiles.create(conn, owner_id, dataset, stored, info, fields, problem)
    except BaseException:
        backend.remove([relative])  # no row: the placed file goes too
        raise


def storage_path_for(upload: Writer, dataset: dict[str, Any]) -> str:
    """The writer's own destination when it was made for this dataset (the `dataset` field
    came first: an S3 upload is already under its final key), else a new one."""
    aimed = upload.destination
    if aimed and aimed.startswith(f"{dataset['uuid']}/"):
        return aimed
    return new_relative_path(dataset["uuid"])


def stored_header(
    backend: Backend, relative: str, size: int, name: str, content_type: str | None
) -> tuple[HeaderInfo, str | None]:
    """The header of a stored file, and the problem that made it unreadable (if so).

    A local file is read from its path; an object by ranged reads (a few GETs of the first
    blocks, or a zip's tail), never whole. Never refused for its content (docs/API.md §8):
    the client would retry, then abort the whole night's upload. A file whose header
    cannot be read is stored as sent, flagged, with no night log."""
    try:
        path = backend.local_path(relative)
        if path is not None:
            return read_header(path, name, content_type), None
        with RangedFile(backend, relative, size=size) as raw:
            return read_header_file(raw, size, name, content_type), None  # type: ignore[arg-type]
    except HeaderError as error:
        return unreadable(name), str(error)


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
