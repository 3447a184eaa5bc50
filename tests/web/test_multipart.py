"""web/multipart_parser.py: bodies cut at every read size, and what a broken body gets."""

from __future__ import annotations

import hashlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import FileStorage
from werkzeug.http import parse_options_header
from werkzeug.test import encode_multipart

from arcsec_flask.storage import StreamingFile
from arcsec_flask.web.multipart_parser import (
    READ_SIZE,
    MalformedBody,
    MultipartReader,
    disposition_options,
)

BOUNDARY = "b0undary"
DELIMITER = f"\r\n--{BOUNDARY}".encode()


class SocketLike(io.RawIOBase):
    """A body that arrives `step` bytes per read, as recv() gives it."""

    def __init__(self, body: bytes, step: int) -> None:
        self.body, self.step, self.at = body, step, 0

    def read(self, size: int = -1) -> bytes:
        end = self.at + min(self.step, size if size >= 0 else self.step)
        piece, self.at = self.body[self.at : end], min(end, len(self.body))
        return piece


def _parse(
    tmp_path,
    body: bytes,
    step: int,
    content_length: int | None = None,
    read_size: int = READ_SIZE,
):
    made: list[StreamingFile] = []

    def factory(**_kwargs):
        made.append(StreamingFile(tmp_path))
        return made[-1]

    reader = MultipartReader(factory, BOUNDARY.encode(), content_length, read_size=read_size)
    try:
        return reader.parse(SocketLike(body, step)), made
    except BaseException:
        for stream in made:
            stream.discard()
        raise


# File contents that look like a boundary, or like the start of one, at any offset.
TRICKY = st.lists(
    st.sampled_from([b"\r", b"\n", b"\r\n", b"--", DELIMITER[:-1], DELIMITER + b"x", b"abc"]),
    max_size=30,
).map(b"".join)


@settings(max_examples=150, deadline=None)
@given(
    content=st.one_of(st.binary(max_size=3000), TRICKY),
    value=st.text(max_size=50).filter(lambda v: "\r" not in v),
    step=st.integers(min_value=1, max_value=4096),
    read_size=st.integers(min_value=1, max_value=4096),
)
def test_every_body_reads_back_the_same_at_any_read_size(
    tmp_path_factory, content, value, step, read_size
):
    """`step`: what one recv gives; `read_size`: the parser's buffers, which it fills
    before parsing, so that boundaries straddle two buffers anywhere."""
    folder = tmp_path_factory.mktemp("parts")
    _, body = encode_multipart(
        {"dataset": value, "file": FileStorage(io.BytesIO(content), "f.fits")}, boundary=BOUNDARY
    )
    (form, files), made = _parse(folder, body, step, len(body), read_size)
    assert form["dataset"] == value
    stored = files["file"]
    assert stored.filename == "f.fits"
    assert stored.stream.read() == content
    assert made[0].checksum == hashlib.sha256(content).hexdigest()
    made[0].discard()


class RecordingFile(StreamingFile):
    """A real StreamingFile that notes which writes were lent buffers."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lent: list[type] = []

    def write_lent(self, data, release):
        if release is not None:
            self.lent.append(type(data.obj))
        return super().write_lent(data, release)


def test_large_parts_are_written_from_the_read_buffers(tmp_path):
    """Two 6 MB files in one body (two background writers sharing the ring): every full
    buffer's piece is lent to the writer, not copied, and both files are whole."""
    first, second = bytes(range(256)) * 24_000, bytes(range(255, -1, -1)) * 24_000
    _, body = encode_multipart(
        {
            "a": FileStorage(io.BytesIO(first), "a.dat"),
            "b": FileStorage(io.BytesIO(second), "b.dat"),
        },
        boundary=BOUNDARY,
    )
    made: list[RecordingFile] = []

    def factory(**_kwargs):
        made.append(RecordingFile(tmp_path))
        return made[-1]

    reader = MultipartReader(factory, BOUNDARY.encode(), len(body))
    _, files = reader.parse(SocketLike(body, 100_000))
    assert files["a"].stream.read() == first and files["b"].stream.read() == second
    for stream, content in zip(made, (first, second), strict=True):
        assert stream.checksum == hashlib.sha256(content).hexdigest()
        assert len(stream.lent) >= 4 and set(stream.lent) == {bytearray}
        stream.discard()


def _body(*parts: bytes, close: bool = True) -> bytes:
    text = b"".join(b"--" + BOUNDARY.encode() + b"\r\n" + part + b"\r\n" for part in parts)
    return text + (b"--" + BOUNDARY.encode() + b"--\r\n" if close else b"")


FIELD = b'Content-Disposition: form-data; name="dataset"\r\n\r\nd5b0f6a4'
FILE = b'Content-Disposition: form-data; name="file"; filename="a.fits"\r\n\r\nSIMPLE'


