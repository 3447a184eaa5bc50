"""An upload's body read into buffers the multipart parser reuses: as few copies as the
server allows.

Under gunicorn, a body of known length (Content-Length, not chunked) is read with
`recv_into` straight from the connection's socket into the parser's buffer. gunicorn's
own read() recv()s a new bytes object for each piece and copies it through two BytesIO
buffers: for 1 GiB about 2.5 s of CPU, mostly page faults on those fresh allocations,
against 0.3 s for recv_into a reused buffer. The bytes gunicorn read ahead with the
request's headers come first, and gunicorn's reader is told how much of the body was
taken, so that its end-of-request drain and keep-alive see the body as read (a body
cut short leaves the rest owed: the connection is then closed, as with its own reads).

Any other server or body (werkzeug's test client, a chunked body, a body something
already began to read): the WSGI stream's read(), copied into the buffer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import IO, Any, Protocol

from werkzeug.exceptions import ClientDisconnected

try:
    from gunicorn.http.body import Body as _GunicornBody
    from gunicorn.http.body import LengthReader as _LengthReader
    from gunicorn.http.unreader import SocketUnreader as _SocketUnreader
except ImportError:  # served by something else: the plain stream it is
    _GunicornBody = _LengthReader = _SocketUnreader = None  # type: ignore[assignment, misc]


class BodySource(Protocol):
    def readinto(self, buffer: memoryview, /) -> int: ...  # 0 at the end of the body


class StreamSource:
    """The WSGI stream's read(), copied into the caller's buffer."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream

    def readinto(self, buffer: memoryview) -> int:
        data = self.stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class SocketSource:
    """The rest of a gunicorn request body of known length, from its socket."""

    def __init__(self, body: Any, sock: Any, ahead: bytes) -> None:
        self.body = body
        self.reader = body.reader  # gunicorn's LengthReader: `length` is what is still owed
        self.sock = sock
        self.ahead = memoryview(ahead)

    def readinto(self, buffer: memoryview) -> int:
        wanted = min(len(buffer), self.reader.length)
        if wanted <= 0:
            return 0
        if self.ahead:
            got = min(wanted, len(self.ahead))
            buffer[:got] = self.ahead[:got]
            self.ahead = self.ahead[got:]
        else:
            try:
                got = self.sock.recv_into(buffer, wanted)
            except OSError as error:  # reset, timeout: the client's doing, as with gunicorn's
                self.body.failed = True  # as its own reads mark it: the connection closes
                raise ClientDisconnected() from error
        self.reader.length -= got
        return got


def body_source(environ: dict, stream: IO[bytes]) -> BodySource:
    """Where the parser reads `stream`, the request's body, from: its gunicorn socket
    when that is safe (see the module's docstring), else the stream itself."""
    body = environ.get("wsgi.input")
    if (
        _GunicornBody is not None
        and _unwrapped(stream) is body
        and isinstance(body, _GunicornBody)
        and type(body.reader) is _LengthReader
        and isinstance(body.reader.unreader, _SocketUnreader)
        and hasattr(body.reader.unreader, "take_buffered")
        and body.buf.tell() == 0  # nothing of the body read yet through gunicorn
    ):
        reader = body.reader
        unreader = reader.unreader
        buffered = unreader.take_buffered()
        # Past the body's end: a pipelined next request, handed back to gunicorn.
        if len(buffered) > reader.length:
            unreader.unread(buffered[reader.length :])
            buffered = buffered[: reader.length]
        return SocketSource(body, unreader.sock, buffered)
    return StreamSource(stream)


def _unwrapped(stream: Any) -> Any:
    """The stream inside our ClientDisconnected wrapper (multipart._RequestBody)."""
    return getattr(stream, "wrapped", stream)


class BufferRing:
    """Read buffers of one size, reused in turn. A piece of a buffer lent to a writer
    (`lend`) keeps that buffer from being refilled until the writer returns it (the
    release function `lend` gives, called once): a background writer can hash and write
    from the buffer the body was read into, no copy. At most `count` buffers are made,
    and only as many as the writers hold at once (a small upload uses one)."""

    def __init__(self, size: int, count: int) -> None:
        self.size = size
        self.count = count
        self._buffers: list[bytearray] = []
        self._lent: list[int] = []
        self._current = -1
        self._returned = threading.Condition()

    def next(self) -> tuple[bytearray, memoryview]:
        """The next buffer to fill (and a view of it): a free one, a new one, or else the
        oldest, once it is returned."""
        with self._returned:
            free = [i for i, lent in enumerate(self._lent) if not lent]
            if free:
                index = min(free, key=lambda i: (i - self._current - 1) % len(self._lent))
            elif len(self._buffers) < self.count:
                self._buffers.append(bytearray(self.size))
                self._lent.append(0)
                index = len(self._buffers) - 1
            else:
                index = (self._current + 1) % len(self._buffers)
                self._returned.wait_for(lambda: not self._lent[index])
            self._current = index
        buffer = self._buffers[index]
        return buffer, memoryview(buffer)

    def lend(self) -> Callable[[], None]:
        """Lend a piece of the current buffer: the function returns it (once)."""
        index = self._current
        with self._returned:
            self._lent[index] += 1
        returned = False

        def release() -> None:
            nonlocal returned
            with self._returned:
                if not returned:
                    returned = True
                    self._lent[index] -= 1
                    self._returned.notify_all()

        return release
