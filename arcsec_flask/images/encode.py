"""PNG encoding of a stretched image with Pillow: 8-bit grey ("L") or "RGB"."""

import io

import numpy as np
from PIL import Image


def encode_png(brightness: np.ndarray, size: tuple[int, int]) -> bytes:
    """`brightness`: float32 in [0, 1] of shape (channels, rows, columns), row 0 at the top;
    resized (area average) to `size` = (width, height) and written as PNG."""
    bands = [_band(plane, size) for plane in brightness]
    image = bands[0] if len(bands) == 1 else Image.merge("RGB", bands[:3])
    out = io.BytesIO()
    # optimize=False (the default) and zlib's default level: previews are made on request,
    # and a few percent of PNG size is not worth the time of a second pass.
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _band(plane: np.ndarray, size: tuple[int, int]) -> Image.Image:
    band = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32))  # mode "F"
    if band.size != size:
        band = band.resize(size, Image.Resampling.BOX)
    levels = np.rint(np.asarray(band) * 255)
    return Image.fromarray(np.clip(levels, 0, 255).astype(np.uint8))  # mode "L"
