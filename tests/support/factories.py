"""Writers of small FITS and XISF files for tests (the header tests and the upload tests).

For example `write_fits(tmp_path / "bias.fits.gz", {"IMAGETYP": "BIAS"}, compress="gzip")`
or `write_xisf(tmp_path / "m31.xisf", {"OBJECT": "M31"}, image_type="Light")`.
"""

import bz2
import gzip
import io
import struct
import zipfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import quoteattr

import numpy as np
from astropy.io import fits
from xisf import XISF

Cards = Mapping[str, Any] | Sequence[tuple[Any, ...]]
# What a night-time light frame from an amateur observatory typically carries.
LIGHT_CARDS: dict[str, Any] = {
    "IMAGETYP": ("LIGHT", "Type of exposure"),
    "OBJECT": "M31",
    "DATE-OBS": ("2024-03-01T21:00:00.000", "UTC start of the exposure"),
    "EXPTIME": (60.0, "[s] Exposure time"),
    "FILTER": "Ha",
    "TELESCOP": "RC8",
    "INSTRUME": "ZWO ASI2600MM Pro",
}
# The rest of what an amateur acquisition program (here N.I.N.A.) writes for a light frame.
ACQUISITION_CARDS: list[tuple[str, Any, str]] = [
    ("XBINNING", 1, "Binning factor in width"),
    ("YBINNING", 1, "Binning factor in height"),
    ("GAIN", 100, "Sensor gain"),
    ("OFFSET", 50, "Sensor gain offset"),
    ("CCD-TEMP", -10.1, "[degC] CCD temperature"),
    ("SET-TEMP", -10.0, "[degC] CCD temperature setpoint"),
    ("FOCALLEN", 1624.0, "[mm] Focal length"),
    ("RA", 10.684708, "[deg] RA of telescope"),
    ("DEC", 41.26875, "[deg] Declination of telescope"),
    ("OBJCTRA", "00 42 44", "[H M S] RA of imaged object"),
    ("OBJCTDEC", "+41 16 07", "[D M S] Declination of imaged object"),
    ("SITELAT", "43 55 54", "[deg] Observation site latitude"),
    ("SITELONG", "5 42 48", "[deg] Observation site longitude"),
    ("SWCREATE", "N.I.N.A. 3.0.0.2017", "Software that created this file"),
]


def light_frame_cards() -> list[tuple]:
    """LIGHT_CARDS then ACQUISITION_CARDS, as (key, value[, comment]) tuples in file order."""
    light = [(k, *(v if isinstance(v, tuple) else (v,))) for k, v in LIGHT_CARDS.items()]
    return light + ACQUISITION_CARDS


FitsCompression = Literal["gzip", "bzip2", "zip", "fz"] | None


def write_fits(
    path: str | Path,
    cards: Cards = (),
    data: np.ndarray | None = None,
    compress: FitsCompression = None,
) -> Path:
    """A FITS file with an 8x8 image (or `data`) and `cards`, in file order.

    `cards` is a mapping key -> value or (value, comment), or a list of (key, value) or
    (key, value, comment) tuples (COMMENT and HISTORY may repeat). Keys longer than eight
    characters become HIERARCH cards. `compress`: "gzip", "bzip2", "zip" (one member named
    as the path without `.zip`) or "fz" (tile-compressed image in extension 1).
    """
    path = Path(path)
    header = fits_header(cards)
    pixels = np.arange(64, dtype=np.int16).reshape(8, 8) if data is None else data
    if compress == "fz":
        hdus = fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(pixels, header)])
    else:
        hdus = fits.HDUList([fits.PrimaryHDU(pixels, header)])
    buffer = io.BytesIO()
    hdus.writeto(buffer)
    payload = buffer.getvalue()
    if compress == "gzip":
        payload = gzip.compress(payload, mtime=0)
    elif compress == "bzip2":
        payload = bz2.compress(payload)
    elif compress == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(path.name.removesuffix(".zip"), payload)
        return path
    path.write_bytes(payload)
    return path


def fits_header(cards: Cards) -> fits.Header:
    items = cards.items() if isinstance(cards, Mapping) else cards
    header = fits.Header()
    for item in items:
        key, rest = item[0], item[1:]
        if len(rest) == 1 and isinstance(rest[0], tuple):
            rest = rest[0]
        value, comment = rest[0], rest[1] if len(rest) > 1 else ""
        if len(key) > 8 or " " in key:
            key = key if key.startswith("HIERARCH ") else f"HIERARCH {key}"
        header.append(fits.Card(key, value, comment), bottom=True)
    return header


def patch_card(path: str | Path, key: str, text: str) -> Path:
    """Overwrite, in an uncompressed FITS file, what follows `KEY     = ` on the card `key`
    with `text` as is: how malformed cards (`-31 16 24`, `3,5`, `NaN`) are made."""
    path = Path(path)
    content = bytearray(path.read_bytes())
    prefix = f"{key:<8}= ".encode()
    for offset in range(0, len(content), 80):
        if content[offset : offset + 10] == prefix:
            content[offset + 10 : offset + 80] = text.encode("latin-1").ljust(70)[:70]
            path.write_bytes(bytes(content))
            return path
    raise KeyError(key)


