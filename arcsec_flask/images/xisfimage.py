"""The first image of a monolithic XISF file, from its attached data block.

The XML header is read by headers/xisf.py (capped, DTDs refused); its `Image:*` cards carry
the attributes used here: geometry (`width:height[:depth...]:channels`), sampleFormat,
colorSpace, pixelStorage (Planar, the default: channels one after another; or Normal:
interleaved), byteOrder, location (`attachment:offset:size`) and compression.

An uncompressed block is read forward in row chunks, like a plain FITS image. A compressed
block (zlib, lz4, lz4hc or zstd, optionally byte-shuffled, optionally in sub-blocks) is
decompressed whole first: shuffling spreads each sample over the whole block, so the cost
is the compressed block plus one full-size copy. lz4 and zstd need the `lz4` and
`zstandard` packages; without them such a file has no preview (the reason is logged).
"""

import math
import zlib
from collections.abc import Callable, Iterator

import numpy as np

from ..headers.xisf import read_xisf_cards
from .reduce import Raster
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
    zstandard = None

SAMPLE_TYPES = {"UInt8": "u1", "UInt16": "u2", "UInt32": "u4", "Float32": "f4", "Float64": "f8"}
# A compressed image is held decompressed in memory: refuse what no camera produces.
MAX_DECOMPRESSED = 2 << 30

Samples = Callable[[int, int], np.ndarray]  # (first sample, count) -> the samples


def xisf_raster(source: Source) -> Raster:
    """The first image of the file. PreviewError when it has none or it cannot be read."""
    attributes = {
        card.key.removeprefix("Image:"): str(card.value)
        for card in read_xisf_cards(source, source.size)
        if card.key.startswith("Image:")
    }
    if "geometry" not in attributes:
        raise PreviewError("the XISF header holds no <Image> with a geometry")
    dims, channels = _geometry(attributes["geometry"])
    width, height = dims[0], dims[1]
    stored = _sample_type(attributes)
    space = attributes.get("colorSpace", "Gray")
    used = [0, 1, 2] if space == "RGB" and channels >= 3 else [0]  # CIELab: L* as grey
    planar = attributes.get("pixelStorage", "Planar") != "Normal"
    samples = _samples(source, attributes, stored, math.prod(dims) * channels)
    plane = math.prod(dims)  # samples in one channel (all of its planes)

    def planar_chunks(rows: int) -> Iterator[tuple[int, np.ndarray]]:
        for index, channel in enumerate(used):
            for first in range(0, height, rows):
                count = min(rows, height - first)
                start = channel * plane + first * width
                yield index, samples(start, count * width).reshape(count, width)

    def interleaved_chunks(rows: int) -> Iterator[tuple[int, np.ndarray]]:
        for first in range(0, height, rows):
            count = min(rows, height - first)
            pixels = samples(first * width * channels, count * width * channels)
            pixels = pixels.reshape(count, width, channels)
            for index, channel in enumerate(used):
                yield index, pixels[:, :, channel]

    sample_bytes = stored.itemsize * (1 if planar else channels)
    chunks = planar_chunks if planar else interleaved_chunks
    return Raster(width, height, len(used), False, sample_bytes, chunks)


def _geometry(text: str) -> tuple[list[int], int]:
    try:
        numbers = [int(part) for part in text.split(":")]
    except ValueError:
        raise PreviewError(f"the XISF image geometry {text!r} is not numbers") from None
    if len(numbers) < 3 or min(numbers) < 1:
        raise PreviewError(f"the XISF image geometry {text!r} is not a 2-D image")
    dims, channels = numbers[:-1], numbers[-1]
    if min(dims[:2]) < 2:
        raise PreviewError(f"the XISF image geometry {text!r} is smaller than 2 x 2 pixels")
    return dims, channels


def _sample_type(attributes: dict[str, str]) -> np.dtype:
    name = attributes.get("sampleFormat", "")
    if name not in SAMPLE_TYPES:
        raise PreviewError(f"the XISF sample format {name!r} is not previewed")
    order = ">" if attributes.get("byteOrder", "little") == "big" else "<"
    return np.dtype(order + SAMPLE_TYPES[name])


