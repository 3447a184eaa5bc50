"""The few values the server indexes, normalised from a header's cards (and the file name)."""

import math
from collections.abc import Mapping, Sequence

from .dates import observation_time
from .frametype import classify_frame
from .model import Card, CardValue, Compression, Format, HeaderInfo

COMMENTARY_KEYS = frozenset({"", "COMMENT", "HISTORY", "CONTINUE"})
TARGET_KEYS = ("OBJECT", "OBSERVATION:OBJECT:NAME")
EXPOSURE_KEYS = ("EXPTIME", "EXPOSURE", "EXP", "INSTRUMENT:EXPOSURETIME")
FILTER_KEYS = ("FILTER", "INSTRUMENT:FILTER:NAME")
TELESCOPE_KEYS = ("TELESCOP", "INSTRUMENT:TELESCOPE:NAME")
INSTRUMENT_KEYS = ("INSTRUME", "INSTRUMENT:CAMERA:NAME")


def card_values(cards: Sequence[Card]) -> dict[str, CardValue]:
    """Upper-case key -> value. The last card with a key wins, so that the first extension's
    header, which follows the primary's, overrides it."""
    return {card.key.upper(): card.value for card in cards if card.key not in COMMENTARY_KEYS}


def summarize(
    format: Format,
    compression: Compression | None,
    cards: list[Card],
    filename: str = "",
) -> HeaderInfo:
    """A HeaderInfo for a FITS or XISF header; `filename` is for the frame type's last resort."""
    values = card_values(cards)
    return HeaderInfo(
        format=format,
        compression=compression,
        cards=cards,
        frame=classify_frame(values, filename),
        date_obs=observation_time(values),
        target_name=_first_text(values, TARGET_KEYS),
        exposure=_first_seconds(values, EXPOSURE_KEYS),
        filter=_first_text(values, FILTER_KEYS),
        telescope=_first_text(values, TELESCOPE_KEYS),
        instrument=_first_text(values, INSTRUMENT_KEYS),
    )


def _first_text(values: Mapping[str, CardValue], keys: Sequence[str]) -> str | None:
    for key in keys:
        value = values.get(key)
        if isinstance(value, bool) or value is None:
            continue
        text = str(value).strip()
        if text:
            return text
    return None


def _first_seconds(values: Mapping[str, CardValue], keys: Sequence[str]) -> float | None:
    for key in keys:
        value = values.get(key)
        if isinstance(value, bool) or value is None:
            continue
        try:
            seconds = float(value.strip()) if isinstance(value, str) else float(value)
        except (ValueError, OverflowError):
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None
