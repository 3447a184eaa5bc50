"""web/body.py: a gunicorn body read from its socket (gunicorn's own classes over a real
socket pair), the fallbacks, and the ring of buffers lent to writers."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import time
from pathlib import Path

import pytest
from gunicorn.http.body import Body, ChunkedReader, LengthReader
from gunicorn.http.unreader import SocketUnreader
from werkzeug.exceptions import ClientDisconnected
from werkzeug.wsgi import LimitedStream

from arcsec_flask.storage import StreamingFile
from arcsec_flask.web.body import BufferRing, SocketSource, StreamSource, body_source


@pytest.fixture
def pair():
    ours, peer = socket.socketpair()
    yield ours, peer
    ours.close()
    peer.close()


def _gunicorn_body(sock: socket.socket, length: int, ahead: bytes = b"") -> Body:
    """The body gunicorn hands the app, after it read the headers and `ahead` past them."""
    unreader = SocketUnreader(sock)
    if ahead:
        unreader.unread(ahead)
    return Body(LengthReader(unreader, length))


def _read_all(source, size: int = 1000) -> bytes:
    buffer = memoryview(bytearray(size))
    out = bytearray()
    while got := source.readinto(buffer):
        out += buffer[:got]
    return bytes(out)


def test_a_gunicorn_body_is_read_from_its_socket_read_ahead_first(pair):
    ours, peer = pair
    payload = bytes(range(256)) * 40
    ahead, rest = payload[:300], payload[300:]
    body = _gunicorn_body(ours, len(payload), ahead)
    source = body_source({"wsgi.input": body}, body)
    assert isinstance(source, SocketSource)
    sender = threading.Thread(target=peer.sendall, args=(rest + b"GET /next",))
    sender.start()
    assert _read_all(source) == payload
    sender.join()
    # gunicorn's reader knows the body is read: its end-of-request drain reads nothing,
    # and the next request's bytes are still on the socket for it.
    assert body.reader.length == 0 and body.read(1024) == b""
    assert body.reader.unreader.read(9) == b"GET /next"


def test_a_pipelined_request_read_ahead_is_handed_back_to_gunicorn(pair):
    ours, _peer = pair
    body = _gunicorn_body(ours, 5, b"helloGET / HTTP/1.1\r\n")
    source = body_source({"wsgi.input": body}, body)
    assert _read_all(source) == b"hello"
    assert body.reader.unreader.take_buffered() == b"GET / HTTP/1.1\r\n"


def test_a_body_cut_short_ends_early_and_leaves_the_rest_owed(pair):
    ours, peer = pair
    body = _gunicorn_body(ours, 10_000, b"abc")
    source = body_source({"wsgi.input": body}, body)
    peer.sendall(b"defgh")
    peer.shutdown(socket.SHUT_WR)
    assert _read_all(source) == b"abcdefgh"
    assert body.reader.length == 10_000 - 8  # the parser sees fewer than Content-Length


def test_a_reset_connection_is_the_clients_doing(pair):
    ours, _peer = pair
    ours.settimeout(0.2)  # as a timed-out recv: an OSError
    body = _gunicorn_body(ours, 10_000)
    source = body_source({"wsgi.input": body}, body)
    with pytest.raises(ClientDisconnected):
        source.readinto(memoryview(bytearray(100)))
    assert body.failed  # gunicorn closes the connection instead of draining the rest


def _chunked_body(sock: socket.socket) -> Body:
    class Request:  # what ChunkedReader reads of gunicorn's request: its limits
        limit_request_field_size = 8190
        max_buffer_headers = 8190

    return Body(ChunkedReader(Request(), SocketUnreader(sock)))


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda sock: _chunked_body(sock), id="chunked"),
        pytest.param(lambda sock: io.BytesIO(b"x" * 10), id="other-server"),
        pytest.param(lambda sock: LimitedStream(io.BytesIO(b"x" * 10), 10), id="werkzeug-limited"),
    ],
)
def test_other_bodies_are_read_through_their_stream(pair, make):
    body = make(pair[0])
    assert isinstance(body_source({"wsgi.input": body}, body), StreamSource)


def test_a_body_already_begun_through_gunicorn_is_read_through_it(pair):
    ours, _peer = pair
    body = _gunicorn_body(ours, 20, b"0123456789abcdefghij")
    assert body.read(3) == b"012"  # gunicorn holds the rest in its own buffer now
    assert isinstance(body_source({"wsgi.input": body}, body), StreamSource)
    other = _gunicorn_body(ours, 20)
    assert isinstance(body_source({"wsgi.input": other}, io.BytesIO(b"cached")), StreamSource)


def test_the_stream_source_copies_into_the_buffer():
    source = StreamSource(io.BytesIO(b"0123456789"))
    assert _read_all(source, size=4) == b"0123456789"


def test_a_lent_buffer_is_not_refilled_before_it_is_returned():
    ring = BufferRing(16, count=2)
    first, _ = ring.next()
    release_first = ring.lend()
    second, _ = ring.next()
    assert second is not first  # the first is lent: a second buffer is made
    release_second = ring.lend()
    got: list[bytearray] = []
    waiter = threading.Thread(target=lambda: got.append(ring.next()[0]))
    waiter.start()
    time.sleep(0.2)
    assert got == []  # both lent, no third buffer: it waits
    release_first()
    release_first()  # a second call returns nothing more
    waiter.join(5)
    assert got == [first]
    release_second()
    assert ring.next()[0] is second  # free again, and next in turn


def test_a_small_body_uses_one_buffer():
    ring = BufferRing(16, count=6)
    for _ in range(5):
        buffer, _ = ring.next()
        ring.lend()()  # written at once and returned, as a small file's writes are
    assert len(ring._buffers) == 1 and buffer is ring._buffers[0]


def test_a_large_file_is_written_from_lent_buffers_returned_after(tmp_path):
    """Past BACKGROUND_AFTER the writer thread hashes and writes each lent piece, then
    returns it; the owner refills it only after that, and the file is what was lent."""
    ring = BufferRing(1024 * 1024, count=6)
    stream = StreamingFile(tmp_path)
    digest = hashlib.sha256()
    for i in range(12):
        buffer, view = ring.next()
        view[:] = bytes([i]) * len(buffer)  # refilled: had it been kept, the file shows it
        digest.update(buffer)
        stream.write_lent(view, ring.lend())
    stream.finish()
    assert stream._writer is not None  # the background path was taken
    assert len(ring._buffers) <= 6
    assert stream.checksum == digest.hexdigest()
    assert stream.path.read_bytes() == b"".join(bytes([i]) * 1024 * 1024 for i in range(12))
    assert all(lent == 0 for lent in ring._lent)  # every piece was returned
    stream.discard()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="/dev/full is not available")
def test_lent_pieces_are_returned_after_a_write_error_too(tmp_path):
    ring = BufferRing(1024 * 1024, count=6)
    stream = StreamingFile(tmp_path)
    stream.file.close()
    stream.file = open("/dev/full", "wb", buffering=0)  # noqa: SIM115 - a real ENOSPC
    with pytest.raises(Exception, match="storage is full"):
        for _ in range(16):
            _, view = ring.next()
            stream.write_lent(view, ring.lend())
        stream.finish()
    stream.discard()
    assert all(lent == 0 for lent in ring._lent)
