"""A seekable read-only file over a stored file, fetched in byte ranges as it is read.

The header reader (gzip, bz2, zipfile, FITS blocks, the XISF XML) needs only the first
blocks of a file, and for a zip its tail: reading them through this costs a few ranged
GETs, never the whole object. Each fetch reads ahead at least `block_size` bytes; the
last block fetched is kept, so small reads and short seeks back cost nothing more.
"""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .backend import Backend

DEFAULT_BLOCK_SIZE = 256 * 1024


class RangedFile(io.RawIOBase):
    """`requests` counts the requests made (the size lookup and every range), `fetched`
    the bytes they brought."""

    def __init__(
        self,
        backend: Backend,
        relative: str,
        size: int | None = None,
        block_size: int | None = None,
    ) -> None:
        self._backend = backend
        self._relative = relative
        self.block_size = block_size or DEFAULT_BLOCK_SIZE
        self.requests = 0
        self.fetched = 0
        if size is None:
            self.requests += 1
            size = backend.size(relative)
        self.size = size
        self._position = 0
        self._block = b""
        self._block_start = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            position = offset
        elif whence == os.SEEK_CUR:
            position = self._position + offset
        elif whence == os.SEEK_END:
            position = self.size + offset
        else:
            raise ValueError(f"Invalid whence ({whence}).")
        if position < 0:
            raise OSError(f"Negative seek position {position}.")
        self._position = position
        return position

    def readinto(self, buffer: Any) -> int:
        """Fills `buffer` whole unless the file ends first (zipfile expects full reads)."""
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and self._position < self.size:
            offset = self._position - self._block_start
            if not 0 <= offset < len(self._block):
                self._fetch(len(view) - filled)
                offset = 0
            chunk = self._block[offset : offset + len(view) - filled]
            if not chunk:  # the object is shorter than it said: stop, don't spin
                break
            view[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
            self._position += len(chunk)
        return filled

    def _fetch(self, wanted: int) -> None:
        length = min(max(self.block_size, wanted), self.size - self._position)
        self.requests += 1
        with self._backend.open_range(self._relative, self._position, length) as reader:
            self._block = reader.read()
        self.fetched += len(self._block)
        self._block_start = self._position

    def close(self) -> None:
        self._block = b""
        super().close()
