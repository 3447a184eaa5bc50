"""The few values the server indexes, normalised from a header's cards (and the file name)."""

from collections.abc import Sequence

from . import fields
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
    """A HeaderInfo for a FITS or XISF header; `filename` is for the frame type's last resort."""
    values = HeaderValues(cards)
    frame = classify_frame(values, filename)
    start = observation_start(values)
    return HeaderInfo(
        format=format,
        compression=compression,
        cards=cards,
        frame=frame,
        date_obs=start[0] if start else None,
        date_obs_source=start[1] if start else None,
        target_name=fields.target_name(values),
        exposure_time=fields.exposure_time(values),
        filter_name=fields.filter_name(values),
        frame_type=frame_type_of(frame, filename),
        telescope_name=fields.first_text(values, fields.TELESCOPE_KEYS),
        instrument_name=fields.first_text(values, fields.INSTRUMENT_KEYS),
        binning=fields.binning(values),
        ccd_temperature=fields.ccd_temperature(values),
    )
