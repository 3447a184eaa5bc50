"""A streaming multipart/form-data parser: few copies of the bytes, and clear errors.

werkzeug's parser copies each chunk of a file part three or four times (into its buffer,
a bytearray slice, `bytes()`, a slice to look for a partial boundary), and the form
parser swallows its errors (no boundary, a wrong one, a header that is not UTF-8, a body
cut short) into an empty form, so that a client was told "dataset: Missing data for
required field". This parser reads the body into a few reused buffers (body.BufferRing;
under gunicorn straight from the socket, body.body_source), hands a file part's bytes on
as memoryview slices of them (lent to a writer that can take them, web/body.py), copies
only the few bytes a read leaves undecided (a boundary straddling two reads, a header
block cut by one) and a body's last, short read, and refuses a body it cannot read with
a 400 that says what is wrong with it.

RFC 7578 / RFC 2046: the body is `--boundary CRLF headers CRLF CRLF data`, each part's
data ending at `CRLF --boundary`, the last one at `CRLF --boundary--`. Transport padding
(spaces, tabs) may follow a boundary. A boundary-like line that is neither is data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import IO, Any

from werkzeug.datastructures import FileStorage, Headers, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header

from ..domain.errors import Invalid
from .body import BodySource, BufferRing, StreamSource

# One buffer: gunicorn's largest read step (MAX_READ_STEP) and recv(), for the plain
# stream; filled by as many recv_into as it takes from a socket.
READ_SIZE = 1024 * 1024
# A buffer is filled before it is parsed: the first one is small, so the parts' headers
# are read (and the file part's container made) as soon as they arrive.
FIRST_READ_SIZE = 64 * 1024
# Buffers a body may hold at once: a background writer's queue (storage.durability's
# BACKGROUND_QUEUE, 4), the piece it works on, and the one being filled.
RING_BUFFERS = 6
MAX_HEADER_BYTES = 16 * 1024  # one part's header block
MAX_PREAMBLE_BYTES = 64 * 1024  # what may precede the first boundary
MAX_PADDING = 16  # spaces or tabs after a boundary
CHARSETS = {"ascii", "us-ascii", "utf-8", "iso-8859-1"}  # werkzeug's safe list
FOLDED = re.compile(r"\r\n[ \t]+")

PREAMBLE, HEADERS, DATA_START, DATA = "preamble", "headers", "data start", "data"
EPILOGUE = "epilogue"
MORE, NEXT, CLOSE = "more", "next", "close"

StreamFactory = Callable[..., IO[bytes]]

# The Content-Disposition every client sends: a name and maybe a file name, quoted, with
# nothing werkzeug would decode (a backslash escape, %22, RFC 2231's `*=`, a charset).
# Read directly; any other form goes to werkzeug's parse_options_header, which gives
# these the same options (tests/web/test_multipart.py).
_QUOTED = r'"([^"\\%\r\n]*)"'
PLAIN_DISPOSITION = re.compile(f"form-data; name={_QUOTED}(?:; filename={_QUOTED})?")


def disposition_options(value: str) -> dict[str, str]:
    """The options of a part's Content-Disposition, as parse_options_header gives them."""
    plain = PLAIN_DISPOSITION.fullmatch(value)
    if plain is None:
        return parse_options_header(value)[1]
    name, filename = plain.groups()
    return {"name": name} if filename is None else {"name": name, "filename": filename}


class MalformedBody(Invalid):
    """The multipart body cannot be read as sent: a 400 that says why."""


