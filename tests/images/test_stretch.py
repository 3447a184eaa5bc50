"""The zscale stretch on arrays: limits, blanks, constant images, colour kept linked."""

import numpy as np

from arcsec_flask.images.stretch import stretch


def test_a_ramp_goes_linearly_from_black_to_white():
    values = np.tile(np.arange(1000, dtype=np.float32), (50, 1))
    brightness = stretch(values)
    assert brightness.dtype == np.float32
    assert np.allclose(brightness[0], np.linspace(0, 1, 1000), atol=0.01)


def test_sky_noise_is_grey_and_stars_are_white():
    values = np.random.default_rng(4).normal(100, 5, (300, 400))
    values[:3, :3] = 50_000
    brightness = stretch(values)
    assert brightness[0, 0] == 1
    assert 0.35 < np.median(brightness) < 0.65
    assert 0.05 < brightness.std() < 0.3  # the noise is visible, not flattened or clipped


def test_the_samples_are_spread_over_every_column():
    # ZScaleInterval's own 1000 samples, strided by 1500 over this 1500 x 1000 image, all
    # fall in the first column: it would stretch that column's noise and burn the rest white.
    values = np.full((1000, 1500), 1000.0)
    values[:, 0] = 0
    values += np.random.default_rng(5).normal(0, 1, values.shape)
    assert 0.3 < np.median(stretch(values)[:, 1:]) < 0.7  # the sky's noise, in mid-grey


def test_blank_values_are_black_and_ignored():
    values = np.tile(np.arange(100, dtype=np.float64), (10, 1))
    values[0, :4] = [np.nan, np.inf, -np.inf, np.nan]
    brightness = stretch(values)
    assert (brightness[0, :4] == 0).all()
    assert np.allclose(brightness[5], np.linspace(0, 1, 100), atol=0.02)
    values[0, 4] = 1e30
    assert stretch(values)[0, 4] == 1  # a huge finite value is white, not blank


def test_constant_and_blank_images():
    assert (stretch(np.full((5, 5), 3.0)) == 0.5).all()
    assert (stretch(np.full((5, 5), np.nan)) == 0).all()
    single = np.full((5, 5), np.nan)
    single[2, 2] = 1.0
    assert stretch(single)[2, 2] == 0.5 and stretch(single).sum() == 0.5


def test_colour_channels_share_their_limits():
    grey = np.tile(np.linspace(0, 1, 200), (20, 1))
    colour = np.stack([grey, grey / 2, np.zeros_like(grey)])
    brightness = stretch(colour)
    assert np.allclose(brightness[1], brightness[0] / 2, atol=0.02)
    assert (brightness[2] == 0).all()
