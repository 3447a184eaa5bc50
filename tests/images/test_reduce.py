"""Block means as rows go by, and the preview's size."""

import numpy as np
import pytest

from arcsec_flask.images.reduce import BlockMean, preview_size


@pytest.mark.parametrize(
    ("width", "height", "max_size", "expected"),
    [
        (3000, 2000, 1024, (1024, 683)),
        (2000, 3000, 1024, (683, 1024)),
        (10000, 5000, 1024, (1024, 512)),
        (1024, 1024, 1024, (1024, 1024)),
        (8, 8, 1024, (8, 8)),
        (100_000, 2, 1024, (1024, 1)),
        (3000, 2000, 100, (100, 67)),
    ],
)
def test_preview_size(width, height, max_size, expected):
    assert preview_size(width, height, max_size) == expected


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 40, 1000])
def test_any_chunking_gives_the_block_means(chunk):
    image = np.random.default_rng(2).normal(0, 1, (40, 31)).astype(np.float32)
    mean = BlockMean(31, 40, kx=3, ky=4)
    for first in range(0, 40, chunk):
        mean.add(image[first : first + chunk])
    expected = image[:40, :30].reshape(10, 4, 10, 3).mean(axis=(1, 3))
    assert np.allclose(mean.result(), expected, atol=1e-6)


def test_nan_and_inf_are_left_out_of_a_block_mean_and_a_blank_block_stays_nan():
    image = np.arange(16, dtype=np.float32).reshape(4, 4)
    image[0, 0] = np.nan
    image[0, 1] = np.inf
    image[2:, 2:] = np.nan
    mean = BlockMean(4, 4, kx=2, ky=2)
    mean.add(image)
    result = mean.result()
    assert result[0, 0] == pytest.approx((4 + 5) / 2)
    assert result[0, 1] == pytest.approx((2 + 3 + 6 + 7) / 4)
    assert np.isnan(result[1, 1])


def test_integers_of_32_bits_keep_their_low_bits():
    image = np.full((2, 2), 2**31 + 3, dtype=np.uint32)
    mean = BlockMean(2, 2, kx=1, ky=1)
    mean.add(image.astype(np.float64) - 2**31)
    assert (mean.result() == 3).all()
