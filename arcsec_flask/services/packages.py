"""Data package archives: the stored files of a package's datasets as one streamed zip."""

from __future__ import annotations

import functools
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..repo import datapackages
from ..storage import Backend

if TYPE_CHECKING:
    from .archives import Archive
else:
    Archive = Any


def archive_of(conn: sqlite3.Connection, backend: Backend, package: dict[str, Any]) -> Any:
    """The package's zip: entries `<dataset name>/<file name>`, stored as they are."""
    from .archives import Archive, Entry, entry_names

    files = datapackages.archive_files(conn, package["id"])
    names = entry_names((f["dataset_name"], f["name"]) for f in files)
    entries = []
    for arcname, f in zip(names, files, strict=True):
        relative = f["storage_path"]
        path = Path(f["external_path"]) if f["external_path"] else backend.local_path(relative)
        entries.append(
            Entry(
                arcname=arcname,
                path=path,
                size=f["size"],
                modified=datetime.fromisoformat(f["creation_date"].replace("Z", "+00:00")),
                open=None if path else functools.partial(backend.open, relative),
                version=relative,
            )
        )
    return Archive(entries)


def disposition(package_name: str) -> str:
    """Content-Disposition of a package's zip: its name, in ASCII and in UTF-8."""
    from .archives import archive_name

    name = archive_name(package_name)
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
