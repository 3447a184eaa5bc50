"""Decompressing an XISF data block (zlib, lz4, lz4hc, zstd; sub-blocks) into one buffer.

The buffer is allocated once at the declared size and filled in place: zlib and zstd read
their input from the file in pieces, so the cost is the decompressed block alone (Python's
one-call `zlib.decompress` builds its output in pieces and joins them: twice the block, plus
the compressed block, measured at 2.5x in bench/previews.py). lz4's block format has no
streaming decoder: its compressed block is read whole (the cost is then both blocks).

lz4 and zstd need the `lz4` and `zstandard` packages; without them such a file has no
preview (the reason is logged).
"""

import zlib
from collections.abc import Callable
from typing import IO, cast

import numpy as np

from .source import PreviewError, Source

# What decoding damaged data raises (each codec has its own error class).
CODEC_ERRORS: tuple[type[Exception], ...] = (zlib.error, ValueError)
try:
    import lz4.block as lz4_block

    CODEC_ERRORS += (lz4_block.LZ4BlockError,)
except ImportError:  # installed with the `xisf` package (a test dependency), not required
    lz4_block = None
try:
    import zstandard

    CODEC_ERRORS += (zstandard.ZstdError,)
except ImportError:
    zstandard = None  # type: ignore[assignment]

PIECE = 1 << 20  # compressed bytes read at a time
# A compressed image is held decompressed in memory: refuse what no camera produces.
MAX_DECOMPRESSED = 2 << 30

Decoder = Callable[[Source, int, memoryview], None]


def decompress(
    source: Source, attributes: dict[str, str], offset: int, size: int, needed: int
) -> np.ndarray:
    """The block of `size` compressed bytes at `offset`, decompressed into a new uint8 array
    of the declared size (at least `needed` bytes)."""
    codec = attributes["compression"].split(":")[0].removesuffix("+sh")
    try:
        expected = int(attributes["compression"].split(":")[1])
        pieces = _subblocks(attributes.get("subblocks"), size, expected)
    except (IndexError, ValueError):
        text = attributes["compression"]
        raise PreviewError(f"the XISF compression {text!r} is malformed") from None
    if not needed <= expected <= MAX_DECOMPRESSED:
        raise PreviewError(f"the XISF block decompresses to {expected:,} bytes, not {needed:,}")
    decode = _decoder(codec)
    out = np.empty(expected, dtype=np.uint8)
    view, start = out.data, 0
    for packed, unpacked in pieces:
        source.skip_to(offset)  # where this sub-block starts, whatever the last one read
        try:
            decode(source, packed, view[start : start + unpacked])
        except CODEC_ERRORS as exc:
            raise PreviewError(f"the {codec} data is corrupt ({exc})") from exc
        offset += packed
        start += unpacked
    return out


def _subblocks(text: str | None, packed: int, unpacked: int) -> list[tuple[int, int]]:
    """(compressed, uncompressed) sizes: `c1,u1:c2,u2:...`, or the whole block as one."""
    if not text:
        return [(packed, unpacked)]
    pieces = []
    for pair in text.split(":"):
        compressed, _, decompressed = pair.partition(",")
        pieces.append((int(compressed), int(decompressed)))
    if sum(p[0] for p in pieces) != packed or sum(p[1] for p in pieces) != unpacked:
        raise ValueError(text)
    return pieces


def _decoder(codec: str) -> Decoder:
    if codec == "zlib":
        return _unzip
    if codec in ("lz4", "lz4hc") and lz4_block is not None:
        return _unlz4
    if codec == "zstd" and zstandard is not None:
        return _unzstd
    raise PreviewError(f"the XISF compression codec {codec!r} is not supported here")


def _wrong_size(filled: int, out: memoryview) -> PreviewError:
    return PreviewError(f"the data decompresses to {filled:,} bytes, not the {len(out):,} declared")


def _unzip(source: Source, packed: int, out: memoryview) -> None:
    stream = zlib.decompressobj()
    filled, left = 0, packed
    while left and not stream.eof:
        piece = source.read(min(PIECE, left))
        left -= len(piece)
        while piece:
            # At least 1: a max_length of 0 means no limit. More than the room is an error.
            data = stream.decompress(piece, max(1, len(out) - filled))
            if filled + len(data) > len(out):
                raise _wrong_size(filled + len(data), out)
            out[filled : filled + len(data)] = data
            filled += len(data)
            piece = stream.unconsumed_tail
    if filled != len(out):
        raise _wrong_size(filled, out)


def _unlz4(source: Source, packed: int, out: memoryview) -> None:
    data = lz4_block.decompress(source.read(packed), uncompressed_size=len(out))
    if len(data) != len(out):
        raise _wrong_size(len(data), out)
    out[:] = data


class _Limited:
    """The next `size` bytes of a source, as a file for zstandard's stream reader."""

    def __init__(self, source: Source, size: int) -> None:
        self._source, self._left = source, size

    def read(self, size: int = -1) -> bytes:
        count = self._left if size < 0 else min(size, self._left)
        data = self._source.read_upto(count)
        self._left -= len(data)
        return data


def _unzstd(source: Source, packed: int, out: memoryview) -> None:
    source_file = cast(IO[bytes], _Limited(source, packed))
    reader = zstandard.ZstdDecompressor().stream_reader(source_file, read_size=PIECE)
    filled = 0
    while filled < len(out):
        count = reader.readinto(out[filled:])
        if not count:
            break
        filled += count
    if filled != len(out) or reader.read(1):
        raise PreviewError(f"the data does not decompress to the {len(out):,} bytes declared")
