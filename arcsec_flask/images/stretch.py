"""The display stretch: values to brightness in [0, 1], as astronomers' viewers show a frame.

ZScale limits (IRAF's and ds9's default) then a linear stretch: what ds9 shows on opening a
frame. The sky lands between dark and mid grey (0.3 on a star field, 0.5 on pure noise) with
its noise visible, stars are white, an extended object shows up to several times the sky
noise. An asinh stretch after zscale was tried and dropped: it lifts a sky at 0.3 to 0.6
and one at 0.5 to 0.77, a washed-out grey; asinh suits a min-max interval, where zscale has
already done the contrast work.

Limits are computed on the reduced image, over the finite values only. Colour images get one
set of limits for their three channels together (a linked stretch): colours keep their
ratios, and a channel that holds nothing stays black instead of being stretched into noise.
"""

import numpy as np
from astropy.visualization import ZScaleInterval

GREY = 0.5  # what a constant image shows
SAMPLES = 10_000
# Fixed, so that a file always gives the same preview.
SEED = 20240301


def stretch(values: np.ndarray) -> np.ndarray:
    """`values` (any shape) -> float32 brightness in [0, 1]; NaN and inf are black (0)."""
    bad = ~np.isfinite(values)
    if bad.all():
        return np.zeros(values.shape, dtype=np.float32)
    low, high = limits(values, bad)
    if high <= low:
        brightness = np.full(values.shape, GREY, dtype=np.float32)
    else:
        with np.errstate(invalid="ignore", over="ignore"):
            brightness = (values.astype(np.float32) - np.float32(low)) / np.float32(high - low)
        np.clip(brightness, 0, 1, out=brightness)
    brightness[bad] = 0
    return brightness


def limits(values: np.ndarray, bad: np.ndarray) -> tuple[float, float]:
    """ZScale's (low, high) over the finite values. When zscale collapses to one value (a
    flat background under a few bright pixels: its samples may all be equal), the minimum
    and maximum are taken instead, so that the bright pixels still show."""
    finite = _sample(values)
    if finite.size < SAMPLES // 10:  # mostly blank: sample the finite values alone
        finite = _sample(values[~bad])
    low, high = ZScaleInterval(n_samples=finite.size).get_limits(finite)
    if high <= low:
        every = values[~bad]
        low, high = every.min(), every.max()
    return float(low), float(high)


def _sample(values: np.ndarray) -> np.ndarray:
    """Finite values drawn at random over the whole image. ZScaleInterval's own sampling
    takes every (size / n)-th pixel in raster order: when that stride is a multiple of the
    width (a 1500 x 1000 image and 1000 samples), every sample falls in one column."""
    flat = values.ravel()
    if flat.size <= SAMPLES:
        picked = flat
    else:
        picked = flat[np.random.default_rng(SEED).integers(0, flat.size, SAMPLES)]
    return picked[np.isfinite(picked)]
