"""Pixel helpers for the preview tests: test images with known stretches, PNG decoding."""

import io
from typing import Any

import numpy as np
from PIL import Image


def decode(png: bytes) -> tuple[np.ndarray, str]:
    """(pixels, Pillow mode) of PNG bytes; RGB pixels have shape (rows, columns, 3)."""
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        return np.asarray(image), image.mode


def ramp(width: int = 3000, height: int = 2000, dtype: Any = np.int16) -> np.ndarray:
    """Values growing left to right, 0 to width - 1. Sorted samples of a ramp lie on a line,
    so zscale's limits are its minimum and maximum: the preview goes linearly black to white."""
    return np.broadcast_to(np.arange(width).astype(dtype), (height, width)).copy()


def expected_ramp(columns: int) -> np.ndarray:
    """The grey levels of a stretched `ramp` over `columns` pixels."""
    return np.linspace(0, 255, columns)
