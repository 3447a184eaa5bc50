"""read_header on files that are not FITS or XISF, and its contract."""

import contextlib
import json
import os
import random
from dataclasses import asdict

import pytest

from arcsec_flask.headers import HeaderError, HeaderInfo, read_header

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.txt", b"clear skies all night\n"),
        ("preview.png", PNG),
        ("preview.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 64),
        ("session.log", bytes(range(256))),
        ("README", b"SIMPLE"),
        ("data.csv", b"time,flux\n1,2\n"),
        ("x.xisf", b"XISF0099 not quite"),
    ],
)
def test_other_files(raw_file, name, content):
    info = read_header(raw_file(name, content), name)
    assert info == HeaderInfo(format="other", compression=None)
    assert (info.cards, info.frame, info.date_obs, info.target_name) == ([], None, None, None)


@pytest.mark.parametrize(
    "name", ["empty.fits", "empty.fits.gz", "empty.xisf", "empty", "empty.zip", "e.fz"]
)
def test_empty_file_is_always_other(raw_file, name):
    info = read_header(raw_file(name, b""), name, "image/fits")
    assert info == HeaderInfo(format="other", compression=None)


def test_header_error_is_a_value_error():
    assert issubclass(HeaderError, ValueError)


def test_path_may_be_a_string_and_the_name_a_client_path(fits_file):
    path = fits_file("frame.fits", {"OBJECT": "M13"})
    info = read_header(os.fspath(path), "C:\\Users\\obs\\Bias_001.fits")
    assert info.frame.calibration_type == "Biases"  # only the base name counts


def test_result_is_json_serialisable(fits_file, xisf_file):
    for path in (fits_file("m31.fits"), xisf_file("m31.xisf", image_type="Light")):
        info = read_header(path, path.name)
        payload = asdict(info) | {"date_obs": info.date_obs.isoformat()}
        assert json.loads(json.dumps(payload))["cards"]


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes_never_raise_anything_but_header_error(raw_file, seed):
    generator = random.Random(seed)
    prefixes = [b"", b"SIMPLE  =", b"XISF0100", b"\x1f\x8b", b"BZh", b"PK\x03\x04", b"PK\x05\x06"]
    content = generator.choice(prefixes) + generator.randbytes(generator.randint(1, 6000))
    for name in ("random.fits", "random.bin", "random.fits.gz", "random.zip"):
        with contextlib.suppress(HeaderError):
            read_header(raw_file(name, content), name)