@pytest.mark.parametrize(
    ("body", "content_length", "message"),
    [
        (b"", 0, "does not start with the multipart boundary"),
        (b"--other\r\n" + FIELD + b"\r\n--other--\r\n", None, "(--b0undary)"),
        (b"x" * 100_000, None, "does not start with the multipart boundary"),
        (_body(FIELD, FILE, close=False), None, "ended before its closing boundary"),
        (_body(FIELD, FILE)[:-30], None, "ended before its closing boundary"),
        (_body(FIELD, FILE), 10_000, "Content-Length announced"),
        (_body(b"X-Note: hello\r\n\r\nz"), None, "no Content-Disposition header"),
        (_body(b"Content-Disposition: form-data\r\n\r\nz"), None, "no field name"),
        (_body(b"Content-Disposition form-data\r\n\r\nz"), None, "not 'Name: value'"),
        (
            _body(b'Content-Disposition: form-data; name="file"; filename="\xff.fits"\r\n\r\nz'),
            None,
            "not valid UTF-8",
        ),
        (_body(b"Content-Disposition: " + b"x" * 20_000), None, "headers run past"),
    ],
)
def test_a_broken_body_says_what_is_wrong(tmp_path, body, content_length, message):
    with pytest.raises(MalformedBody) as raised:
        _parse(tmp_path, body, 7000, content_length)
    assert message in raised.value.detail
    assert list((tmp_path / ".tmp").glob("*")) == []  # a started file part is gone too


def test_an_empty_part_and_padding_after_a_boundary(tmp_path):
    body = (
        b"--b0undary  \r\n"
        + b'Content-Disposition: form-data; name="file"; filename="empty.txt"\r\n\r\n'
        + b"\r\n--b0undary--"
    )
    (_, files), made = _parse(tmp_path, body, 3)
    assert files["file"].stream.read() == b"" and made[0].size == 0
    made[0].discard()


class CountingSource:
    """A body source that records what each readinto was asked for and gave."""

    def __init__(self, body: bytes) -> None:
        self.body, self.at, self.calls = body, 0, []

    def readinto(self, buffer: memoryview) -> int:
        piece = self.body[self.at : self.at + len(buffer)]
        buffer[: len(piece)] = piece
        self.at += len(piece)
        self.calls.append((len(buffer), len(piece)))
        return len(piece)


@pytest.mark.parametrize("size", [1, 40_000, 64 * 1024 - 300, 200_000, 3 * READ_SIZE + 5])
def test_a_body_of_known_length_is_read_to_its_end_and_no_further(tmp_path, size):
    """No read past Content-Length: a small upload is read in one go, with no 1 MiB buffer
    made (and zero-filled) only to learn that the body had ended."""
    content = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    upload = FileStorage(io.BytesIO(content), filename="a.fits", content_type="image/fits")
    boundary, body = encode_multipart({"dataset": "d", "file": upload})
    made: list[StreamingFile] = []

    def factory(**_kwargs):
        made.append(StreamingFile(tmp_path))
        return made[-1]

    source = CountingSource(body)
    reader = MultipartReader(factory, boundary.encode(), len(body))
    form, files = reader.parse(io.BytesIO(body), source)
    assert form["dataset"] == "d"
    assert made[0].path.read_bytes() == content
    assert files["file"].filename == "a.fits"
    assert sum(got for _, got in source.calls) == len(body)
    assert all(got == asked for asked, got in source.calls)  # never asked past the end
    assert sum(asked for asked, _ in source.calls) == len(body)
    if len(body) <= 64 * 1024:
        assert len(source.calls) == 1
    made[0].file.close()
    made[0].discard()


# Text a file name may hold, with the characters werkzeug decodes or stops at.
NAME_TEXT = st.text(st.sampled_from("ab é;=\"\\%2*'\t"), max_size=8) | st.text(max_size=8)


@settings(max_examples=500)
@given(name=NAME_TEXT, filename=st.none() | NAME_TEXT)
def test_a_part_disposition_reads_as_werkzeug_reads_it(name, filename):
    """The direct reading of the plain form gives werkzeug's options, and any other form
    (escapes, %22, quotes inside) is left to werkzeug."""
    value = f'form-data; name="{name}"'
    if filename is not None:
        value += f'; filename="{filename}"'
    assert disposition_options(value) == parse_options_header(value)[1]


@pytest.mark.parametrize(
    "value",
    [
        'form-data; name="file"; filename="light_00001.fits"',
        'form-data; name="dataset"',
        'form-data; name="file"; filename="M31 a%22b.fits"',  # the HTML form's %22
        'form-data; name="file"; filename="a\\"b.fits"',  # a backslash escape
        "form-data; name=\"file\"; filename*=UTF-8''%C3%A9.fits",  # RFC 2231
        "form-data; name=file; filename=plain.fits",  # tokens, unquoted
        'FORM-DATA; NAME="x"',
        'form-data;name="x"',
        'form-data; name="x"; filename="C:\\dir\\f.fits"',  # a Windows path
    ],
)
def test_every_form_of_disposition_reads_as_werkzeug_reads_it(value):
    assert disposition_options(value) == parse_options_header(value)[1]