def _samples(source: Source, attributes: dict[str, str], stored: np.dtype, total: int) -> Samples:
    """A reader of the image's samples, by index in storage order."""
    location = attributes.get("location", "").split(":")
    if location[0] != "attachment" or len(location) != 3:
        raise PreviewError(f"the XISF image data is {location[0]!r}, not an attached block")
    try:
        offset, size = int(location[1]), int(location[2])
    except ValueError:
        raise PreviewError("the XISF image location is not numbers") from None
    source.require(offset + size)
    needed = total * stored.itemsize
    if "compression" not in attributes:
        if size < needed:
            raise PreviewError(f"the XISF data block holds {size:,} bytes, not {needed:,}")

        def read(first: int, count: int) -> np.ndarray:
            source.skip_to(offset + first * stored.itemsize)
            return np.frombuffer(source.read(count * stored.itemsize), dtype=stored)

        return read
    source.skip_to(offset)
    block, shuffled = _decompress(source.read(size), attributes, needed)
    if shuffled:
        # Shuffled: the first bytes of every sample, then the second bytes, and so on.
        planes = np.frombuffer(block, dtype=np.uint8, count=needed).reshape(stored.itemsize, -1)
        return lambda first, count: (
            np.ascontiguousarray(planes[:, first : first + count].T).view(stored).ravel()
        )
    return lambda first, count: np.frombuffer(
        block, dtype=stored, count=count, offset=first * stored.itemsize
    )


def _decompress(data: bytes, attributes: dict[str, str], needed: int) -> tuple[bytes, bool]:
    """(The decompressed block, whether it is byte-shuffled)."""
    parts = attributes["compression"].split(":")
    codec, shuffled = parts[0].removesuffix("+sh"), parts[0].endswith("+sh")
    try:
        expected = int(parts[1])
        pieces = _subblocks(attributes.get("subblocks"), len(data), expected)
    except (IndexError, ValueError):
        text = attributes["compression"]
        raise PreviewError(f"the XISF compression {text!r} is malformed") from None
    if not needed <= expected <= MAX_DECOMPRESSED:
        raise PreviewError(f"the XISF block decompresses to {expected:,} bytes, not {needed:,}")
    decode = _decoder(codec)
    out, start = [], 0
    for packed, unpacked in pieces:
        piece = decode(data[start : start + packed], unpacked)
        if len(piece) != unpacked:
            raise PreviewError(f"the {codec} data decompresses to a wrong size")
        out.append(piece)
        start += packed
    return (out[0] if len(out) == 1 else b"".join(out)), shuffled


def _subblocks(text: str | None, packed: int, unpacked: int) -> list[tuple[int, int]]:
    """(compressed, uncompressed) sizes: `c1,u1:c2,u2:...`, or the whole block as one."""
    if not text:
        return [(packed, unpacked)]
    pieces = [tuple(int(size) for size in pair.split(",")) for pair in text.split(":")]
    if any(len(piece) != 2 for piece in pieces):
        raise ValueError(text)
    if sum(p[0] for p in pieces) != packed or sum(p[1] for p in pieces) != unpacked:
        raise ValueError(text)
    return pieces  # type: ignore[return-value]


def _decoder(codec: str) -> Callable[[bytes, int], bytes]:
    def unzip(data: bytes, size: int) -> bytes:
        return zlib.decompressobj().decompress(data, size)

    def unlz4(data: bytes, size: int) -> bytes:
        return lz4_block.decompress(data, uncompressed_size=size)

    def unzstd(data: bytes, size: int) -> bytes:
        return zstandard.ZstdDecompressor().decompress(data, max_output_size=size)

    if codec == "zlib":
        decode = unzip
    elif codec in ("lz4", "lz4hc") and lz4_block is not None:
        decode = unlz4
    elif codec == "zstd" and zstandard is not None:
        decode = unzstd
    else:
        raise PreviewError(f"the XISF compression codec {codec!r} is not supported here")

    def safe(data: bytes, size: int) -> bytes:
        try:
            return decode(data, size)
        except CODEC_ERRORS as exc:
            raise PreviewError(f"the {codec} data is corrupt ({exc})") from exc

    return safe