class MultipartReader:
    """Parse one body: fields into memory (capped), file parts into `stream_factory`'s
    containers, written as memoryviews."""

    def __init__(
        self,
        stream_factory: StreamFactory,
        boundary: bytes,
        content_length: int | None,
        max_form_memory_size: int | None = None,
        max_form_parts: int | None = None,
        read_size: int = READ_SIZE,
    ) -> None:
        self.stream_factory = stream_factory
        self.read_size = read_size
        self.boundary = boundary
        self.delimiter = b"\r\n--" + boundary
        self.content_length = content_length
        self.max_field = max_form_memory_size
        self.max_parts = max_form_parts
        self.fields: list[tuple[str, str]] = []
        self.files: list[tuple[str, FileStorage]] = []
        self.received = 0
        self.state = PREAMBLE
        self._parts = 0
        self._part: tuple[str, str | None, Headers] | None = None
        self._container: Any = None
        self._field: list[bytes] = []
        self._field_size = 0
        self._skipped = 0
        self._lend: Callable[[], Callable[[], None]] | None = None

    def parse(
        self, stream: IO[bytes], source: BodySource | None = None
    ) -> tuple[MultiDict, MultiDict]:
        """Parse the body `stream`, read from `source` when given (body.body_source: the
        same bytes, from where they are cheapest to read)."""
        source = source if source is not None else StreamSource(stream)
        ring = BufferRing(self.read_size, RING_BUFFERS)
        # The first boundary has no CRLF before it: lend it one, so that every boundary
        # is found by the same search.
        left: bytes | bytearray = b"\r\n"
        size = min(FIRST_READ_SIZE, self.read_size)
        while True:
            if self.content_length is not None:
                # Never ask past the announced end: a small body ends after its first
                # read, with no second buffer made only to find it ended.
                size = min(size, self.content_length - self.received)
                if size <= 0:
                    break
            data, got, lent = self._read(source, ring, left, size)
            if not got:
                break
            self.received += got
            self._lend = ring.lend if lent else None
            pos = self._consume(data, pos=0)
            left, size = data[pos:], self.read_size  # a copy, of the few bytes left
        self._lend = None
        self._finish()
        return MultiDict(self.fields), MultiDict(self.files)

    @staticmethod
    def _read(
        source: BodySource, ring: BufferRing, left: bytes | bytearray, size: int
    ) -> tuple[bytes | bytearray, int, bool]:
        """The bytes left over from the last read, then up to `size` more: (the data, how
        many are new, whether the data is a ring buffer, to lend pieces of). A full
        buffer is the common case; the first read, the body's last (short) one, and a
        leftover too large for the buffer (tiny test buffers) are copies."""
        if len(left) * 2 <= size == ring.size:
            buffer, view = ring.next()
            view[: len(left)] = left
            got = _fill(source, view[len(left) :])
            if len(left) + got == len(buffer):
                return buffer, got, True
            return bytes(view[: len(left) + got]), got, False
        # One buffer, the leftover first: no copy of the new bytes.
        piece = bytearray(len(left) + size)
        piece[: len(left)] = left
        got = _fill(source, memoryview(piece)[len(left) :])
        if got < size:  # the body's last, short read
            return bytes(piece[: len(left) + got]), got, False
        return piece, got, False

    def _consume(self, data: bytes | bytearray, pos: int) -> int:
        """Handle what `data[pos:]` holds; returns where the next read must continue."""
        while True:
            if self.state == EPILOGUE:
                return len(data)  # ignored, as RFC 2046 says
            if self.state == HEADERS:
                start = self._headers(data, pos)
                if start is None:
                    return pos
                pos = start
                continue
            if self.state == DATA_START:
                # The CRLF ending the headers may also begin the delimiter of an empty
                # part (werkzeug's own encoder writes it so).
                rest = len(data) - pos
                if rest < len(self.delimiter) and self.delimiter.startswith(data[pos:]):
                    return pos  # not known yet: the delimiter may be cut by the read
                found = self._next_boundary(data, pos)
                if found is not None and found[0] == pos and found[1] == MORE:
                    return pos
                self.state = DATA
                if found is None or found[0] != pos:
                    pos += 2
                    continue
            found = self._next_boundary(data, pos)
            if found is None or found[1] == MORE:
                end = self._safe_end(data, pos) if found is None else found[0]
                self._emit(data, pos, end)
                return end
            at, kind, after = found
            self._emit(data, pos, at)
            if self.state == DATA:
                self._end_part()
            self.state = EPILOGUE if kind == CLOSE else HEADERS
            pos = after

    def _next_boundary(self, data: bytes | bytearray, pos: int) -> tuple[int, str, int] | None:
        at = data.find(self.delimiter, pos)
        while at != -1:
            kind, after = self._boundary_end(data, at + len(self.delimiter))
            if kind is not None:
                return at, kind, after
            at = data.find(self.delimiter, at + 1)
        return None

    @staticmethod
    def _boundary_end(data: bytes | bytearray, j: int) -> tuple[str | None, int]:
        """What follows a delimiter at `j`: the last one (`--`), another part (padding and
        CRLF), not a boundary at all (None), or not known yet (MORE)."""
        n = len(data)
        if data[j : j + 2] == b"--":
            return CLOSE, j + 2
        if j == n - 1 and data[j : j + 1] == b"-":
            return MORE, j
        k = j
        while k < n and k - j <= MAX_PADDING and data[k] in (0x20, 0x09):
            k += 1
        if k - j > MAX_PADDING:
            return None, j
        if data[k : k + 2] == b"\r\n":
            return NEXT, k + 2
        if k == n or (k == n - 1 and data[k] == 0x0D):
            return MORE, j
        return None, j

    def _safe_end(self, data: bytes | bytearray, pos: int) -> int:
        """Up to where `data[pos:]` is surely part data: a tail that may be the start of
        the next delimiter is kept for the next read."""
        n = len(data)
        k = data.find(b"\r", max(pos, n - len(self.delimiter) + 1))
        while k != -1:
            if self.delimiter.startswith(data[k:]):
                return k
            k = data.find(b"\r", k + 1)
        return n

    def _emit(self, data: bytes | bytearray, start: int, end: int) -> None:
        if end <= start:
            return
        if self.state == PREAMBLE:
            self._skipped += end - start
            if self._skipped > MAX_PREAMBLE_BYTES:
                raise self._no_boundary()
        elif self._container is not None:
            piece = memoryview(data)[start:end]
            write_lent = getattr(self._container, "write_lent", None)
            if self._lend is not None and write_lent is not None:
                write_lent(piece, self._lend())
            else:
                self._container.write(piece)
        else:
            self._field_size += end - start
            if self.max_field is not None and self._field_size > self.max_field:
                raise RequestEntityTooLarge()
            self._field.append(data[start:end])

    def _headers(self, data: bytes | bytearray, pos: int) -> int | None:
        """Read one part's header block at `pos`; returns where the CRLF before its data
        starts, or None until the block is complete."""
        if data.startswith(b"\r\n", pos):
            end, start = pos, pos
        else:
            end = data.find(b"\r\n\r\n", pos)
            if end == -1:
                if len(data) - pos > MAX_HEADER_BYTES:
                    raise MalformedBody(
                        f"A part's headers run past {MAX_HEADER_BYTES} bytes without the "
                        "blank line that ends them."
                    )
                return None
            start = end + 2  # at the blank line's CRLF: see DATA_START
        self._start_part(_parse_headers(data[pos:end]))
        self.state = DATA_START
        return start

    def _start_part(self, headers: Headers) -> None:
        disposition = headers.get("Content-Disposition")
        if disposition is None:
            raise MalformedBody("A part of the multipart body has no Content-Disposition header.")
        options = disposition_options(disposition)
        name, filename = options.get("name"), options.get("filename")
        if name is None:
            raise MalformedBody(
                "A part's Content-Disposition header gives no field name (name=...)."
            )
        self._parts += 1
        if self.max_parts is not None and self._parts > self.max_parts:
            raise RequestEntityTooLarge()
        self._part = (name, filename, headers)
        self._field, self._field_size = [], 0
        if filename is not None:
            self._container = self.stream_factory(
                total_content_length=self.content_length,
                filename=filename,
                content_type=headers.get("Content-Type"),
                content_length=_int_or_zero(headers.get("Content-Length")),
            )

    def _end_part(self) -> None:
        assert self._part is not None
        name, filename, headers = self._part
        if self._container is not None:
            if hasattr(self._container, "seek"):  # an S3 writer is write-only
                self._container.seek(0)
            self.files.append((name, FileStorage(self._container, filename, name, headers=headers)))
            self._container = None
        else:
            value = b"".join(self._field).decode(_charset(headers), "replace")
            self.fields.append((name, value))
        self._part = None

    def _finish(self) -> None:
        """At the end of the body: it must have been whole, and closed by its boundary."""
        if self.content_length is not None and self.received < self.content_length:
            raise MalformedBody(
                f"The body ended after {self.received} of the {self.content_length} bytes "
                "its Content-Length announced: nothing was stored."
            )
        if self.state == PREAMBLE:
            raise self._no_boundary()
        if self.state != EPILOGUE:
            raise MalformedBody(
                "The multipart body ended before its closing boundary "
                f"(--{_shown(self.boundary)}--): nothing was stored."
            )

    def _no_boundary(self) -> MalformedBody:
        return MalformedBody(
            "The body does not start with the multipart boundary its Content-Type names "
            f"(--{_shown(self.boundary)})."
        )


def _fill(source: BodySource, view: memoryview) -> int:
    """Fill `view` from `source`; fewer bytes only at the end of the body."""
    filled = 0
    while filled < len(view):
        got = source.readinto(view[filled:])
        if not got:
            break
        filled += got
    return filled


def _parse_headers(block: bytes | bytearray) -> Headers:
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody(
            "A part's headers are not valid UTF-8: send the file name as UTF-8 "
            "(or as filename*=UTF-8''...)."
        ) from None
    headers = Headers()
    for line in FOLDED.sub(" ", text).split("\r\n"):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise MalformedBody(f"A part's header line is not 'Name: value': {line[:80]!r}.")
        headers.add(name.strip(" \t"), value.strip(" \t"))
    return headers


def _charset(headers: Headers) -> str:
    content_type = headers.get("Content-Type")
    if content_type:
        charset = parse_options_header(content_type)[1].get("charset", "").lower()
        if charset in CHARSETS:
            return charset
    return "utf-8"


def _int_or_zero(value: str | None) -> int:
    return int(value) if value and value.isascii() and value.isdigit() else 0


def _shown(boundary: bytes) -> str:
    return boundary[:70].decode("ascii", "replace")
