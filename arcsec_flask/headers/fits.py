"""FITS header cards, read block by block from a stream and parsed card by card with astropy.

Only the primary header is read, plus the first extension's header when the primary holds
no data (tile-compressed `.fz` files and many professional files keep the image header
there). Blocks are read here rather than by `Header.fromfile` so that the read is capped and
each card keeps its raw text: a card whose value astropy cannot parse is kept as that text.
"""

import functools
import math
import re
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from astropy.io import fits

from .model import Card, CardValue, HeaderError
from .unwrap import Readable

BLOCK_SIZE = 2880
CARD_SIZE = 80
# About 2.9 MB of header, 36,000 cards: far above real headers, small enough to fail fast.
MAX_HEADER_BLOCKS = 1000
END_KEYWORD = b"END     "
MAX_AXES = 999  # the FITS standard's limit
# Bytes outside printable ASCII are not allowed in headers: show them as '?'.
PRINTABLE = bytes(c if 32 <= c <= 126 else ord("?") for c in range(256))
LONG_STRING_CONTINUES = re.compile(r"&'\s*(/.*)?$")

# `warnings.catch_warnings` swaps process-wide state: readers in several threads take turns.
_warnings_lock = threading.Lock()


def read_fits_cards(stream: Readable) -> list[Card]:
    """The cards of the primary header (merged with the first image extension's when the
    primary holds no data), in file order. Raises HeaderError when the header is unreadable."""
    blocks = _Blocks(stream)
    first = blocks.next()
    if not first:
        raise HeaderError("The content is empty: there is no FITS header to read.")
    if not first.startswith(b"SIMPLE  ="):
        raise HeaderError("This is not a FITS file: it does not start with a SIMPLE card.")
    cards = parse_cards(_header_images(blocks, first))
    if _data_size(cards) != 0:
        return cards
    block = blocks.next()
    if not block.startswith(b"XTENSION="):
        return cards
    extension = parse_cards(_header_images(blocks, block))
    return cards + extension if _is_image_extension(extension) else cards


class _Blocks:
    """Reads 2880-byte blocks, at most MAX_HEADER_BLOCKS in all."""

    def __init__(self, stream: Readable) -> None:
        self._stream = stream
        self._left = MAX_HEADER_BLOCKS

    def next(self) -> bytes:
        if self._left <= 0:
            raise HeaderError(
                f"The FITS header has no END card in its first {MAX_HEADER_BLOCKS} blocks "
                f"({MAX_HEADER_BLOCKS * BLOCK_SIZE:,} bytes)."
            )
        self._left -= 1
        return self._stream.read(BLOCK_SIZE)


def _header_images(blocks: _Blocks, block: bytes) -> list[bytes]:
    """The 80-byte card images of one header, from its first block up to its END card."""
    images: list[bytes] = []
    while True:
        for offset in range(0, len(block), CARD_SIZE):
            image = block[offset : offset + CARD_SIZE]
            if image[:8] == END_KEYWORD:
                return images
            images.append(image)
        if len(block) < BLOCK_SIZE:
            raise HeaderError("The FITS header is truncated: the file ends before its END card.")
        block = blocks.next()


def parse_cards(images: Sequence[bytes]) -> list[Card]:
    """Cards from 80-byte images; long strings (CONTINUE cards) are joined, blank cards dropped."""
    groups: list[list[str]] = []
    for raw in images:
        image = raw.translate(PRINTABLE).decode("ascii").ljust(CARD_SIZE)
        if not image.strip():
            continue
        if image.startswith("CONTINUE") and groups and LONG_STRING_CONTINUES.search(groups[-1][-1]):
            groups[-1].append(image)
        else:
            groups.append([image])
    strip = bool(fits.conf.strip_header_whitespace)
    cards: list[Card | None] = [
        _plain_card(group[0], strip) if len(group) == 1 else None for group in groups
    ]
    if all(cards):
        return cards  # type: ignore[return-value]
    with _warnings_lock, warnings.catch_warnings(), _settings_read_once():
        warnings.simplefilter("ignore")
        return [card or _card("".join(group)) for card, group in zip(cards, groups, strict=True)]


# A card most headers are made of: an upper-case standard keyword, "= " in columns 9-10.
PLAIN_KEYWORD = re.compile(r"[A-Z0-9_-]+ *")
SPECIAL_KEYWORDS = frozenset({"COMMENT", "HISTORY", "CONTINUE", "END", "HIERARCH"})
VALUE_AND_COMMENT = fits.Card._value_NFSC_RE  # astropy's own: the same reading
NUMBER = fits.Card._number_NFSC_RE
EXPONENT = str.maketrans({"d": "e", "D": "E", " ": None})  # astropy's FIX_FP_TABLE2, spaces out


# The frames of one night from one camera repeat most of their cards image for image
# (INSTRUME, FILTER, EXPTIME, GAIN, SITELAT...): those are read once. A Card is frozen.
PLAIN_CARDS_KEPT = 4096


