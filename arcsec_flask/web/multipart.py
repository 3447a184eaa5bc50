"""Request plumbing for uploads: file parts stream into the storage folder.

Flask's request asks `_get_file_stream` for a container for each file part; ours is
a StreamingFile in the storage folder. Every container made during a request is
discarded at teardown unless the upload placed it, so a refused, failed or
interrupted upload (client gone mid-body included) leaves no file behind.
"""

from __future__ import annotations

from typing import IO, Any

from flask import Flask, Request, current_app, g, request
from werkzeug.exceptions import ClientDisconnected
from werkzeug.formparser import FormDataParser, MultiPartParser

from .. import storage
from ..storage import StreamingFile

try:  # gunicorn's errors for a malformed chunked body (bad size, missing CRLF, ...)
    from gunicorn.http.errors import ParseException as _BodyParseError
except ImportError:  # served by something else: nothing more to catch
    _BodyParseError = OSError  # type: ignore[misc, assignment]


class _RequestBody:
    """The request body as the app reads it. A client that went away mid-body (gunicorn's
    NoMoreData, an OSError) or sent a malformed chunked body (gunicorn's ParseException)
    is the client's doing: a 400, not a server error."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def read(self, *args: Any) -> bytes:
        try:
            return self._stream.read(*args)
        except (OSError, _BodyParseError) as error:
            raise ClientDisconnected() from error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


# werkzeug reads a multipart body 64 KiB at a time; gunicorn copies its read-ahead
# buffer on every read, so at that size half an upload's CPU goes to gunicorn. 256 KiB
# reads cut a 200 MB upload's time by about a quarter (bench/upload.py). werkzeug
# refuses chunks above max_form_memory_size (500 kB in Flask), so stay under it.
READ_SIZE = 256 * 1024


class _FormDataParser(FormDataParser):
    def _parse_multipart(self, stream, mimetype, content_length, options):
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        parser = MultiPartParser(
            stream_factory=self.stream_factory,
            max_form_memory_size=self.max_form_memory_size,
            max_form_parts=self.max_form_parts,
            cls=self.cls,
            buffer_size=READ_SIZE,
        )
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files


class StreamingRequest(Request):
    form_data_parser_class = _FormDataParser

    def _get_stream_for_parsing(self) -> IO[bytes]:
        return _RequestBody(super()._get_stream_for_parsing())  # type: ignore[return-value]

    def get_data(self, *args, **kwargs):
        try:
            return super().get_data(*args, **kwargs)
        except _BodyParseError as error:  # JSON bodies are read here, not by the parser
            raise ClientDisconnected() from error

    def _get_file_stream(
        self, total_content_length, content_type, filename=None, content_length=None
    ):
        stream = StreamingFile(current_app.config["FILES_DIR"])
        g.setdefault("upload_files", []).append(stream)
        return stream


def discard_unplaced(_error: BaseException | None = None) -> None:
    for stream in g.pop("upload_files", []):
        stream.discard()


# Only an upload needs a large body (streamed to disk, unlimited); every other body is
# read into memory, so it is capped before a byte of it is read (413).
UPLOAD_ENDPOINTS = frozenset({"datafiles.DataFiles", "portal_datafiles.DataFiles"})


def limit_body(app: Flask) -> None:
    limit = app.config["MAX_BODY_BYTES"]
    if request.endpoint not in UPLOAD_ENDPOINTS or request.method != "POST":
        request.max_content_length = limit
        request.max_form_memory_size = limit


def init_app(app: Flask) -> None:
    # A killed worker's parts are nobody's: swept at start (running uploads hold theirs).
    swept = storage.sweep_stale_parts(app.config["FILES_DIR"])
    if swept:
        app.logger.warning("Removed %d upload parts left by a crash.", swept)
    app.request_class = StreamingRequest
    app.before_request(lambda: limit_body(app))
    app.teardown_request(discard_unplaced)
