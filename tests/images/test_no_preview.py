"""Files without a preview give None, whatever is wrong with them; the server's own I/O
errors are raised."""

import bz2
import gzip
import io
import zipfile

import numpy as np
import pytest
from astropy.io import fits

from arcsec_flask.images import render_preview
from tests.support.factories import fits_header, write_fits

from .pixels import ramp


def frame_bytes(data: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    fits.PrimaryHDU(data).writeto(buffer)
    return buffer.getvalue()


FRAME = frame_bytes(ramp(300, 200))
# Noise, which compresses poorly: a cut compressed stream ends inside the data.
NOISE = frame_bytes(np.random.default_rng(1).normal(1000, 30, (200, 300)).astype(np.int16))
HEADER_ONLY = fits_header([("SIMPLE", True), ("BITPIX", 8), ("NAXIS", 0)]).tostring().encode()
NO_END = FRAME[: FRAME.index(b"END     ")].ljust(2880 * 2, b" ")
ARCHIVE = io.BytesIO()
with zipfile.ZipFile(ARCHIVE, "w") as archive:
    archive.writestr("a.fits", FRAME)
    archive.writestr("b.fits", FRAME)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.txt", b"Seeing 2 arcsec, clouds after 2am.\n"),
        ("empty.fits", b""),
        ("page.fits", b"<!DOCTYPE html><html><body>Not found</body></html>\n"),
        ("random.fits", bytes(range(256)) * 40),
        ("header.fits", HEADER_ONLY),
        ("no-end.fits", NO_END),
        ("cut-header.fits", FRAME[:1000]),
        ("cut-data.fits", FRAME[:-5000]),
        ("header-only.fits.gz", gzip.compress(HEADER_ONLY)),
        ("cut-data.fits.gz", gzip.compress(FRAME[:-5000])),
        ("cut-stream.fits.gz", gzip.compress(NOISE)[:20_000]),
        ("damaged.fits.gz", gzip.compress(NOISE)[:100] + b"\xff" * 20_000),
        ("named.fits.gz", FRAME[:-5000]),  # plain FITS, cut, named .gz
        ("not-gzip.fits.gz", b"plain text, no gzip\n"),
        ("cut.fits.bz2", bz2.compress(NOISE)[:20_000]),
        ("two.zip", ARCHIVE.getvalue()),
        ("spectrum.fits", frame_bytes(np.ones(3000, np.float32))),
        ("one-row.fits", frame_bytes(np.ones((1, 3000), np.float32))),
        ("xisf.xisf", b"XISF0100 not really"),
    ],
)
def test_no_preview(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    assert render_preview(tmp_path / name, name) is None


def test_a_table_alone_has_no_preview(tmp_path):
    table = fits.BinTableHDU.from_columns([fits.Column("flux", "E", array=np.ones(50))])
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(tmp_path / "table.fits")
    assert render_preview(tmp_path / "table.fits", "table.fits") is None


def test_cut_or_damaged_tiles_have_no_preview(tmp_path):
    path = write_fits(tmp_path / "frame.fits.fz", data=ramp(300, 200), compress="fz")
    content = path.read_bytes()
    (tmp_path / "cut.fits.fz").write_bytes(content[:-3000])
    assert render_preview(tmp_path / "cut.fits.fz", "cut.fits.fz") is None
    heap = content.rindex(b"END     ") // 2880 * 2880 + 2880 + 200 * 8  # after the row table
    damaged = content[:heap] + b"\xa5" * (len(content) - heap)
    (tmp_path / "damaged.fits.fz").write_bytes(damaged)
    assert render_preview(tmp_path / "damaged.fits.fz", "damaged.fits.fz") is None


def test_tiles_inside_gzip_are_not_read(tmp_path):
    path = write_fits(tmp_path / "frame.fits.fz", data=ramp(300, 200), compress="fz")
    (tmp_path / "frame.fits.fz.gz").write_bytes(gzip.compress(path.read_bytes()))
    assert render_preview(tmp_path / "frame.fits.fz.gz", "frame.fits.fz.gz") is None


def test_the_servers_own_io_errors_are_raised(tmp_path):
    with pytest.raises(FileNotFoundError):
        render_preview(tmp_path / "gone.fits", "gone.fits")
    with pytest.raises(IsADirectoryError):
        render_preview(tmp_path, "folder.fits")
