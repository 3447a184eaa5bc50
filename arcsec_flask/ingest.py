"""Filing an uploaded file: name checks, header reading, placement, row, derived data.

Order matters for "impossible to corrupt": the bytes are fsynced and renamed into
place before the row is committed, so a crash can leave an unreferenced file (which
nothing shows) but never a row without its file, nor a half-written visible file.
"""

from __future__ import annotations

import json
import math
import mimetypes
import sqlite3
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .exceptions import Conflict, Invalid
from .headers import Card, HeaderError, read_header
from .repo import datafiles
from .repo.common import reference
from .storage import StreamingFile, new_relative_path

MAX_NAME_BYTES = 255
CONTENT_TYPES = {
    ("fits", None): "image/fits",
    ("xisf", None): "application/xisf",
    (None, "gzip"): "application/gzip",
    (None, "bzip2"): "application/x-bzip2",
    (None, "zip"): "application/zip",
}


def base_name(filename: str | None) -> str:
    """The client's file name without any folder part; refuses names that are not one."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    if name in ("", ".", ".."):
        raise Invalid("The file needs a name.", {"file": ["The file has no usable name."]})
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise Invalid(
            "File names may not hold NUL or control characters.",
            {"file": ["The file name holds control characters."]},
        )
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise Invalid("The file name is too long.", {"file": ["At most 255 bytes."]})
    return name


def content_type_of(name: str, file_format: str, compression: str | None) -> str:
    if compression:
        return CONTENT_TYPES[(None, compression)]
    if file_format != "other":
        return CONTENT_TYPES[(file_format, None)]
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def create_from_upload(
    conn: sqlite3.Connection,
    files_dir: str | Path,
    owner_id: int,
    fields: dict[str, Any],
    upload: StreamingFile,
    filename: str | None,
    content_type: str | None,
) -> dict[str, Any]:
    """File one uploaded part into a dataset; returns the new data file."""
    name = base_name(filename)
    dataset_id = reference(conn, "datasets", owner_id, "dataset", fields["dataset"])
    dataset = {"id": dataset_id, "uuid": fields["dataset"]}
    if datafiles.name_taken(conn, dataset_id, name):  # early, before reading any header
        raise Conflict(datafiles.DUPLICATE.format(name=name, dataset=fields["dataset"]))
    upload.finish()
    try:
        info = read_header(upload.path, name, content_type)
    except HeaderError as error:
        detail = f"Could not read the header of '{name}': {error}"
        raise Invalid(detail, {"file": [str(error)]}) from error
    relative = new_relative_path(fields["dataset"])
    upload.place(files_dir, relative)
    row = {
        "name": name,
        "storage_path": relative,
        "size": upload.size,
        "checksum": upload.checksum,
        "content_type": content_type_of(name, info.format, info.compression),
        "is_raw": int(fields.get("is_raw", True)),
        "tags": json.dumps(list(dict.fromkeys(fields.get("tags") or []))),
        "format": info.format,
        "compression": info.compression,
        "header": json.dumps([_card(card) for card in info.cards], allow_nan=False),
        "date_obs": _iso(info.date_obs),
        "frame_kind": info.frame.kind if info.frame else None,
        "calibration_type": info.frame.calibration_type if info.frame else None,
        "target_name": info.target_name,
    }
    try:
        return datafiles.insert(conn, owner_id, dataset, row)
    except BaseException:
        upload.placed = False  # the row is not there: the file must go too
        raise


def _iso(instant: datetime | None) -> str | None:
    if instant is None:
        return None
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _card(card: Card) -> dict[str, Any]:
    value = card.value
    if isinstance(value, float) and not math.isfinite(value):
        value = str(value)  # JSON has no NaN or infinity
    return {"key": card.key, "value": value, "comment": card.comment}
