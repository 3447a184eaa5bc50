"""Request plumbing for uploads: file parts stream into the storage backend.

Flask's request asks `_get_file_stream` for a container for each file part; ours is a
writer of the app's backend (web/storage.py): a StreamingFile in the storage folder, or a
multipart upload into the bucket. Every container made during a request is discarded at
teardown unless the upload placed it, so a refused, failed or interrupted upload (client
gone mid-body included) leaves no file, no object and no multipart upload behind.
"""

from __future__ import annotations

import contextlib
import io
from typing import IO, Any

from flask import Flask, Request, g, request
from werkzeug.exceptions import ClientDisconnected, HTTPException
from werkzeug.formparser import FormDataParser

from .. import storage
from ..domain.errors import ArcsecError
from ..domain.ids import canonical_uuid
from .body import BodySource, body_source
from .multipart_parser import READ_SIZE, MalformedBody, MultipartReader
from .storage import get_backend

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

    @property
    def wrapped(self) -> IO[bytes]:
        return self._stream

    def read(self, *args: Any) -> bytes:
        try:
            return self._stream.read(*args)
        except (OSError, _BodyParseError) as error:
            raise ClientDisconnected() from error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


CLOSE_CONNECTION = "arcsec.close_connection"
FIELDS_SO_FAR = "arcsec.multipart_fields"


class _FormDataParser(FormDataParser):
    """Multipart bodies go through our parser (few copies, clear errors); a body it
    refuses, or whose file cannot be stored, is read to its end before the answer, so
    that a client still sending gets the answer instead of a reset, and the connection
    is closed after it (where the next request starts is not worth trusting)."""

    def _parse_multipart(self, stream, mimetype, content_length, options):
        try:
            boundary = options.get("boundary", "").encode("ascii")
        except UnicodeEncodeError:
            raise MalformedBody("The multipart boundary in Content-Type is not ASCII.") from None
        if not boundary:
            raise MalformedBody("The Content-Type multipart/form-data names no boundary.")
        reader = MultipartReader(
            self.stream_factory,
            boundary,
            content_length,
            max_form_memory_size=self.max_form_memory_size,
            max_form_parts=self.max_form_parts,
        )
        request.environ[FIELDS_SO_FAR] = reader.fields  # filled as the body is parsed
        source = body_source(request.environ, stream)
        try:
            form, files = reader.parse(stream, source)
        except ClientDisconnected:
            raise
        except (ArcsecError, HTTPException):
            with contextlib.suppress(ClientDisconnected):
                _drain(source)
            request.environ[CLOSE_CONNECTION] = True
            raise
        return stream, self.cls(form), self.cls(files)


def _drain(source: BodySource) -> None:
    """Read what is left of the body (from where the parser read it), into nothing."""
    scratch = memoryview(bytearray(READ_SIZE))
    while source.readinto(scratch):
        pass


class StreamingRequest(Request):
    form_data_parser_class = _FormDataParser

    def _load_form_data(self) -> None:
        try:
            super()._load_form_data()
        except Exception:
            # Refused: later reads of request.form see an empty form, never a second parse
            # of a body already read.
            empty = self.parameter_storage_class()
            self.__dict__.update(stream=io.BytesIO(), form=empty, files=empty)
            raise

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
        stream = get_backend().writer(_destination())
        g.setdefault("upload_files", []).append(stream)
        return stream


def _destination() -> str | None:
    """Where the file part about to start will be placed, when the `dataset` field came
    before it (as every client sends it): an S3 upload then streams under its final key,
    with no copy at the end. Only a guess: the upload checks it against the dataset."""
    fields = request.environ.get(FIELDS_SO_FAR) or []
    value = next((v for k, v in fields if k == "dataset"), "")
    dataset = canonical_uuid(value.strip().lower())  # as UUIDString reads it
    return storage.new_relative_path(dataset) if dataset else None


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


class CloseWhenAsked:
    """WSGI middleware: an answer whose request set CLOSE_CONNECTION is the connection's
    last. gunicorn ignores an application's Connection header (hop-by-hop), so its
    Response (the start_response's owner) is told with force_close() as well."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Any) -> Any:
        def start(status: str, headers: list, exc_info: Any = None) -> Any:
            if environ.get(CLOSE_CONNECTION):
                headers = [(k, v) for k, v in headers if k.lower() != "connection"]
                headers.append(("Connection", "close"))
                force_close = getattr(
                    getattr(start_response, "__self__", None), "force_close", None
                )
                if callable(force_close):
                    force_close()
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


def init_app(app: Flask) -> None:
    app.request_class = StreamingRequest
    app.wsgi_app = CloseWhenAsked(app.wsgi_app)  # type: ignore[method-assign]
    app.before_request(lambda: limit_body(app))
    app.teardown_request(discard_unplaced)
