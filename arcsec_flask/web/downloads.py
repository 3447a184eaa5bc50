"""Sending a stored object's bytes through the app: one ranged GET of the bucket per
request, streamed in 1 MiB pieces (constant memory), with Range, If-Range and
If-None-Match answered as `send_file` answers them for a local file.

Used for an S3 backend when presigned redirects are off (ARCSEC_S3_PRESIGN_SECONDS=0);
`presigned_redirect` when they are on. A bucket that cannot be read is a 503 either way
(StorageUnavailable, before any byte is sent); once the bytes flow, a failure can only cut
the response short (its Content-Length tells the client, which resumes with a Range).
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Response, redirect, request

from ..domain.errors import NotFound
from ..storage import Backend, Readable

CHUNK = 1024 * 1024
MISSING = "This data file's stored bytes are missing (see `arcsec-flask storage check`)."


def send_object(
    backend: Backend, relative: str, size: int, etag: str, mimetype: str, disposition: str
) -> Response:
    """The object at `relative` (`size` bytes, as its row says), whole or one range."""
    if request.if_none_match.contains(etag) and request.method in ("GET", "HEAD"):
        response = Response(status=304)
        response.set_etag(etag)
        return response
    start, end, status = 0, size, 200
    byte_range = request.range if request.if_range.etag in (None, etag) else None
    if request.if_range.date is not None:  # no dates here: If-Range by date sends it all
        byte_range = None
    if byte_range is not None and len(byte_range.ranges) == 1:
        bounds = byte_range.range_for_length(size)
        if bounds is None:
            response = Response(status=416)
            response.headers["Content-Range"] = f"bytes */{size}"
            return response
        (start, end), status = bounds, 206
    try:
        if request.method == "HEAD":  # the headers only: a HEAD of the object, not a GET
            if not backend.exists(relative):
                raise FileNotFoundError(relative)
            body: Iterator[bytes] | tuple[()] = ()
        else:
            body = _pieces(backend.open_range(relative, start, end - start))
    except FileNotFoundError:
        raise NotFound(MISSING) from None
    response = Response(body, status=status, mimetype=mimetype, direct_passthrough=True)
    response.content_length = end - start
    if status == 206:
        response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Content-Disposition"] = disposition
    response.set_etag(etag)
    return response


def presigned_redirect(backend: Backend, relative: str, url: str) -> Response:
    """A 302 to `url`, the object's presigned URL, once a HEAD of the object has found
    it: a missing object is our 404 and an unreachable bucket our 503 (StorageUnavailable),
    not an S3 error page at the end of the redirect. One round trip to the bucket."""
    try:
        backend.size(relative)
    except FileNotFoundError:
        raise NotFound(MISSING) from None
    response = redirect(url, 302)
    response.headers["Cache-Control"] = "private, no-store"  # the URL soon expires
    return response


def _pieces(reader: Readable) -> Iterator[bytes]:
    """The reader's bytes; closed when the response ends, even cut short (the server
    closes the iterator, which runs the `finally`)."""
    try:
        while piece := reader.read(CHUNK):
            yield piece
    finally:
        reader.close()
