"""One interface over where the bytes live: the local storage folder or an S3 bucket.

Callers (uploads, downloads, previews, packages, ingest, `storage check`) talk to a
`Backend` and never to a path or a bucket. A backend hands out `Writer`s that hash the
bytes as they flow and make them visible only at `place()`, readers of a whole stored file
or of a byte range, and the listing `storage check` compares with the rows. Storage paths
("relative" below) are the ones the rows hold: `<prefix>/<random token>`, never client text.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .ranged import RangedFile

# S3 refuses multipart parts under 5 MiB (but the last).
MIN_PART_SIZE = 5 * 1024 * 1024
# Where `check --repair` moves stored files no row refers to (Backend.move_aside): never a
# storage path (those are `<uuid>/<token>`), and left out of stored_paths and inventory.
LOST_FOUND = "lost+found"


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...

    def __enter__(self) -> Any: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
        /,
    ) -> Any: ...


@runtime_checkable
class Writer(Protocol):
    """An upload in progress: hashed (sha256) as it is written, invisible until placed.

    `discard()` after `place()` keeps the placed file; without `place()` it leaves nothing
    behind (no file, no object, no multipart upload). Writers are context managers that
    discard on exit, so an exception mid-stream loses nothing but the upload itself.
    """

    @property
    def size(self) -> int: ...  # bytes written so far

    @property
    def placed(self) -> bool: ...

    @property
    def checksum(self) -> str: ...

    def write(self, data: bytes, /) -> int: ...

    def finish(self) -> None: ...

    @property
    def destination(self) -> str | None: ...  # the `relative` it was made for, if any

    def place(self, relative: str) -> Any: ...

    def discard(self) -> None: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> Any: ...


@dataclass(frozen=True)
class Stray:
    """An upload that never completed: a temporary part file, or an S3 multipart upload
    (`upload_id`) or staging object left by a crash."""

    key: str  # the part's path under the storage root, or the object key
    started: float  # seconds since the epoch
    upload_id: str | None = None


@dataclass(frozen=True)
class StoredEntry:
    """A placed file as the storage lists it."""

    size: int
    # When the file got its current name or bytes (seconds since the epoch): a file just
    # placed by an upload whose row is not committed yet is this recent.
    changed: float


class Backend(ABC):
    """Where the stored files live. Missing files raise FileNotFoundError everywhere."""

    kind: str

    @abstractmethod
    def writer(self, relative: str | None = None) -> Writer:
        """A new upload. `relative`, when already known, is where `place()` will put it
        (S3 then streams straight under that key; otherwise the key is decided at place)."""

    @abstractmethod
    def open(self, relative: str) -> Readable:
        """A streaming reader of the whole stored file."""

    @abstractmethod
    def open_range(self, relative: str, start: int, length: int) -> Readable:
        """A streaming reader of at most `length` bytes from `start` (fewer at the end of the
        file, none past it)."""

    @abstractmethod
    def size(self, relative: str) -> int: ...

    @abstractmethod
    def exists(self, relative: str) -> bool: ...

    @abstractmethod
    def remove(self, relatives: Iterable[str]) -> None:
        """Remove stored files after their rows are gone; a missing one is not an error."""

    @abstractmethod
    def stored_paths(self) -> set[str]:
        """Every placed file's storage path (uploads in flight excluded)."""

    @abstractmethod
    def inventory(self) -> dict[str, StoredEntry]:
        """Every placed file's storage path with its size and change time, from one
        listing (uploads in flight and lost+found excluded)."""

    @abstractmethod
    def move_aside(self, relative: str, folder: str) -> str:
        """Move a stored file out of the stored files, to `lost+found/<folder>/<relative>`
        (a free name: nothing there is overwritten); returns where it went. The bytes are
        kept whole: this is for files no row refers to, which must not be deleted."""

    @abstractmethod
    def presigned_url(
        self,
        relative: str,
        disposition: str | None = None,
        content_type: str | None = None,
        expires_s: int | None = None,
    ) -> str | None:
        """A short-lived URL a client may GET the bytes from directly; None when the backend
        has no such thing (the local folder: the app or nginx sends the file)."""

    @abstractmethod
    def stray_uploads(self, older_than_s: float | None = None) -> list[Stray]:
        """Uploads that will never complete. See each backend for what `older_than_s` means."""

    @abstractmethod
    def remove_strays(self, strays: Iterable[Stray]) -> int:
        """Remove (or abort) the given strays; returns how many were removed."""

    def recorded_checksum(self, relative: str) -> str | None:
        """The sha256 recorded with the stored file when it was written, if the backend
        keeps one (an S3 object's `sha256` metadata, set by migrate-storage); None
        otherwise (the file has to be read to know it). FileNotFoundError if missing."""
        if not self.exists(relative):
            raise FileNotFoundError(relative)
        return None

    def local_path(self, relative: str) -> Path | None:
        """The stored file's path on this machine's disk, when it has one (the local
        folder: read it directly, hand it to nginx); None for an object in a bucket."""
        return None

    def ranged(self, relative: str, block_size: int | None = None) -> RangedFile:
        """A seekable read-only file over the stored file, fetched in ranges (ranged.py)."""
        from .ranged import RangedFile

        return RangedFile(self, relative, block_size=block_size)


class LimitedReader(io.RawIOBase):
    """At most `limit` bytes of `source`, which it closes with itself."""

    def __init__(self, source: Readable | None, limit: int) -> None:
        self._source = source
        self._left = max(limit, 0) if source is not None else 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._left <= 0 or self._source is None or not len(view):
            return 0
        data = self._source.read(min(len(view), self._left))
        view[: len(data)] = data
        self._left -= len(data)
        return len(data)

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None
        super().close()


def backend_from_config(config: Mapping[str, Any]) -> Backend:
    """The backend the settings name (ARCSEC_STORAGE): `file` (the default) or `s3`.

    Building an S3 backend makes a boto3 client but no request: nothing connects until the
    first use. Credentials come from boto3's usual sources (AWS_ACCESS_KEY_ID and
    AWS_SECRET_ACCESS_KEY in the environment, ~/.aws, an instance role).
    """
    kind = config.get("STORAGE", "file")
    if kind == "file":
        from .local_backend import LocalBackend

        # lost+found beside the storage folder, in the data folder (not among the files).
        data_dir = config.get("DATA_DIR")
        return LocalBackend(config["FILES_DIR"], Path(data_dir) / LOST_FOUND if data_dir else None)
    if kind == "s3":
        from .s3 import S3Backend, s3_client

        client = s3_client(config.get("S3_ENDPOINT_URL") or None, config.get("S3_REGION") or None)
        return S3Backend(
            client,
            config["S3_BUCKET"],
            part_size=int(config.get("S3_PART_SIZE") or MIN_PART_SIZE),
            presign_seconds=int(config.get("S3_PRESIGN_SECONDS", 300)),
        )
    raise ValueError(f"ARCSEC_STORAGE must be 'file' or 's3', not {kind!r}.")
