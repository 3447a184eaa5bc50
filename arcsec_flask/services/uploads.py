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
from ..domain.errors import Invalid
from ..domain.names import base_name
from ..headers import HeaderError, read_header
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
        info = read_header(upload.path, name, content_type)
    except HeaderError as error:
        detail = f"Could not read the header of '{name}': {error}"
        raise Invalid(detail, {"file": [str(error)]}) from error
    relative = storage.new_relative_path(dataset["uuid"])
    upload.place(files_dir, relative)
    stored = datafiles.StoredFile(name, relative, upload.size, upload.checksum)
    try:
        return datafiles.create(conn, owner_id, dataset, stored, info, fields)
    except BaseException:
        storage.remove(files_dir, [relative])  # no row: the placed file goes too
        raise
