"""Previews of FITS frames: size, stretch, orientation, every sample type, every wrapper."""

import gzip

import numpy as np
import pytest
from astropy.io import fits

from arcsec_flask.images import render_preview
from tests.support.factories import write_fits

from .pixels import expected_ramp, ramp


def test_a_ramp_is_shrunk_to_1024_pixels_and_stretched_black_to_white(tmp_path, preview):
    pixels, mode = preview(write_fits(tmp_path / "ramp.fits", data=ramp(3000, 2000)))
    assert mode == "L"
    assert pixels.shape == (683, 1024)  # 3000 x 2000, the long side at 1024
    assert (pixels == pixels[0]).all()  # every row alike
    assert np.abs(pixels[0] - expected_ramp(1024)).max() <= 2
    assert pixels[0, 0] == 0 and pixels[0, -1] == 255


def test_the_first_fits_row_is_the_bottom_of_the_preview(tmp_path, preview):
    data = ramp(3000, 2000)
    data[:40] = 2999  # white rows 1-40 of the FITS image: the bottom, as ds9 shows it
    pixels, _ = preview(write_fits(tmp_path / "band.fits", data=data))
    assert (pixels[-13:] == 255).all()
    assert np.abs(pixels[0] - expected_ramp(1024)).max() <= 2


def test_a_tall_frame_keeps_its_aspect_ratio(tmp_path, preview):
    pixels, _ = preview(write_fits(tmp_path / "tall.fits", data=ramp(2000, 3000)))
    assert pixels.shape == (1024, 683)


def test_a_small_frame_keeps_its_size_and_max_size_is_honoured(tmp_path, preview):
    small = write_fits(tmp_path / "small.fits", data=ramp(300, 200))
    assert preview(small)[0].shape == (200, 300)
    assert preview(small, max_size=100)[0].shape == (67, 100)


