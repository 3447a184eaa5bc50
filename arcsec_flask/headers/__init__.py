"""Header reading for uploaded files: FITS and XISF, plain or wrapped in gzip, bzip2 or zip.

`read_header` is the one entry point: it tells the format and compression of a stored upload
and, for FITS and XISF, returns its cards in file order with the values the server indexes.
"""

import os
from typing import BinaryIO

from .detect import claimed_format
from .fits import read_fits_cards
from .model import Card, Frame, HeaderError, HeaderInfo
from .summary import summarize, summarize_stored
from .unwrap import open_content
from .xisf import read_xisf_cards

__all__ = [
    "Card",
    "Frame",
    "HeaderError",
    "HeaderInfo",
    "read_header",
    "read_header_file",
    "summarize_stored",
]


def read_header(
    path: str | os.PathLike[str], filename: str, content_type: str | None = None
) -> HeaderInfo:
    """Read the header of the stored file at `path`, uploaded as `filename` with `content_type`.

    A file that is neither FITS nor XISF by any rule gives `format="other"` and no cards, and so
    does an empty file whatever its name. Raises HeaderError (with a message for the user) when
    the file claims to be FITS or XISF but its header cannot be read. Errors opening or reading
    the stored file itself are the server's, not the upload's, and are not translated.
    """
    with open(path, "rb") as raw:
        return read_header_file(raw, os.fstat(raw.fileno()).st_size, filename, content_type)


def read_header_file(
    raw: BinaryIO, size: int, filename: str, content_type: str | None = None
) -> HeaderInfo:
    """`read_header` of an open, seekable binary file of `size` bytes (a local file, or a
    ranged reader over an object in a bucket). It reads only what the header needs."""
    name = filename.replace("\\", "/").rpartition("/")[2]
    if size == 0:
        return HeaderInfo(format="other", compression=None)
    with open_content(raw, name, size) as content:
        claimed = claimed_format(content.head, content.name, content_type)
        if content.stream is None or claimed == "other":
            if content.problem and claimed != "other":
                raise HeaderError(content.problem)
            return HeaderInfo(format="other", compression=content.compression)
        if claimed == "xisf":
            cards = read_xisf_cards(content.stream, content.size)
        else:
            cards = read_fits_cards(content.stream)
    names = name if content.name == name else f"{content.name} {name}"
    return summarize(claimed, content.compression, cards, names)
