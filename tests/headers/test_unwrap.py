import bz2
import gzip
import tracemalloc
import zipfile

import pytest

from arcsec_flask.headers import HeaderError, read_header
from tests.support.factories import LIGHT_CARDS, write_xisf

BLANK_CARD = b" " * 80
SIMPLE_CARD = b"SIMPLE  =                    T".ljust(80)


@pytest.mark.parametrize(
    ("name", "compress", "compression"),
    [
        ("m31.fits.gz", "gzip", "gzip"),
        ("m31.fits.GZ", "gzip", "gzip"),
        ("m31.fit.gzip", "gzip", "gzip"),
        ("m31.fits.bz2", "bzip2", "bzip2"),
        ("m31.fts.bzip2", "bzip2", "bzip2"),
        ("m31.fits.zip", "zip", "zip"),
    ],
)
def test_compressed_fits(fits_file, name, compress, compression):
    info = read_header(fits_file(name, compress=compress), name)

    assert (info.format, info.compression) == ("fits", compression)
    assert info.target_name == "M31"


def test_compression_is_told_by_content_not_name(fits_file):
    path = fits_file("m31.fits", compress="gzip")  # gzip data without a .gz suffix
    info = read_header(path, "m31.fits")
    assert (info.format, info.compression) == ("fits", "gzip")


def test_fits_content_named_gz_is_read_as_it_is(fits_file):
    info = read_header(fits_file("m31.fits.gz"), "m31.fits.gz")
    assert (info.format, info.compression) == ("fits", None)


def test_gz_name_on_uncompressed_non_fits_content(raw_file):
    path = raw_file("frame.fits.gz", b"not compressed, not fits")
    with pytest.raises(HeaderError, match=r"ends in \.gz but its content is not gzip"):
        read_header(path, "frame.fits.gz")

    path = raw_file("notes.txt.gz", b"not compressed either")
    info = read_header(path, "notes.txt.gz")
    assert (info.format, info.compression) == ("other", None)


def test_corrupt_gzip_named_fits_is_an_error(raw_file):
    path = raw_file("m31.fits.gz", b"\x1f\x8b\x08\x00" + b"\xff" * 200)
    with pytest.raises(HeaderError, match="gzip"):
        read_header(path, "m31.fits.gz")


def test_corrupt_gzip_not_named_fits_is_a_plain_file(raw_file):
    info = read_header(raw_file("data.gz", b"\x1f\x8b\x08\x00" + b"\xff" * 200), "data.gz")
    assert (info.format, info.compression) == ("other", "gzip")


@pytest.mark.parametrize(("compress", "suffix"), [("gzip", ".gz"), ("bzip2", ".bz2")])
def test_truncated_compressed_fits_is_an_error(fits_file, compress, suffix):
    cards = [(f"KEY{index}", index) for index in range(200)]
    path = fits_file(f"cut.fits{suffix}", cards, compress=compress)
    path.write_bytes(path.read_bytes()[:200])

    with pytest.raises(HeaderError):
        read_header(path, path.name)


def test_corrupt_zip_named_fits_is_an_error(raw_file):
    path = raw_file("m31.fits.zip", b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(HeaderError, match="zip"):
        read_header(path, "m31.fits.zip")


def test_zip_of_several_files_is_a_plain_archive(fits_file, tmp_path):
    path = tmp_path / "night.fits.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(fits_file("a.fits"), "a.fits")
        archive.write(fits_file("b.fits"), "b.fits")

    info = read_header(path, "night.fits.zip")
    assert (info.format, info.compression, info.cards) == ("other", "zip", [])


def test_zip_without_members_is_a_plain_archive(tmp_path):
    path = tmp_path / "empty.zip"
    zipfile.ZipFile(path, "w").close()
    assert read_header(path, "empty.zip").compression == "zip"


def test_zip_member_name_decides(fits_file, tmp_path):
    path = tmp_path / "upload.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(fits_file("x.fits", {"OBJECT": "M1"}), "night1/masterDark.fits")

    info = read_header(path, "upload.zip")
    assert (info.format, info.compression) == ("fits", "zip")
    assert info.frame.calibration_type == "Darks"  # from the member's name


def test_zip_of_one_text_file_is_other(tmp_path):
    path = tmp_path / "notes.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "clear skies")
    assert read_header(path, "notes.zip").format == "other"


def test_gzip_of_text_is_other(raw_file):
    info = read_header(raw_file("log.txt.gz", gzip.compress(b"seeing 1.2 arcsec")), "log.txt.gz")
    assert (info.format, info.compression) == ("other", "gzip")


def test_gzip_of_nothing_named_fits_is_an_error(raw_file):
    with pytest.raises(HeaderError, match="empty"):
        read_header(raw_file("void.fits.gz", gzip.compress(b"")), "void.fits.gz")


def test_compressed_xisf(tmp_path):
    plain = write_xisf(tmp_path / "m31.xisf", LIGHT_CARDS, image_type="Light")
    path = tmp_path / "m31.xisf.bz2"
    path.write_bytes(bz2.compress(plain.read_bytes()))

    info = read_header(path, "m31.xisf.bz2")
    assert (info.format, info.compression, info.target_name) == ("xisf", "bzip2", "M31")


def write_bomb(path, first: bytes, filler: bytes, total: int, compress) -> None:
    """`first`, then `filler` repeated up to about `total` bytes, as concatenated members,
    then a corrupt tail: only a reader that decompressed everything would reach it."""
    member = compress(filler)
    with path.open("wb") as out:
        out.write(compress(first))
        for _ in range(total // len(filler)):
            out.write(member)
        out.write(b"\x1f\x8bBZh9 corrupt tail: whoever reads this read the whole bomb")


BOMBS = [
    ("zeros.fits.gz", b"", b"\0" * 2**20, gzip.compress, "does not start with a SIMPLE card"),
    ("blank.fits.gz", SIMPLE_CARD, BLANK_CARD * 13_107, gzip.compress, "first 1000 blocks"),
    ("blank.fits.bz2", SIMPLE_CARD, BLANK_CARD * 13_107, bz2.compress, "first 1000 blocks"),
    ("zeros.bin.gz", b"", b"\0" * 2**20, gzip.compress, None),
]


@pytest.mark.parametrize(("name", "first", "filler", "compress", "refusal"), BOMBS)
def test_compression_bomb_is_cheap(tmp_path, name, first, filler, compress, refusal):
    """300 MB decompressed: the reader stops at its cap (it never meets the corrupt tail,
    which would fail differently) and allocates little. Work, not time, is what is checked."""
    path = tmp_path / name
    write_bomb(path, first, filler, 300 * 2**20, compress)

    tracemalloc.start()
    try:
        if refusal:
            with pytest.raises(HeaderError, match=refusal):
                read_header(path, name)
        else:
            assert read_header(path, name).format == "other"
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < 32 * 2**20
