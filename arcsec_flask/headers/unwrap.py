"""Opening the content of a possibly compressed file: gzip, bzip2 or a zip of one member.

Nothing here decompresses more than its caller reads: the readers ask for a header's worth of
bytes, so a compression bomb costs no more than a normal file.
"""

import bz2
import gzip
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO, Protocol

from .detect import (
    HEAD_SIZE,
    compression_by_magic,
    has_fits_signature,
    has_xisf_signature,
    split_compression_suffix,
)
from .model import Compression, HeaderError

# What decompressing damaged data raises, across gzip, bz2, zlib and zipfile.
DECOMPRESSION_ERRORS = (
    OSError,
    EOFError,
    zlib.error,
    zipfile.BadZipFile,
    RuntimeError,  # zipfile: an encrypted member
    NotImplementedError,  # zipfile: an unsupported compression method
    ValueError,
    struct.error,
)
# The central directory of a one-member archive: 46 bytes plus three fields of at most 64 KiB.
MAX_SINGLE_DIRECTORY = 46 + 3 * 0xFFFF
END_RECORD = b"PK\x05\x06"
END_RECORD_SIZE = 22


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


class Stream:
    """Reads exactly what is asked (less only at the end), starting with bytes already read.

    Decompression errors become a HeaderError that says which compression is damaged.
    """

    def __init__(self, prefix: bytes, source: Readable, compression: Compression | None) -> None:
        self._prefix = prefix
        self._source = source
        self._compression = compression

    def read(self, size: int) -> bytes:
        taken, self._prefix = self._prefix[:size], self._prefix[size:]
        chunks = [taken]
        missing = size - len(taken)
        while missing > 0:
            chunk = self._read_source(missing)
            if not chunk:
                break
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)

    def _read_source(self, size: int) -> bytes:
        if self._compression is None:
            return self._source.read(size)
        try:
            return self._source.read(size)
        except DECOMPRESSION_ERRORS as exc:
            raise HeaderError(
                f"The {self._compression} data is corrupt or truncated{_because(exc)}."
            ) from exc


@dataclass(frozen=True)
class Content:
    """The (decompressed) content of an upload, ready for a header reader."""

    name: str  # the inner file name: the upload's without its compression suffix, or the member's
    compression: Compression | None
    head: bytes = b""  # its first bytes
    stream: Stream | None = None  # None when there is nothing to read (see `problem`)
    size: int | None = None  # its size in bytes, when known without decompressing
    problem: str | None = None  # why the compressed content cannot be read


@contextmanager
def open_content(raw: BinaryIO, name: str, size: int) -> Iterator[Content]:
    """Open the content of `raw` (an open file of `size` bytes named `name`)."""
    head = raw.read(HEAD_SIZE)
    magic = compression_by_magic(head)
    inner_name = split_compression_suffix(name)[0]
    if magic is None:
        yield _uncompressed(raw, head, name, size)
        return
    raw.seek(0)
    with ExitStack() as stack:
        if magic == "zip":
            content = _open_zip(raw, inner_name, size, stack)
        else:
            try:
                source = stack.enter_context(
                    gzip.GzipFile(fileobj=raw, mode="rb") if magic == "gzip" else bz2.BZ2File(raw)
                )
            except DECOMPRESSION_ERRORS as exc:
                problem = f"The {magic} data is corrupt{_because(exc)}."
                content = Content(inner_name, magic, problem=problem)
            else:
                content = _with_head(inner_name, magic, Stream(b"", source, magic))
        yield content


def _uncompressed(raw: BinaryIO, head: bytes, name: str, size: int) -> Content:
    inner_name, by_suffix = split_compression_suffix(name)
    if by_suffix is None:
        return Content(name, None, head, Stream(head, raw, None), size)
    if has_fits_signature(head) or has_xisf_signature(head):
        # Named `.gz` (say) but stored uncompressed: the content speaks for itself.
        return Content(inner_name, None, head, Stream(head, raw, None), size)
    suffix = name[len(inner_name) :]
    problem = f"The file name ends in {suffix} but its content is not {by_suffix}-compressed."
    return Content(inner_name, None, head, problem=problem)


def _with_head(name: str, compression: Compression, stream: Stream) -> Content:
    try:
        head = stream.read(HEAD_SIZE)
    except HeaderError as exc:
        return Content(name, compression, problem=str(exc))
    return Content(name, compression, head, Stream(head, stream, None))


def _open_zip(raw: BinaryIO, name: str, size: int, stack: ExitStack) -> Content:
    directory = _zip_directory(raw, size)
    if directory is None:
        return Content(name, "zip", problem="The zip archive is corrupt (no end record).")
    entries, directory_size = directory
    if entries != 1 or directory_size > MAX_SINGLE_DIRECTORY:
        return Content(name, "zip")  # not one member: stored as a plain archive
    try:
        archive = stack.enter_context(zipfile.ZipFile(raw))
        members = archive.infolist()
        if len(members) != 1 or members[0].is_dir():
            return Content(name, "zip")
        member = stack.enter_context(archive.open(members[0]))
    except DECOMPRESSION_ERRORS as exc:
        return Content(name, "zip", problem=f"The zip archive is corrupt{_because(exc)}.")
    member_name = PurePosixPath(members[0].filename.replace("\\", "/")).name
    return _with_head(member_name, "zip", Stream(b"", member, "zip"))


def _zip_directory(raw: BinaryIO, size: int) -> tuple[int, int] | None:
    """(number of entries, central directory size) from the end record, checked before
    `zipfile` parses a directory whose size the file alone decides."""
    tail_size = min(size, END_RECORD_SIZE + 0xFFFF)
    raw.seek(size - tail_size)
    tail = raw.read(tail_size)
    raw.seek(0)
    at = tail.rfind(END_RECORD)
    if at < 0 or len(tail) - at < END_RECORD_SIZE:
        return None
    # (A ZIP64 archive of one big member still says one entry here.)
    return struct.unpack_from("<HI", tail, at + 10)


def _because(exc: BaseException) -> str:
    return f" ({exc})" if str(exc) else ""