def write_xisf(
    path: str | Path,
    fits_keywords: Mapping[str, Any],
    properties: Mapping[str, Any] | None = None,
    image_type: str | None = None,
    data: np.ndarray | None = None,
) -> Path:
    """A monolithic XISF file written by the `xisf` package, with an 8x8x1 image (or `data`,
    (rows, columns) of grey).

    `fits_keywords`: name -> value, (value, comment) or a list of those (repeated keywords);
    strings are written with FITS quotes, booleans as T/F. `properties`: XISF property id ->
    value (type inferred) or (type, value). `image_type` sets the Image `imageType` attribute.
    """
    path = Path(path)
    keywords = {
        name: [_keyword(entry) for entry in (values if isinstance(values, list) else [values])]
        for name, values in fits_keywords.items()
    }
    props = {key: _property(key, value) for key, value in (properties or {}).items()}
    XISF.write(
        str(path),
        np.zeros((8, 8, 1), dtype=np.uint16) if data is None else data[:, :, np.newaxis],
        creator_app="arcsec_flask tests",
        image_metadata={"FITSKeywords": keywords, "XISFProperties": props},
        xisf_metadata={},
    )
    if image_type is not None:
        _add_image_attribute(path, "imageType", image_type)
    return path


def xisf_bytes(xml: str | bytes, length: int | None = None, padding: bytes = b"") -> bytes:
    """A hand-made XISF file: signature, header length (`length` or the real one), XML."""
    body = (xml.encode() if isinstance(xml, str) else xml) + padding
    declared = len(body) if length is None else length
    return b"XISF0100" + struct.pack("<I", declared) + b"\0" * 4 + body


def _keyword(entry: Any) -> dict[str, str]:
    value, comment = entry if isinstance(entry, tuple) else (entry, "")
    if isinstance(value, bool):
        text = "T" if value else "F"
    elif isinstance(value, str):
        text = "'" + value.replace("'", "''").ljust(8) + "'" if value else ""
    else:
        text = str(value)
    return {"value": text, "comment": comment}


def _property(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, tuple):
        kind, value = value
    elif isinstance(value, bool):
        kind, value = "Boolean", str(value).lower()
    elif isinstance(value, int):
        kind = "Int32"
    elif isinstance(value, float):
        kind = "Float64"
    elif isinstance(value, datetime):
        kind, value = "TimePoint", value.isoformat()
    else:
        kind = "String"
    return {"id": key, "type": kind, "value": value}


def _add_image_attribute(path: Path, name: str, value: str) -> None:
    """Add an attribute to <Image> without moving the data block (it sits at an aligned
    offset well after the XML, in the zero padding that the longer XML overwrites)."""
    content = path.read_bytes()
    (length,) = struct.unpack_from("<I", content, 8)
    xml = content[16 : 16 + length]
    patched = xml.replace(b"<Image ", f"<Image {name}={quoteattr(value)} ".encode(), 1)
    grown = len(patched) - len(xml)
    assert content[16 + length : 16 + length + grown] == b"\0" * grown, "no room for the attribute"
    prefix = content[:8] + struct.pack("<I", len(patched)) + content[12:16]
    path.write_bytes(prefix + patched + content[16 + len(patched) :])


def write_xisf_image(
    path: str | Path,
    data: np.ndarray,
    codec: Literal["zlib", "lz4", "lz4hc", "zstd"] | None = None,
    shuffle: bool = False,
) -> Path:
    """A monolithic XISF file written by the `xisf` package holding `data`: (rows, columns)
    for grey, or (rows, columns, 3) for RGB; row 0 is the top of the picture. `codec`
    compresses the data block (with byte shuffling if `shuffle`) when that makes it smaller."""
    path = Path(path)
    pixels = data[:, :, np.newaxis] if data.ndim == 2 else data
    XISF.write(str(path), pixels, creator_app="arcsec_flask tests", codec=codec, shuffle=shuffle)
    return path


def write_xisf_keywords(
    path: str | Path, keywords: Sequence[tuple[str, str, str]], image_type: str | None = None
) -> Path:
    """A monolithic XISF file whose FITSKeywords are `keywords`, (name, value, comment) tuples
    with the value as FITS writes it (`'LIGHT   '`, `T`, `300.`), kept as given. Repeated names
    are grouped under their first position (the `xisf` package takes a mapping)."""
    path = Path(path)
    grouped: dict[str, list[dict[str, str]]] = {}
    for name, value, comment in keywords:
        grouped.setdefault(name, []).append({"value": value, "comment": comment})
    XISF.write(
        str(path),
        np.zeros((4, 4, 1), dtype=np.uint16),
        creator_app="arcsec_flask tests",
        image_metadata={"FITSKeywords": grouped, "XISFProperties": {}},
        xisf_metadata={},
    )
    if image_type is not None:
        _add_image_attribute(path, "imageType", image_type)
    return path
