import pytest

from arcsec_flask.headers.detect import (
    claimed_format,
    compression_by_magic,
    extension,
    mime_says_fits,
    split_compression_suffix,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("m31.fits.gz", ("m31.fits", "gzip")),
        ("m31.fits.GZIP", ("m31.fits", "gzip")),
        ("m31.fits.bz2", ("m31.fits", "bzip2")),
        ("m31.xisf.bzip2", ("m31.xisf", "bzip2")),
        ("night.zip", ("night", "zip")),
        ("m31.fits", ("m31.fits", None)),
        (".gz", (".gz", None)),
        ("gz", ("gz", None)),
    ],
)
def test_split_compression_suffix(name, expected):
    assert split_compression_suffix(name) == expected


@pytest.mark.parametrize(
    ("head", "compression"),
    [
        (b"\x1f\x8b\x08\x00", "gzip"),
        (b"BZh91AY&SY", "bzip2"),
        (b"PK\x03\x04", "zip"),
        (b"PK\x05\x06", "zip"),
        (b"SIMPLE  =", None),
        (b"", None),
    ],
)
def test_compression_by_magic(head, compression):
    assert compression_by_magic(head) == compression


@pytest.mark.parametrize(
    ("name", "ext"), [("a.FITS", "fits"), ("a.b.fz", "fz"), ("noext", ""), (".fits", "")]
)
def test_extension(name, ext):
    assert extension(name) == ext


@pytest.mark.parametrize(
    ("content_type", "says"),
    [
        ("image/fits", True),
        ("application/fits", True),
        (" Image/FITS ; charset=binary", True),
        ("application/octet-stream", False),
        ("", False),
        (None, False),
    ],
)
def test_mime_says_fits(content_type, says):
    assert mime_says_fits(content_type) is says


EXTENSIONS = ["fits", "fit", "fts", "ft", "mt", "imfits", "imfit", "uvfits", "uvfit"]
EXTENSIONS += ["pha", "rmf", "arf", "rsp", "pi", "fz"]


@pytest.mark.parametrize("ext", EXTENSIONS + [ext.upper() for ext in EXTENSIONS])
def test_every_fits_extension(ext):
    assert claimed_format(b"", f"frame.{ext}", None) == "fits"


@pytest.mark.parametrize(
    ("head", "name", "mime", "claimed"),
    [
        (b"XISF0100....", "a.fits", "image/fits", "xisf"),
        (b"SIMPLE  =                    T", "a.xisf", None, "fits"),
        (b"SIMPLE  =                    T", "a.bin", None, "fits"),
        (b"hello", "a.bin", "image/fits", "fits"),
        (b"hello", "a.xisf", None, "other"),
        (b"hello", "a.txt", None, "other"),
        (b"hello", "fits", None, "other"),
    ],
)
def test_claimed_format(head, name, mime, claimed):
    assert claimed_format(head, name, mime) == claimed
