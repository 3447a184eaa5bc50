"""Tile-compressed FITS images (`.fz`: a BINTABLE with ZIMAGE = T), decoded by astropy.

`CompImageHDU.section` decompresses only the tiles a slice touches, so reading the first
plane row chunk by row chunk holds one chunk at a time (fpack's default tiles are single
rows). astropy reopens the plain file by its path; its HDU index is the walker's.
"""

from collections.abc import Iterator
from typing import Any

import numpy as np
from astropy.io import fits

from ..headers.model import CardValue
from .reduce import Raster
from .source import PreviewError

try:  # what astropy's tile codecs (cfitsio's) raise on damaged tiles: not an OSError
    from astropy.io.fits.hdu.compressed._compression import CfitsioException
except ImportError:  # a private name, which a later astropy may move
    CfitsioException = OSError

# What astropy raises on damaged tiles or a table that is not what its header says.
ASTROPY_ERRORS = (
    CfitsioException,
    OSError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    RuntimeError,
)
SAMPLE_BYTES = {8: 1, 16: 2, 32: 4, 64: 8, -32: 4, -64: 8}


def tiles_raster(
    path: str, index: int, values: dict[str, CardValue], end: int, size: int | None
) -> Raster:
    """The first plane of the compressed image in HDU `index`; its table data ends at `end`."""
    if size is not None and end > size:
        raise PreviewError(f"the file is truncated: its tiles need {end:,} bytes")
    width, height = _whole(values, "ZNAXIS1"), _whole(values, "ZNAXIS2")
    planes = _whole(values, "ZNAXIS") - 2
    bitpix = _whole(values, "ZBITPIX")
    if planes < 0 or min(width, height) < 2 or bitpix not in SAMPLE_BYTES:
        raise PreviewError("the compressed image is not an image of at least 2 x 2 pixels")

    def chunks(rows: int) -> Iterator[tuple[int, np.ndarray]]:
        try:
            with fits.open(path, memmap=False, lazy_load_hdus=True) as hdus:
                hdu: Any = hdus[index]
                if not isinstance(hdu, fits.CompImageHDU) or hdu.shape[-2:] != (height, width):
                    raise PreviewError(f"astropy does not read HDU {index} as the image it says")
                for first in range(0, height, rows):
                    part = (0,) * planes + (slice(first, min(first + rows, height)),)
                    yield 0, np.asarray(hdu.section[part])
        except ASTROPY_ERRORS as exc:
            raise PreviewError(f"the tile-compressed image cannot be decoded ({exc})") from exc

    return Raster(width, height, 1, True, SAMPLE_BYTES[bitpix], chunks)


def _whole(values: dict[str, CardValue], key: str) -> int:
    value = values.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise PreviewError(f"the compressed image header has no valid {key}")
    return value
