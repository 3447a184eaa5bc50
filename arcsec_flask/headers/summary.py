"""The few values the server indexes, normalised from a header's cards (and the file name)."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import fields
from .cap import cap_cards
from .dates import observation_start
from .frametype import classify_frame, frame_type_of
from .model import Card, CardValue, Compression, Format, HeaderInfo
from .values import HeaderValues


def card_values(cards: Sequence[Card]) -> dict[str, CardValue]:
    """Upper-case key -> value of its first card (commentary cards left out): the primary
    header's card wins over the first extension's, which follows it."""
    values = HeaderValues(cards)
    return {key: values.cards(key)[0].value for key in values.names()}


def summarize(
    format: Format,
    compression: Compression | None,
    cards: list[Card],
    filename: str = "",
) -> HeaderInfo:
    """A HeaderInfo for a FITS or XISF header; `filename` is for the frame type's last resort.

    The values are derived from every card; the cards kept are capped (cap.py)."""
    values = HeaderValues(cards)
    frame = classify_frame(values, filename)
    start = observation_start(values)
    return HeaderInfo(
        format=format,
        compression=compression,
        cards=cap_cards(cards),
        frame=frame,
        date_obs=start[0] if start else None,
        date_obs_source=start[1] if start else None,
        target_name=fields.target_name(values),
        exposure_time=fields.exposure_time(values),
        filter_name=fields.filter_name(values),
        frame_type=frame_type_of(frame, filename),
        telescope_name=fields.first_text(values, fields.TELESCOPE_KEYS),
        instrument_name=fields.instrument_name(values),
        binning=fields.binning(values),
        ccd_temperature=fields.ccd_temperature(values),
    )


def summarize_stored(
    format: Format,
    compression: Compression | None,
    stored: Iterable[Mapping[str, Any]],
    filename: str = "",
) -> HeaderInfo:
    """The HeaderInfo of a header as the server stored it (a list of {"key", "value",
    "comment"}), by the same rules as at upload: how stored rows gain newly derived values."""
    cards = [Card(str(c["key"]), c.get("value"), str(c.get("comment") or "")) for c in stored]
    return summarize(format, compression, cards, filename)
