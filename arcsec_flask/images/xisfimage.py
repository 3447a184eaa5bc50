"""The first image of a monolithic XISF file, from its attached data block.

The XML header is read by headers/xisf.py (capped, DTDs refused); its `Image:*` cards carry
the attributes used here: geometry (`width:height[:depth...]:channels`), sampleFormat,
colorSpace, pixelStorage (Planar, the default: channels one after another; or Normal:
interleaved), byteOrder, location (`attachment:offset:size`) and compression.

An uncompressed block is read forward in row chunks, like a plain FITS image. A compressed
block (zlib, lz4, lz4hc or zstd, optionally byte-shuffled, optionally in sub-blocks) is
decompressed whole first (xisfcodecs.py): shuffling spreads each sample over the whole
block, so one full-size copy is held.
"""

import math
from collections.abc import Callable, Iterator

import numpy as np

from ..headers.xisf import read_xisf_cards
from .reduce import Raster
from .source import PreviewError, Source
from .xisfcodecs import decompress

SAMPLE_TYPES = {"UInt8": "u1", "UInt16": "u2", "UInt32": "u4", "Float32": "f4", "Float64": "f8"}

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
    """A reader of the image's samples, by index in storage order. Uncompressed samples are
    read into one reused buffer: each array is valid until the next call."""
    location = attributes.get("location", "").split(":")
    if location[0] != "attachment" or len(location) != 3:
        raise PreviewError(f"the XISF image data is {location[0]!r}, not an attached block")
    try:
        offset, size = int(location[1]), int(location[2])
    except ValueError:
        raise PreviewError("the XISF image location is not numbers") from None
    source.require(offset + size)
    needed = total * stored.itemsize
    if "compression" in attributes:
        block = decompress(source, attributes, offset, size, needed)
        if attributes["compression"].split(":")[0].endswith("+sh"):
            # Shuffled: the first bytes of every sample, then the second bytes, and so on.
            planes = block[:needed].reshape(stored.itemsize, -1)
            return lambda first, count: (
                np.ascontiguousarray(planes[:, first : first + count].T).view(stored).ravel()
            )
        samples = block[:needed].view(stored)
        return lambda first, count: samples[first : first + count]
    if size < needed:
        raise PreviewError(f"the XISF data block holds {size:,} bytes, not {needed:,}")
    buffer = np.empty(0, dtype=stored)

    def read(first: int, count: int) -> np.ndarray:
        nonlocal buffer
        if buffer.size < count:
            buffer = np.empty(count, dtype=stored)
        source.skip_to(offset + first * stored.itemsize)
        return source.read_into(buffer[:count])

    return read
