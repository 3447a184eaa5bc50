"""What a header reader returns: cards in file order, the frame type and a few normalised values."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Format = Literal["fits", "xisf", "other"]
Compression = Literal["gzip", "bzip2", "zip"]
Kind = Literal["observation", "calibration"]
CalibrationType = Literal["Biases", "Darks", "Flats", "Others"]
CardValue = str | int | float | bool | None

# The normalised frame types (HeaderInfo.frame_type). Observations are all "light" (light,
# object, science, snapshot, standard, master light...); calibrations say what they are, with
# a "master-" prefix for integrated masters. "arc" covers arc, wave and comparison lamps;
# "lamp" other lamp frames that are not flats; "other-calibration" the rest (fringe, ESO CALIB
# frames of no other kind...).
FRAME_TYPES = (
    "light",
    "bias",
    "dark",
    "flat",
    "dark-flat",
    "master-bias",
    "master-dark",
    "master-flat",
    "master-dark-flat",
    "arc",
    "lamp",
    "other-calibration",
)
FrameType = Literal[
    "light",
    "bias",
    "dark",
    "flat",
    "dark-flat",
    "master-bias",
    "master-dark",
    "master-flat",
    "master-dark-flat",
    "arc",
    "lamp",
    "other-calibration",
]


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
    """A header's cards and the values the server indexes, all optional but format/compression.

    `date_obs` is the UTC start of the exposure and `date_obs_source` the keyword it came from
    (e.g. "DATE-OBS", "MJD-OBS", "DATE"), so that a guessed date is visible. `exposure_time` is in
    seconds, `ccd_temperature` in degrees Celsius, `binning` like "2x2".
    """

    format: Format
    compression: Compression | None
    cards: list[Card] = field(default_factory=list)
    frame: Frame | None = None
    date_obs: datetime | None = None
    target_name: str | None = None
    date_obs_source: str | None = None
    exposure_time: float | None = None
    filter_name: str | None = None
    frame_type: FrameType | None = None
    instrument_name: str | None = None
    telescope_name: str | None = None
    binning: str | None = None
    ccd_temperature: float | None = None

    # The names of the first version, kept for existing callers.
    @property
    def exposure(self) -> float | None:
        return self.exposure_time

    @property
    def filter(self) -> str | None:
        return self.filter_name

    @property
    def telescope(self) -> str | None:
        return self.telescope_name

    @property
    def instrument(self) -> str | None:
        return self.instrument_name