@functools.lru_cache(maxsize=PLAIN_CARDS_KEPT)
def _plain_card(image: str, strip: bool) -> Card | None:
    """The card astropy reads from `image` (80 characters), read here the way astropy
    reads it (Card._parse_keyword, _parse_value and _parse_comment on one match of its own
    expression) for a plain keyword and a string, logical, number or no value: an astropy
    Card costs three times as much. None for anything else (a record-valued keyword, a
    complex number, an unparsable value...): astropy reads those (`_card`)."""
    key = image[:8]
    if image[8:10] != "= " or not PLAIN_KEYWORD.fullmatch(key):
        return None
    key = key.rstrip()
    if key in SPECIAL_KEYWORDS:
        return None
    rest = image[10:].lstrip()
    if rest[:1] == "'" and rest.find(": ") >= 2:
        return None  # perhaps a record-valued keyword card (`DP1 = 'AXIS.1: 1'`)
    match = VALUE_AND_COMMENT.match(image[9:].strip())
    if match is None or match.group("cplx") is not None:
        return None
    value: CardValue
    if match.group("bool") is not None:
        value = match.group("bool") == "T"
    elif match.group("strg") is not None:
        text = match.group("strg").replace("''", "'")
        value = text.rstrip() if strip else text
    elif match.group("numr") is not None:
        number = NUMBER.match(match.group("numr"))
        if number is None:
            return None
        digits = (number.group("sign") or "") + number.group("digt").translate(EXPONENT)
        try:
            value = int(digits)
        except ValueError:
            real = float(digits)
            value = real if math.isfinite(real) else _raw_value_and_comment(image)[0]
    else:
        value = None
    comment = match.group("comm")
    return Card(key, value, comment.rstrip() if comment else "")


class _ReadOnce:
    """astropy's fits settings, each read once: `fits.card` looks two of them up on every
    card (strip_header_whitespace, enable_record_valued_keyword_cards), and each look-up
    goes through the configuration file's validator: a quarter of our header reading."""

    def __init__(self, conf: object) -> None:
        self._conf = conf

    def __getattr__(self, name: str) -> object:
        value = getattr(self._conf, name)
        setattr(self, name, value)
        return value


@contextmanager
def _settings_read_once() -> Iterator[None]:
    # Held under _warnings_lock: one reader at a time swaps the module's `conf` and back.
    module = fits.card
    real = module.conf
    module.conf = _ReadOnce(real)
    try:
        yield
    finally:
        module.conf = real


def _card(image: str) -> Card:
    # The raw text is only split out when astropy's reading fails (few cards do).
    try:
        card = fits.Card.fromstring(image)
        key = card.keyword
    except Exception:  # astropy raises assorted errors on malformed cards: keep the raw text
        raw_value, raw_comment = _raw_value_and_comment(image)
        return Card(image[:8].strip().upper(), raw_value, raw_comment)
    try:
        value = _json_value(card.value, image)
    except Exception:  # VerifyError for unparsable values (`-31 16 24`, `3,5`, `NaN`)
        value = _raw_value_and_comment(image)[0]
    try:
        comment = str(card.comment)
    except Exception:
        comment = _raw_value_and_comment(image)[1]
    return Card(key, value, comment)


def _json_value(value: object, image: str) -> CardValue:
    if value is None or isinstance(value, fits.card.Undefined):
        return None
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    # Infinities, NaN, complex numbers, anything else JSON cannot hold: the text written.
    return _raw_value_and_comment(image)[0]


def _raw_value_and_comment(image: str) -> tuple[str, str]:
    """The value and comment text of a card as written, split at the first `/` outside quotes."""
    if image.upper().startswith("HIERARCH") and "=" in image:
        field = image.partition("=")[2]
    elif image[8:10] == "= ":
        field = image[10:]
    else:
        return image[8:].strip(), ""
    in_quotes = False
    for index, char in enumerate(field):
        if char == "'":
            in_quotes = not in_quotes
        elif char == "/" and not in_quotes:
            return field[:index].strip(), field[index + 1 :].strip()
    return field.strip(), ""


def _first_values(cards: Sequence[Card]) -> dict[str, CardValue]:
    values: dict[str, CardValue] = {}
    for card in cards:
        values.setdefault(card.key, card.value)
    return values


def _integer(value: CardValue) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _data_size(cards: Sequence[Card]) -> int | None:
    """Bytes of data after this header (None when the header does not say clearly)."""
    values = _first_values(cards)
    naxis = _integer(values.get("NAXIS", 0))
    if naxis is None or not 0 <= naxis <= MAX_AXES:
        return None
    if naxis == 0:
        return 0
    axes = [_integer(values.get(f"NAXIS{axis}")) for axis in range(1, naxis + 1)]
    dims = [dim for dim in axes if dim is not None]
    bitpix = _integer(values.get("BITPIX"))
    groups = _integer(values.get("GCOUNT", 1))
    params = _integer(values.get("PCOUNT", 0))
    if bitpix is None or groups is None or params is None or len(dims) != naxis:
        return None
    if values.get("GROUPS") is True:
        dims = dims[1:]  # random groups: NAXIS1 = 0 is no axis
    return abs(bitpix) // 8 * groups * (params + math.prod(dims))


def _is_image_extension(cards: Sequence[Card]) -> bool:
    values = _first_values(cards)
    xtension = values.get("XTENSION")
    kind = xtension.strip().upper() if isinstance(xtension, str) else ""
    return kind == "IMAGE" or (kind == "BINTABLE" and values.get("ZIMAGE") is True)
