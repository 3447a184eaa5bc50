"""Previews of XISF images: grey and RGB, every sample format, compressed blocks, storage."""

import gzip
import logging
import struct
import zlib

import lz4.block
import numpy as np
import pytest
import zstandard

from arcsec_flask.images import render_preview
from tests.support.factories import write_xisf_image, xisf_bytes

from .pixels import expected_ramp, ramp

SAMPLE_FORMATS = {
    np.uint8: "UInt8",
    np.uint16: "UInt16",
    np.uint32: "UInt32",
    np.float32: "Float32",
    np.float64: "Float64",
}


def test_a_grey_image_is_shrunk_and_its_first_row_is_the_top(tmp_path, preview):
    data = ramp(3000, 2000, np.uint16)
    data[:40] = 2999  # white rows: XISF row 0 is the top of the picture
    pixels, mode = preview(write_xisf_image(tmp_path / "m31.xisf", data))
    assert mode == "L"
    assert pixels.shape == (683, 1024)
    assert (pixels[:13] == 255).all()
    assert np.abs(pixels[-1] - expected_ramp(1024)).max() <= 2


@pytest.mark.parametrize("dtype", list(SAMPLE_FORMATS))
def test_every_sample_format(tmp_path, preview, dtype):
    width = 255 if dtype == np.uint8 else 1500
    data = ramp(width, 300, dtype) / (width - 1 if dtype in (np.float32, np.float64) else 1)
    path = write_xisf_image(tmp_path / "frame.xisf", data.astype(dtype))
    assert f'sampleFormat="{SAMPLE_FORMATS[dtype]}"'.encode() in path.read_bytes()[:4096]
    pixels, _ = preview(path)
    assert np.abs(pixels[0] - expected_ramp(pixels.shape[1])).max() <= 2


def test_a_red_only_image_is_red(tmp_path, preview):
    data = np.zeros((200, 300, 3), np.float32)
    data[..., 0] = 0.8
    data[50:60, :, 0] = 0.9
    pixels, mode = preview(write_xisf_image(tmp_path / "red.xisf", data))
    assert mode == "RGB" and pixels.shape == (200, 300, 3)
    assert (pixels[..., 0] >= 200).all()
    assert (pixels[..., 1:] <= 10).all()


def test_the_channels_keep_their_order(tmp_path, preview):
    data = np.zeros((200, 300, 3), np.uint16)
    data[:, :100, 0] = data[:, 100:200, 1] = data[:, 200:, 2] = 5000
    data[:, :, 1] += np.arange(300, dtype=np.uint16)  # some texture for zscale
    pixels, _ = preview(write_xisf_image(tmp_path / "rgb.xisf", data))
    red, green, blue = pixels[100, 50], pixels[100, 150], pixels[100, 250]
    assert red[0] > 200 and max(red[1:]) < 30
    assert green[1] > 200 and max(green[0], green[2]) < 30
    assert blue[2] > 200 and max(blue[:2]) < 30


