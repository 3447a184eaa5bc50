"""Where the bytes live: the storage folder of the data directory.

Uploads stream into temporary files in the folder (hashed as they arrive), are fsynced
and renamed into place; storage paths are made here from random tokens, never from
client text.
"""

from .local import (
    TMP,
    StorageFull,
    StreamingFile,
    absolute,
    new_relative_path,
    remove,
    stale_parts,
    stored_paths,
    sweep_stale_parts,
    sync_counts,
    sync_directory,
)

__all__ = [
    "TMP",
    "StorageFull",
    "StreamingFile",
    "absolute",
    "new_relative_path",
    "remove",
    "stale_parts",
    "stored_paths",
    "sweep_stale_parts",
    "sync_counts",
    "sync_directory",
]
