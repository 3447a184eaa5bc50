"""Where the bytes live: the storage folder of the data directory.

Uploads stream into temporary files in the folder (hashed as they arrive), are fsynced
and renamed into place; storage paths are made here from random tokens, never from
client text. `Backend` (backend.py) is the one interface over the local folder
(local_backend.py) and an S3 bucket (s3.py, loaded only when configured);
`backend_from_config` picks one from the settings.
"""

from .backend import (
    LOST_FOUND,
    MIN_PART_SIZE,
    Backend,
    Readable,
    StoredEntry,
    Stray,
    Writer,
    backend_from_config,
)
from .durability import sync_counts, sync_directory
from .local import (
    TMP,
    StorageFull,
    StreamingFile,
    absolute,
    location,
    new_relative_path,
    remove,
    remove_unfinished,
    stale_parts,
    stored_paths,
    sweep_stale_parts,
)
from .local_backend import LocalBackend
from .ranged import RangedFile

__all__ = [
    "LOST_FOUND",
    "MIN_PART_SIZE",
    "TMP",
    "Backend",
    "LocalBackend",
    "RangedFile",
    "Readable",
    "StorageFull",
    "StoredEntry",
    "Stray",
    "StreamingFile",
    "Writer",
    "absolute",
    "backend_from_config",
    "location",
    "new_relative_path",
    "remove",
    "remove_unfinished",
    "stale_parts",
    "stored_paths",
    "sweep_stale_parts",
    "sync_counts",
    "sync_directory",
]
