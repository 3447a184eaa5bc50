"""Request plumbing for uploads: file parts stream into the storage folder.

Flask's request asks `_get_file_stream` for a container for each file part; ours is
a StreamingFile in the storage folder. Every container made during a request is
discarded at teardown unless the upload placed it, so a refused, failed or
interrupted upload (client gone mid-body included) leaves no file behind.
"""

from __future__ import annotations

from flask import Flask, Request, current_app, g

from .storage import StreamingFile


class StreamingRequest(Request):
    def _get_file_stream(
        self, total_content_length, content_type, filename=None, content_length=None
    ):  # noqa: ANN001 - werkzeug's signature
        stream = StreamingFile(current_app.config["FILES_DIR"])
        g.setdefault("upload_files", []).append(stream)
        return stream


def discard_unplaced(_error: BaseException | None = None) -> None:
    for stream in g.pop("upload_files", []):
        stream.discard()


def init_app(app: Flask) -> None:
    app.request_class = StreamingRequest
    app.teardown_request(discard_unplaced)
