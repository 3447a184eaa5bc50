"""What a header reader returns: cards in file order, the frame type and a few normalised values."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Format = Literal["fits", "xisf", "other"]
Compression = Literal["gzip", "bzip2", "zip"]
Kind = Literal["observation", "calibration"]
CalibrationType = Literal["Biases", "Darks", "Flats", "Others"]
CardValue = str | int | float | bool | None


class HeaderError(ValueError):
    """The file claims to be FITS or XISF but its header cannot be read.

    The message says why in plain words: it is shown to the user (as a 400).
    """


@dataclass(frozen=True)
class Card:
    """One header card. A value that cannot be parsed is kept as its raw text."""

    key: str
    value: CardValue
    comment: str


@dataclass(frozen=True)
class Frame:
    """Observation or calibration, and the raw frame-type value that decided (if any)."""

    kind: Kind
    calibration_type: CalibrationType | None
    raw: str | None


@dataclass(frozen=True)
class HeaderInfo:
    format: Format
    compression: Compression | None
    cards: list[Card] = field(default_factory=list)
    frame: Frame | None = None
    date_obs: datetime | None = None
    target_name: str | None = None
    exposure: float | None = None
    filter: str | None = None
    telescope: str | None = None
    instrument: str | None = None
