"""The regression corpus of real headers (tests/data/headers/): loading and building files.

Each `NAME.hdr` holds the card images of one real header, one card a line, as its writer
produced them (see the README there for sources); a line starting with `XTENSION=` begins the
first extension's header. `expected.toml` says what an astronomer reads in each header.
The builders wrap the cards, untouched, in a FITS file (4x4 pixels; an empty primary then an
image extension when the header has an extension), a gzipped FITS file, or an XISF file whose
FITSKeywords are the same cards.
"""

import gzip
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from tests.support.factories import write_xisf_keywords

CORPUS = Path(__file__).resolve().parents[1] / "data" / "headers"
CARD = 80
BLOCK = 2880
# Cards that describe the data layout: the builder writes its own, for its 4x4 image.
STRUCTURAL = {"SIMPLE", "BITPIX", "NAXIS", "EXTEND", "PCOUNT", "GCOUNT", "XTENSION", "GROUPS"}
STRUCTURAL |= {"BZERO", "BSCALE", "BLANK", "END", "ZIMAGE"} | {f"NAXIS{i}" for i in range(1, 10)}
PIXELS = np.arange(16, dtype=">i2").reshape(4, 4)


def names() -> list[str]:
    return sorted(path.stem for path in CORPUS.glob("*.hdr"))


def expectations() -> dict[str, dict[str, Any]]:
    with (CORPUS / "expected.toml").open("rb") as table:
        return tomllib.load(table)


def load(name: str) -> list[list[str]]:
    """The header's card images (80 characters each), primary first, then the extension's."""
    hdus: list[list[str]] = [[]]
    for line in (CORPUS / f"{name}.hdr").read_text("ascii").splitlines():
        if len(line) > CARD:
            raise ValueError(f"{name}: a card longer than {CARD} characters: {line!r}")
        if line.startswith("XTENSION="):
            hdus.append([])
        if line.strip():
            hdus[-1].append(line.ljust(CARD))
    return [hdu for hdu in hdus if hdu]


def content_cards(images: list[str]) -> list[str]:
    return [image for image in images if image[:8].strip() not in STRUCTURAL]


def fits_bytes(name: str) -> bytes:
    hdus = load(name)
    if len(hdus) == 1:
        return _header(_structure(fits.PrimaryHDU(PIXELS)), hdus[0]) + _data()
    primary = _header(_structure(fits.PrimaryHDU()), hdus[0])
    return primary + _header(_structure(fits.ImageHDU(PIXELS)), hdus[1]) + _data()


def write_fits(name: str, path: Path) -> Path:
    path.write_bytes(fits_bytes(name))
    return path


def write_fits_gz(name: str, path: Path) -> Path:
    path.write_bytes(gzip.compress(fits_bytes(name), mtime=0))
    return path


def write_xisf(name: str, path: Path) -> Path:
    """The cards, primary's then extension's, as the XISF FITSKeywords of one image."""
    keywords = [_keyword(image) for hdu in load(name) for image in content_cards(hdu)]
    return write_xisf_keywords(path, keywords)


def _structure(hdu: fits.PrimaryHDU | fits.ImageHDU) -> list[str]:
    return [card.image for card in hdu.header.cards]


def _header(structure: list[str], images: list[str]) -> bytes:
    text = "".join(structure + content_cards(images)) + "END".ljust(CARD)
    return text.ljust(-(-len(text) // BLOCK) * BLOCK).encode("ascii")


def _data() -> bytes:
    data = PIXELS.tobytes()
    return data + b"\0" * (-len(data) % BLOCK)


def _keyword(image: str) -> tuple[str, str, str]:
    """(name, value as written, comment) of a card image, as PixInsight keeps FITS keywords."""
    if image.upper().startswith("HIERARCH") and "=" in image:
        name, _, field = image[9:].partition("=")
    elif image[8:10] == "= ":
        name, field = image[:8], image[10:]
    else:  # commentary cards and cards without a value indicator (`JULIAN  2449074.8`)
        return image[:8].strip(), "", image[8:].strip()
    value, comment = _split(field)
    return name.strip(), value, comment


def _split(field: str) -> tuple[str, str]:
    in_quotes = False
    for index, char in enumerate(field):
        if char == "'":
            in_quotes = not in_quotes
        elif char == "/" and not in_quotes:
            return field[:index].strip(), field[index + 1 :].strip()
    return field.strip(), ""