@pytest.mark.parametrize(
    ("codec", "shuffle"),
    [("zlib", False), ("zlib", True), ("lz4", False), ("lz4hc", True), ("zstd", True)],
)
def test_compressed_blocks_look_like_the_uncompressed_one(tmp_path, codec, shuffle):
    grey = ramp(1500, 400, np.uint16)
    data = np.dstack([grey, grey[:, ::-1], grey // 2])
    plain = render_preview(write_xisf_image(tmp_path / "plain.xisf", data), "plain.xisf")
    path = write_xisf_image(tmp_path / "packed.xisf", data, codec=codec, shuffle=shuffle)
    header = path.read_bytes()[:4096]
    assert f'compression="{codec}{"+sh" if shuffle else ""}:'.encode() in header
    assert render_preview(path, "packed.xisf") == plain


def test_an_unsupported_codec_gives_no_preview_and_says_why(tmp_path, caplog):
    path = write_xisf_image(tmp_path / "packed.xisf", ramp(300, 200, np.uint16), codec="zlib")
    content = path.read_bytes().replace(b'compression="zlib:', b'compression="brot:', 1)
    path.write_bytes(content)
    with caplog.at_level(logging.DEBUG, logger="arcsec_flask.images"):
        assert render_preview(path, "packed.xisf") is None
    assert "codec 'brot' is not supported" in caplog.text


def test_corrupt_compressed_data_gives_no_preview(tmp_path):
    path = write_xisf_image(tmp_path / "packed.xisf", ramp(300, 200, np.uint16), codec="zlib")
    content = bytearray(path.read_bytes())
    content[4096 + 10 : 4096 + 60] = b"\xff" * 50
    path.write_bytes(bytes(content))
    assert render_preview(path, "packed.xisf") is None


def test_gzipped_xisf(tmp_path):
    data = ramp(1500, 400, np.uint16)
    plain = render_preview(write_xisf_image(tmp_path / "m31.xisf", data), "m31.xisf")
    wrapped = tmp_path / "m31.xisf.gz"
    wrapped.write_bytes(gzip.compress((tmp_path / "m31.xisf").read_bytes()))
    assert render_preview(wrapped, wrapped.name) == plain


def hand_made_xisf(data: bytes, attributes: str) -> bytes:
    """An XISF file whose one image has `attributes` and data `data` attached at 4096."""
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><xisf version="1.0" '
        f'xmlns="http://www.pixinsight.com/xisf"><Image {attributes} '
        f'location="attachment:4096:{len(data)}"/></xisf>'
    )
    head = xisf_bytes(xml)
    return head + b"\0" * (4096 - len(head)) + data


def test_interleaved_big_endian_storage(tmp_path, preview):
    # pixelStorage="Normal" (each pixel's channels together) and byteOrder="big": the xisf
    # package writes neither, PixInsight may.
    grey = ramp(600, 200, np.uint16)
    data = np.dstack([grey, np.zeros_like(grey), grey[:, ::-1]])
    planar = render_preview(write_xisf_image(tmp_path / "planar.xisf", data), "planar.xisf")
    attributes = 'geometry="600:200:3" sampleFormat="UInt16" colorSpace="RGB"'
    content = hand_made_xisf(
        data.astype(">u2").tobytes(), f'{attributes} pixelStorage="Normal" byteOrder="big"'
    )
    (tmp_path / "normal.xisf").write_bytes(content)
    assert render_preview(tmp_path / "normal.xisf", "normal.xisf") == planar


def test_a_cube_shows_its_first_plane(tmp_path, preview):
    planes = np.stack([ramp(300, 200, np.uint16), np.zeros((200, 300), np.uint16)])
    content = hand_made_xisf(
        planes.astype("<u2").tobytes(),
        'geometry="300:200:2:1" sampleFormat="UInt16" colorSpace="Gray"',
    )
    (tmp_path / "cube.xisf").write_bytes(content)
    pixels, _ = preview(tmp_path / "cube.xisf")
    assert pixels.shape == (200, 300)
    assert np.abs(pixels[0] - expected_ramp(300)).max() <= 2


@pytest.mark.parametrize(
    ("attributes", "data_size"),
    [
        ('geometry="8:8:1" sampleFormat="Complex32" colorSpace="Gray"', 512),
        ('geometry="8:8:1" sampleFormat="UInt16" colorSpace="Gray"', 64),  # block too short
        ('geometry="8" sampleFormat="UInt16" colorSpace="Gray"', 128),  # not an image
        ('geometry="8:x:1" sampleFormat="UInt16" colorSpace="Gray"', 128),
    ],
)
def test_images_that_cannot_be_read(tmp_path, attributes, data_size):
    (tmp_path / "bad.xisf").write_bytes(hand_made_xisf(b"\1" * data_size, attributes))
    assert render_preview(tmp_path / "bad.xisf", "bad.xisf") is None


def test_a_data_block_beyond_the_end_of_the_file(tmp_path):
    path = write_xisf_image(tmp_path / "cut.xisf", ramp(300, 200, np.uint16))
    path.write_bytes(path.read_bytes()[: 4096 + 1000])
    assert render_preview(path, "cut.xisf") is None


def test_inline_data_is_not_read(tmp_path):
    xml = (
        '<xisf version="1.0" xmlns="http://www.pixinsight.com/xisf"><Image geometry="2:2:1" '
        'sampleFormat="UInt8" colorSpace="Gray" location="inline:base64">AAECAw==</Image></xisf>'
    )
    (tmp_path / "inline.xisf").write_bytes(xisf_bytes(xml))
    assert render_preview(tmp_path / "inline.xisf", "inline.xisf") is None


def test_a_header_length_beyond_the_file(tmp_path):
    content = b"XISF0100" + struct.pack("<I", 10_000) + b"\0" * 4 + b"<xisf/>"
    (tmp_path / "short.xisf").write_bytes(content)
    assert render_preview(tmp_path / "short.xisf", "short.xisf") is None


def test_compressed_sub_blocks(tmp_path):
    grey = ramp(600, 200, np.uint16)
    plain = render_preview(write_xisf_image(tmp_path / "plain.xisf", grey), "plain.xisf")
    raw = grey.astype("<u2").tobytes()
    halves = [zlib.compress(raw[:100_000]), zlib.compress(raw[100_000:])]
    subblocks = f"{len(halves[0])},100000:{len(halves[1])},{len(raw) - 100_000}"
    attributes = (
        'geometry="600:200:1" sampleFormat="UInt16" colorSpace="Gray" '
        f'compression="zlib:{len(raw)}" subblocks="{subblocks}"'
    )
    (tmp_path / "split.xisf").write_bytes(hand_made_xisf(b"".join(halves), attributes))
    assert render_preview(tmp_path / "split.xisf", "split.xisf") == plain


@pytest.mark.parametrize("codec", ["zlib", "zstd", "lz4"])
@pytest.mark.parametrize("extra", [-100, 100])
def test_a_block_that_decompresses_to_another_size_than_declared(tmp_path, codec, extra):
    raw = ramp(300, 200, np.uint16).astype("<u2").tobytes()
    declared = len(raw) - extra  # more data than declared, or less
    packed = {
        "zlib": zlib.compress,
        "zstd": zstandard.compress,
        "lz4": lambda data: lz4.block.compress(data, store_size=False),
    }[codec](raw)
    geometry = f'geometry="300:{200 - (extra > 0)}:1"' if extra > 0 else 'geometry="300:200:1"'
    attributes = f'{geometry} sampleFormat="UInt16" compression="{codec}:{declared}"'
    (tmp_path / "odd.xisf").write_bytes(hand_made_xisf(packed, attributes))
    assert render_preview(tmp_path / "odd.xisf", "odd.xisf") is None
