"""Shrinking a frame as its rows go by: block means of whole-number factors, row chunk by row
chunk, so that no full-size copy of the image is ever held.

The factors are the largest whole numbers that keep the reduced image at least as large as
the preview on each axis; the encoder then resizes the (at most twice too large) result to
the exact preview size. Block means rather than strides: striding by 9 misses most stars of
a 2-pixel seeing disc and keeps all of the noise; a mean keeps every star and smooths noise.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .source import PreviewError

# Rows are read in chunks of about this many bytes (of stored samples), a whole number of
# block rows each. A block row above MAX_BLOCK_BYTES is refused: only a forged header asks for
# that (a 100,000 x 100,000 float32 frame needs 39 MiB a block row).
CHUNK_BYTES = 1 << 20
MAX_BLOCK_BYTES = 128 << 20


class ChunkReader(Protocol):
    def __call__(self, rows: int) -> Iterator[tuple[int, np.ndarray]]: ...


@dataclass(frozen=True)
class Raster:
    """An image a reader found, ready to be read row chunk by row chunk.

    `chunks(rows)` yields (channel, array of shape (n <= rows, width)) in storage order, every
    channel's rows from first to last (channels one after another, or interleaved row by row).
    Arrays hold stored values, floats (NaN for blank pixels) or integers, and are valid until
    the next one is asked for (readers reuse one buffer). Values are `scale * stored + zero`
    (FITS BSCALE and BZERO): applied to the block means, which is the same, being linear.
    """

    width: int
    height: int
    channels: int  # 1 (grey) or 3 (red, green, blue)
    bottom_up: bool  # FITS: the first row is the bottom of the picture
    sample_bytes: int  # bytes per stored sample, to size the chunks
    chunks: ChunkReader
    scale: float = 1.0
    zero: float = 0.0


def preview_size(width: int, height: int, max_size: int) -> tuple[int, int]:
    """The size of the preview: the long side at most `max_size`, the aspect ratio kept
    (3000x2000 -> 1024x683); an image already small enough keeps its size."""
    long_side = max(width, height)
    if long_side <= max_size:
        return width, height
    scale = max_size / long_side
    return max(1, round(width * scale)), max(1, round(height * scale))


def reduce_raster(raster: Raster, max_size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """(block means as float32 of shape (channels, rows, columns), the preview's (w, h))."""
    size = preview_size(raster.width, raster.height, max_size)
    kx, ky = max(1, raster.width // size[0]), max(1, raster.height // size[1])
    means = [
        BlockMean(raster.width, raster.height, kx, ky, raster.scale, raster.zero)
        for _ in range(raster.channels)
    ]
    row_bytes = raster.width * raster.sample_bytes
    if row_bytes * ky > MAX_BLOCK_BYTES:
        raise PreviewError(f"a {raster.width} x {raster.height} image is too large to preview")
    rows = ky * max(1, CHUNK_BYTES // (row_bytes * ky))
    for channel, chunk in raster.chunks(rows):
        means[channel].add(chunk)
    return np.stack([mean.result() for mean in means]), size


class BlockMean:
    """Means of ky x kx blocks of a (height, width) image fed in row order, times `scale`
    plus `zero`. The last height % ky rows and width % kx columns are dropped (less than one
    output pixel)."""

    def __init__(
        self, width: int, height: int, kx: int, ky: int, scale: float = 1.0, zero: float = 0.0
    ) -> None:
        self._kx, self._ky = kx, ky
        self._scale, self._zero = scale, zero
        self._columns = width // kx
        self._out = np.full((height // ky, self._columns), np.nan, dtype=np.float32)
        self._filled = 0
        self._carry: np.ndarray | None = None  # rows short of a whole block, from the last add

    def add(self, rows: np.ndarray) -> None:
        if self._carry is not None:
            rows = np.concatenate([self._carry, rows])
            self._carry = None
        groups = min(rows.shape[0] // self._ky, self._out.shape[0] - self._filled)
        whole = groups * self._ky
        if groups < len(self._out) - self._filled and whole < rows.shape[0]:
            self._carry = rows[whole:].copy()
        if groups == 0:
            return
        means = _block_means(rows[:whole, : self._columns * self._kx], self._kx, self._ky)
        if self._scale != 1.0 or self._zero != 0.0:
            # In float64: unsigned 32-bit counts are stored near -2**31 with BZERO = 2**31.
            means = means.astype(np.float64) * self._scale + self._zero
        self._out[self._filled : self._filled + groups] = means
        self._filled += groups

    def result(self) -> np.ndarray:
        return self._out


def _block_means(rows: np.ndarray, kx: int, ky: int) -> np.ndarray:
    """Means of the ky x kx blocks of `rows` (whole blocks only), ignoring NaN and inf."""
    # float32 sums for 8- and 16-bit samples and float32 values; float64 for the rest, whose
    # low bits float32 would lose (32-bit counts, float64 data).
    small = rows.dtype.itemsize <= 2 or (rows.dtype.kind == "f" and rows.dtype.itemsize <= 4)
    kind = np.float32 if small else np.float64
    means = _sums(rows, kx, ky, kind) / (kx * ky)
    if rows.dtype.kind != "f" or np.isfinite(means).all():
        return means
    # Some block holds a NaN or inf (rare: blank pixels, a failed calibration): mean the
    # finite values alone; a block without any stays NaN and is drawn black.
    finite = np.isfinite(rows)
    counts = _sums(finite, kx, ky, kind)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _sums(np.where(finite, rows, 0), kx, ky, kind) / counts


def _sums(rows: np.ndarray, kx: int, ky: int, kind: type) -> np.ndarray:
    # Rows first, then columns: both sums then run over contiguous memory (twice as fast as
    # one sum over the two axes of a 4-D view).
    down = rows.reshape(-1, ky, rows.shape[1]).sum(axis=1, dtype=kind)
    return down.reshape(down.shape[0], -1, kx).sum(axis=2, dtype=kind)