def test_sky_stars_and_dead_columns(tmp_path, preview):
    rng = np.random.default_rng(1)
    data = rng.normal(1000, 10, (2000, 3000)).astype(np.float32)
    data[1000:1100, 1000:1100] = 60000  # a saturated star
    data[500:600, 500:600] += 15  # faint nebulosity, 1.5 sigma of the pixel noise
    data[:, 2900:] = 0  # dead columns
    pixels, _ = preview(write_fits(tmp_path / "sky.fits", data=data))
    star = pixels[683 - 1050 * 683 // 2000, 1050 * 1024 // 3000]
    faint = np.median(pixels[485:505, 175:200])  # FITS rows 522-580, columns 513-586
    sky = np.median(pixels[:, :900])
    assert star == 255
    assert (pixels[:, -30:] == 0).all()
    assert 64 <= sky <= 160  # dark to mid grey, the noise visible (ds9's zscale look)
    assert sky + 40 <= faint <= 250


@pytest.mark.parametrize(
    "dtype", [np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.float32, np.float64]
)
def test_every_bitpix_and_the_unsigned_bzero_convention(tmp_path, preview, dtype):
    # astropy writes uint16 and uint32 as signed integers with BZERO = 2**15 and 2**31: the
    # ramp is continuous only if the offset is applied (in float64 for 32 bits).
    width = 255 if dtype == np.uint8 else 3000
    data = ramp(width, 200, dtype) + (dtype(30_000) if dtype == np.uint16 else 0)
    path = write_fits(tmp_path / "ramp.fits", data=data)
    pixels, _ = preview(path)
    assert np.abs(pixels[0] - expected_ramp(pixels.shape[1])).max() <= 2


def test_bscale_and_blank_pixels(tmp_path, preview):
    data = ramp(3000, 2000)
    data[900:1100, :] = -32768
    hdu = fits.PrimaryHDU(data)
    hdu.header["BLANK"] = -32768
    hdu.header["BSCALE"] = -2.0  # the ramp runs right to left
    hdu.writeto(tmp_path / "blank.fits")
    pixels, _ = preview(tmp_path / "blank.fits")
    assert (pixels[330:350] == 0).all()  # blank rows are black
    assert np.abs(pixels[0] - expected_ramp(1024)[::-1]).max() <= 2


def test_nan_and_inf_are_black_and_ignored_by_the_stretch(tmp_path, preview):
    data = ramp(3000, 2000, np.float32)
    data[:, :300] = np.nan
    data[1000:, 2700:] = np.inf
    pixels, _ = preview(write_fits(tmp_path / "nan.fits", data=data))
    assert (pixels[:, :100] == 0).all()
    assert (pixels[:300, 925:] == 0).all()
    assert pixels[-1, -1] == 255  # the ramp's end at the bottom right, not the inf
    assert pixels[-1, 110] <= 5  # the ramp's start, right of the NaN


def test_a_constant_frame_is_one_grey(tmp_path, preview):
    pixels, _ = preview(write_fits(tmp_path / "flat.fits", data=np.full((50, 80), 7.0)))
    assert (pixels == 128).all()


def test_an_all_nan_frame_is_black(tmp_path, preview):
    pixels, _ = preview(write_fits(tmp_path / "nan.fits", data=np.full((50, 80), np.nan)))
    assert (pixels == 0).all()


@pytest.mark.parametrize("compress", ["gzip", "bzip2", "zip", "fz"])
def test_wrapped_and_tile_compressed_frames_look_like_the_plain_one(tmp_path, compress):
    data = ramp(1500, 600)
    data[:40] = 6000
    plain = render_preview(write_fits(tmp_path / "plain.fits", data=data), "plain.fits")
    suffix = {"gzip": ".fits.gz", "bzip2": ".fits.bz2", "zip": ".fits.zip", "fz": ".fits.fz"}
    name = f"frame{suffix[compress]}"
    path = write_fits(tmp_path / name, data=data, compress=compress)
    assert render_preview(path, name) == plain  # integers: lossless in every case


def test_the_first_plane_of_a_cube(tmp_path, preview):
    cube = np.stack([ramp(600, 400), ramp(600, 400)[:, ::-1], np.zeros((400, 600), np.int16)])
    first, _ = preview(write_fits(tmp_path / "cube.fits", data=cube))
    assert first.shape == (400, 600)
    assert np.abs(first[0] - expected_ramp(600)).max() <= 2
    tiles, _ = preview(write_fits(tmp_path / "cube.fits.fz", data=cube, compress="fz"))
    assert (tiles == first).all()


@pytest.mark.parametrize("name", ["frame.fits", "frame.fits.gz"])
def test_the_first_image_extension_after_a_table_and_a_one_row_image(tmp_path, preview, name):
    # The primary holds a 3000 x 1 spectrum (not an image), then a table, then the image.
    table = fits.BinTableHDU.from_columns([fits.Column("flux", "E", array=np.ones(5000))])
    image = fits.ImageHDU(ramp(600, 400))
    hdus = fits.HDUList([fits.PrimaryHDU(np.ones((1, 3000), np.float32)), table, image])
    hdus.writeto(tmp_path / "frame.fits")
    if name.endswith(".gz"):
        (tmp_path / name).write_bytes(gzip.compress((tmp_path / "frame.fits").read_bytes()))
    pixels, _ = preview(tmp_path / name)
    assert pixels.shape == (400, 600)
    assert np.abs(pixels[0] - expected_ramp(600)).max() <= 2


def test_the_content_decides_not_the_name(tmp_path, preview):
    # Plain FITS named .gz, and named .dat: the SIMPLE card says what they are.
    path = write_fits(tmp_path / "frame.fits.gz", data=ramp(300, 200))
    assert preview(path)[0].shape == (200, 300)
    assert preview(write_fits(tmp_path / "frame.dat", data=ramp(300, 200)))[0].shape == (200, 300)
