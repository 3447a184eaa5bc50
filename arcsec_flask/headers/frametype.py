"""Observation or calibration, from the frame-type vocabulary of acquisition programs.

`values` maps upper-case card keys to card values (HIERARCH keys without their prefix, as
astropy gives them: `ESO DPR TYPE`; the XISF image attribute as `IMAGE:IMAGETYPE`).
"""

import re
from collections.abc import Mapping

from .model import CalibrationType, CardValue, Frame, Kind

# Tried in this order; the first value that says something known decides.
FRAME_KEYS = ("IMAGETYP", "OBSTYPE", "FRAME", "ESO DPR TYPE", "CALFRAME", "IMAGE:IMAGETYPE")
ESO_TYPE, ESO_CATEGORY = "ESO DPR TYPE", "ESO DPR CATG"

Decision = tuple[Kind, CalibrationType | None]
OBSERVATION: Decision = ("observation", None)
BIASES: Decision = ("calibration", "Biases")
DARKS: Decision = ("calibration", "Darks")
FLATS: Decision = ("calibration", "Flats")
OTHERS: Decision = ("calibration", "Others")

BIAS_NAMES = ["bias", "zero", "offset"]
DARK_NAMES = ["dark", "darkflat", "dark flat", "flatdark", "flat dark"]
FLAT_NAMES = ["flat", "flatfield", "skyflat", "sky flat", "domeflat", "dome flat", "dflat"]
FLAT_NAMES += ["lampflat", "lamp flat", "twilight flat", "twiflat", "screen flat"]
OTHER_NAMES = ["arc", "lamp", "arc lamp", "wave", "wavelength", "comparison", "comp", "fringe"]
OTHER_NAMES += ["calibration", "calib"]
LIGHT_NAMES = ["light", "object", "science", "snapshot", "expose", "spectrum", "standard", "std"]
VOCABULARY: dict[str, Decision] = {
    **dict.fromkeys(BIAS_NAMES, BIASES),
    **dict.fromkeys(DARK_NAMES, DARKS),
    **dict.fromkeys(FLAT_NAMES, FLATS),
    **dict.fromkeys(OTHER_NAMES, OTHERS),
    **dict.fromkeys(LIGHT_NAMES, OBSERVATION),
}
# Words that decide inside a longer value ("Flat Ha", "LAMP,WAVE"), in order of precedence:
# dark before flat, since dark flats are darks.
WORDS: tuple[tuple[set[str], Decision], ...] = (
    ({"dark", "darkflat", "flatdark"}, DARKS),
    ({"flat", "flatfield", "skyflat", "domeflat", "lampflat"}, FLATS),
    ({"bias", "zero"}, BIASES),
    ({"arc", "lamp", "wave", "wavelength", "comparison", "fringe"}, OTHERS),
    ({"light", "object", "science", "snapshot", "expose", "spectrum", "standard"}, OBSERVATION),
)
FILENAME_WORDS: tuple[tuple[set[str], CalibrationType], ...] = (
    ({"dark", "darks", "darkflat", "darkflats", "flatdark", "flatdarks"}, "Darks"),
    ({"flat", "flats"}, "Flats"),
    ({"bias", "biases"}, "Biases"),
)


def classify_frame(values: Mapping[str, CardValue], filename: str = "") -> Frame:
    """The frame of a header: from its frame-type keywords, else from the file name's words
    (bias, dark, flat), else an observation. An unknown frame type is an observation."""
    unknown: str | None = None
    for key in FRAME_KEYS:
        if key == ESO_TYPE:
            raw, decision = _eso(values)
        else:
            raw = _text(values.get(key))
            decision = classify_value(raw) if raw else None
        if raw and decision:
            return Frame(decision[0], decision[1], raw)
        unknown = unknown or raw
    if unknown:
        return Frame("observation", None, unknown)
    calibration_type = classify_filename(filename)
    if calibration_type:
        return Frame("calibration", calibration_type, None)
    return Frame("observation", None, None)


def classify_value(raw: str) -> Decision | None:
    """What one frame-type value says, or None when it is not a known frame type."""
    text = " ".join(re.sub(r"[_\-]+", " ", raw.lower()).split())
    if "," in text:
        return _by_words([part.strip() for part in text.split(",")])
    for suffix in (" frame", " field"):
        text = text.removesuffix(suffix)
    if text.startswith("master"):
        text = text.removeprefix("master").strip()
    return VOCABULARY.get(text) or _by_words(re.findall(r"[a-z]+", text))


def classify_filename(filename: str) -> CalibrationType | None:
    """Bias, dark or flat from the words of a file name (`masterDark.fit`, `flat-Ha-3.fits`)."""
    camel = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", filename)
    plain = re.split(r"[^a-z]+", filename.lower())
    words = {word.lower().removeprefix("master") for word in [*camel, *plain]}
    for vocabulary, calibration_type in FILENAME_WORDS:
        if words & vocabulary:
            return calibration_type
    return None


def _by_words(words: list[str]) -> Decision | None:
    found = set(words)
    for vocabulary, decision in WORDS:
        if found & vocabulary:
            return decision
    return None


def _eso(values: Mapping[str, CardValue]) -> tuple[str | None, Decision | None]:
    """ESO's DPR TYPE (`BIAS`, `FLAT,LAMP`, `WAVE,LAMP`, `OBJECT`) read with its DPR CATG."""
    kind = _text(values.get(ESO_TYPE))
    raw_category = _text(values.get(ESO_CATEGORY))
    category = (raw_category or "").upper()
    raw = kind or raw_category
    parts = {part.strip() for part in (kind or "").upper().split(",")}
    for part, decision in (("BIAS", BIASES), ("DARK", DARKS), ("FLAT", FLATS)):
        if part in parts:
            return raw, decision
    if category == "CALIB":
        return raw, OTHERS
    if category == "SCIENCE":
        return raw, OBSERVATION
    return raw, classify_value(kind) if kind else None


def _text(value: CardValue) -> str | None:
    """A non-blank string value, stripped (numbers are not frame types: FRAME may count)."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
