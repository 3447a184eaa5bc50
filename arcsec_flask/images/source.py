"""The bytes of an upload as the renderers read them: forward, in bounded pieces.

A plain file is read with ordinary reads into a reused buffer, not memory-mapped: the pages
of a mapped file count in the process's RSS (reading a 200 MB frame through astropy's memmap
and `.section` grew RSS by 220 MB, `.section` without memmap by 41 MB; bench/previews.py's
baseline, getdata, shows 201 MB), while pages read into a buffer stay in the page cache.
A decompressed stream (gzip, bzip2, zip) can only go forward: skipping decompresses and
drops what it skips.
"""

import io

import numpy as np

from ..headers.unwrap import Readable

SKIP_SIZE = 1 << 20


class PreviewError(Exception):
    """The file has no image that can be previewed; the message says why (for the log)."""


class Source:
    """Reads exactly what is asked or raises PreviewError, and knows where it is."""

    def __init__(
        self, stream: Readable, size: int | None, raw: io.BufferedReader | None = None
    ) -> None:
        """`raw`: the open plain file, when the content is not compressed (it can seek);
        `stream`: otherwise, the decompressed content. `size`: the content's, when known."""
        self._stream = stream
        self._raw = raw
        self.size = size
        self.position = 0

    @property
    def seekable(self) -> bool:
        return self._raw is not None

    def read(self, size: int) -> bytes:
        """Exactly `size` bytes, or PreviewError when the content ends first."""
        data = self._raw.read(size) if self._raw is not None else self._stream.read(size)
        self.position += len(data)
        if len(data) < size:
            raise PreviewError(f"the file is truncated: it ends {size - len(data):,} bytes short")
        return data

    def read_into(self, out: np.ndarray) -> np.ndarray:
        """Fill `out` (a contiguous array) with the next bytes; PreviewError when the content
        ends first. A plain file is read straight into it: no bytes object, no copy."""
        view = out.data.cast("B")
        if self._raw is None:
            data = self._stream.read(len(view))
            view[: len(data)] = data
            done = len(data)
        else:
            done = 0
            while done < len(view):
                count = self._raw.readinto(view[done:])
                if not count:
                    break
                done += count
        self.position += done
        if done < len(view):
            raise PreviewError(f"the file is truncated: it ends {len(view) - done:,} bytes short")
        return out

    def read_upto(self, size: int) -> bytes:
        """At most `size` bytes: fewer only at the end of the content."""
        data = self._raw.read(size) if self._raw is not None else self._stream.read(size)
        self.position += len(data)
        return data

    def skip_to(self, position: int) -> None:
        """Go forward to `position` (a stream cannot go back: PreviewError)."""
        if position < self.position:
            raise PreviewError(f"data at offset {position:,} lies before the current position")
        if self.size is not None and position > self.size:
            raise PreviewError(f"data at offset {position:,} lies beyond the end of the file")
        if self._raw is not None:
            self._raw.seek(position)
            self.position = position
            return
        while self.position < position:
            self.read(min(SKIP_SIZE, position - self.position))

    def require(self, end: int) -> None:
        """PreviewError now, before any work, when the content is known to end before `end`."""
        if self.size is not None and end > self.size:
            raise PreviewError(
                f"the file is truncated: its data needs {end:,} bytes, the file holds {self.size:,}"
            )
