"""XISF header cards from the XML header of a monolithic XISF file; pixel data is never read.

The length field and the XML are untrusted: the length is capped and checked against the
file size, and the XML is parsed with DTDs (hence entity expansion) refused.
"""

import math
import re
import struct
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .detect import XISF_SIGNATURE
from .model import Card, CardValue, HeaderError
from .unwrap import Readable

PREFIX_SIZE = 16  # signature, header length, reserved
MAX_HEADER_LENGTH = 16 * 1024 * 1024
INTEGER = re.compile(r"[+-]?\d{1,30}")  # longer digit strings stay text
REAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([EeDd][+-]?\d+)?")
INTEGER_TYPES = ("Int", "UInt", "Byte", "Short")
REAL_TYPES = ("Float", "Double")


def read_xisf_cards(stream: Readable, size: int | None = None) -> list[Card]:
    """Cards of the first image: its FITS keywords, then XISF properties (the image's, then the
    file's), then the image's attributes as `Image:<name>`. `size` is the file size if known."""
    prefix = stream.read(PREFIX_SIZE)
    if len(prefix) < PREFIX_SIZE or not prefix.startswith(XISF_SIGNATURE):
        raise HeaderError("The XISF file is truncated: it ends within its first 16 bytes.")
    (length,) = struct.unpack_from("<I", prefix, len(XISF_SIGNATURE))
    if length == 0:
        raise HeaderError("The XISF header is empty (its declared length is 0).")
    if length > MAX_HEADER_LENGTH:
        raise HeaderError(
            f"The XISF header declares {length:,} bytes, more than the "
            f"{MAX_HEADER_LENGTH:,} bytes allowed."
        )
    if size is not None and length > size - PREFIX_SIZE:
        raise HeaderError(f"The XISF header declares {length:,} bytes, more than the file holds.")
    xml = stream.read(length)
    if len(xml) < length:
        raise HeaderError("The XISF header is truncated: the file ends before its XML does.")
    return cards_from_xml(xml.strip(b"\0"))


def cards_from_xml(xml: bytes) -> list[Card]:
    root = _parse(xml)
    image = _first_child(root, "Image")
    metadata = _first_child(root, "Metadata")
    cards: list[Card] = []
    if image is not None:
        cards += [_keyword_card(e) for e in _children(image, "FITSKeyword") if e.get("name")]
        cards += [_property_card(e) for e in _children(image, "Property") if e.get("id")]
    if metadata is not None:
        cards += [_property_card(e) for e in _children(metadata, "Property") if e.get("id")]
    if image is not None:
        cards += [
            Card(f"Image:{_local(name)}", value, "XISF image attribute")
            for name, value in image.attrib.items()
        ]
    return cards


def _parse(xml: bytes) -> Element:
    try:
        root = fromstring(xml, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise HeaderError(
            "The XISF header declares a DTD or entities, which are not allowed."
        ) from exc
    except (ParseError, ValueError) as exc:
        raise HeaderError(f"The XISF header is not well-formed XML ({exc}).") from exc
    if _local(root.tag) != "xisf":
        raise HeaderError("The XISF header has no <xisf> root element.")
    return root


def _local(tag: str) -> str:
    """The name without its namespace: the XISF namespace is expected but not required."""
    return tag.rpartition("}")[2]


def _children(parent: Element, name: str) -> list[Element]:
    return [child for child in parent if isinstance(child.tag, str) and _local(child.tag) == name]


def _first_child(parent: Element, name: str) -> Element | None:
    children = _children(parent, name)
    return children[0] if children else None


def _keyword_card(element: Element) -> Card:
    name = element.get("name", "").strip()
    return Card(name, fits_value(element.get("value", "")), element.get("comment", ""))


def fits_value(text: str) -> CardValue:
    """A FITS keyword value as XISF stores it (`'LIGHT   '`, `T`, `300.`) -> a Python value;
    text that is none of these is kept as it is."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'").rstrip()
    if text in ("T", "F"):
        return text == "T"
    if not text:
        return None
    if INTEGER.fullmatch(text):
        return int(text)
    if REAL.fullmatch(text):
        return _real(text)
    return text


def _real(text: str) -> float | str:
    """A finite float from FITS real notation (`1.5D+3` too); other text is kept as it is."""
    number = float(text.replace("D", "E").replace("d", "e"))
    return number if math.isfinite(number) else text


def _property_card(element: Element) -> Card:
    kind = element.get("type", "")
    if "value" in element.attrib:
        value = _property_value(kind, element.attrib["value"])
    elif "location" in element.attrib:
        value = None  # held in an (encoded or attached) data block, which is not read
    else:
        value = (element.text or "").strip()
    return Card(element.get("id", "").strip(), value, f"XISF property ({kind})")


def _property_value(kind: str, text: str) -> CardValue:
    text = text.strip()
    if "Vector" in kind or "Matrix" in kind:
        return text
    if kind == "Boolean" and text.lower() in ("true", "false", "1", "0"):
        return text.lower() in ("true", "1")
    if kind.startswith(INTEGER_TYPES) and INTEGER.fullmatch(text):
        return int(text)
    if kind.startswith(REAL_TYPES) and REAL.fullmatch(text):
        return _real(text)
    return text
