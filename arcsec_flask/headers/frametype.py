"""Observation or calibration, from the frame-type vocabulary of acquisition programs.

`values` holds the header's cards by upper-case key (HIERARCH keys without their prefix:
`ESO DPR TYPE`; the XISF image attribute as `IMAGE:IMAGETYPE`). The frame type comes from the
first frame-type keyword whose value is known (ESO's DPR keywords first, then IMAGETYP and its
other spellings, OBSTYPE, ...), else from an OBJECT that names a frame type ("Dome Flat",
"Bias", "Arcs"), else from an unknown frame-type value (an observation), else from the file
name's words (bias, dark, flat), else it is an observation.
"""

import re
from collections.abc import Mapping

from .model import CalibrationType, CardValue, Frame, FrameType, Kind
from .values import HeaderValues

ESO_TYPE, ESO_CATEGORY = "ESO DPR TYPE", "ESO DPR CATG"
# Tried in this order; the first value that says something known decides.
FRAME_KEYS: tuple[str, ...] = (
    ESO_TYPE,
    "IMAGETYP",
    "IMAGETYPE",
    "IMGTYPE",
    "IMGTYP",
    "IMAGE_TYP",
    "FRAMETYP",
)
FRAME_KEYS += ("FRAMETYPE", "OBSTYPE", "OBS_TYPE", "EXPTYPE", "DATA-TYP", "FRAME", "CALFRAME")
FRAME_KEYS += ("IMAGE:IMAGETYPE",)

Decision = tuple[Kind, CalibrationType | None]
OBSERVATION: Decision = ("observation", None)
BIASES: Decision = ("calibration", "Biases")
DARKS: Decision = ("calibration", "Darks")
FLATS: Decision = ("calibration", "Flats")
OTHERS: Decision = ("calibration", "Others")

BIAS_NAMES = ["bias", "zero", "offset"]
DARK_NAMES = ["dark", "darkflat", "dark flat", "flatdark", "flat dark"]
FLAT_NAMES = ["flat", "flatfield", "skyflat", "sky flat", "domeflat", "dome flat", "dflat"]
FLAT_NAMES += ["lampflat", "lamp flat", "twilight flat", "twiflat", "screen flat", "gcalflat"]
OTHER_NAMES = ["arc", "lamp", "arc lamp", "wave", "wavelength", "comparison", "comp", "fringe"]
OTHER_NAMES += ["calibration", "calib"]
LIGHT_NAMES = ["light", "object", "science", "snapshot", "expose", "spectrum", "standard", "std"]
LIGHT_NAMES += ["sci", "imaging", "spectroscopic", "ext", "target"]
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
ARC_WORDS = {"arc", "arcs", "wave", "wavelength", "comparison", "comp"}


def classify_frame(values: Mapping[str, CardValue] | HeaderValues, filename: str = "") -> Frame:
    """The frame of a header: from its frame-type keywords, else from an OBJECT naming a frame
    type, else from the file name's words. An unknown frame type is an observation."""
    values = HeaderValues.of(values)
    unknown: str | None = None
    for key in FRAME_KEYS:
        if key == ESO_TYPE:
            raw, decision = _eso(values)
            candidates = [(raw, decision)] if raw else []
        else:
            texts = [_text(card.value) for card in values.cards(key)]
            candidates = [(text, classify_value(text)) for text in texts if text]
        for raw, decision in candidates:
            if decision:
                return Frame(decision[0], decision[1], raw)
            unknown = unknown or raw
    named = object_frame_type(values)
    if named:
        return Frame(named[1][0], named[1][1], named[0])
    if unknown:
        return Frame("observation", None, unknown)
    calibration_type = classify_filename(filename)
    if calibration_type:
        return Frame("calibration", calibration_type, None)
    return Frame("observation", None, None)


def object_frame_type(values: HeaderValues) -> tuple[str, Decision] | None:
    """OBJECT when its whole value is a frame type ("Dome Flat", "Bias", "Arcs", "Flat field")."""
    for card in values.cards("OBJECT"):
        text = _text(card.value)
        decision = exact_value(text) if text else None
        if text and decision:
            return text, decision
    return None


def classify_value(raw: str) -> Decision | None:
    """What one frame-type value says, or None when it is not a known frame type."""
    text = _normal(raw)
    if "," in text:
        return _by_words([part.strip() for part in text.split(",")])
    text = _without_suffix(text)
    if text.startswith("master"):
        text = text.removeprefix("master").strip()
    return VOCABULARY.get(text) or _by_words(re.findall(r"[a-z]+", text))


def exact_value(raw: str) -> Decision | None:
    """A value that is, as a whole, a frame type (plurals too): never a word inside a name."""
    text = _without_suffix(_normal(raw)).removeprefix("master").strip()
    for candidate in (text, text.removesuffix("s"), text.removesuffix("es")):
        if candidate in VOCABULARY:
            return VOCABULARY[candidate]
    return None


def classify_filename(filename: str) -> CalibrationType | None:
    """Bias, dark or flat from the words of a file name (`masterDark.fit`, `flat-Ha-3.fits`)."""
    words = {word.removeprefix("master") for word in _filename_words(filename)}
    for vocabulary, calibration_type in FILENAME_WORDS:
        if words & vocabulary:
            return calibration_type
    return None


def frame_type_of(frame: Frame, filename: str = "") -> FrameType:
    """The normalised frame type (one of model.FRAME_TYPES) of a classified frame."""
    if frame.kind == "observation":
        return "light"
    raw = _normal(frame.raw) if frame.raw else " ".join(_filename_words(filename))
    words = set(re.findall(r"[a-z]+", raw))
    master = "master" in raw
    if frame.calibration_type == "Biases":
        return "master-bias" if master else "bias"
    if frame.calibration_type == "Darks":
        flat = "flat" in raw
        if flat:
            return "master-dark-flat" if master else "dark-flat"
        return "master-dark" if master else "dark"
    if frame.calibration_type == "Flats":
        return "master-flat" if master else "flat"
    if words & ARC_WORDS:
        return "arc"
    if "lamp" in words:
        return "lamp"
    return "other-calibration"


def _normal(raw: str) -> str:
    return " ".join(re.sub(r"[_\-]+", " ", raw.lower()).split())


def _without_suffix(text: str) -> str:
    for suffix in (" frames", " frame", " fields", " field"):
        text = text.removesuffix(suffix)
    return text


def _filename_words(filename: str) -> set[str]:
    camel = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", filename)
    plain = re.split(r"[^a-z]+", filename.lower())
    return {word.lower() for word in [*camel, *plain] if word}


def _by_words(words: list[str]) -> Decision | None:
    found = set(words)
    for vocabulary, decision in WORDS:
        if found & vocabulary:
            return decision
    return None


def _eso(values: HeaderValues) -> tuple[str | None, Decision | None]:
    """ESO's DPR TYPE (`BIAS`, `FLAT,LAMP`, `WAVE,LAMP`, `OBJECT`) read with its DPR CATG."""
    kind = next((t for t in (_text(c.value) for c in values.cards(ESO_TYPE)) if t), None)
    raw_category = next(
        (t for t in (_text(c.value) for c in values.cards(ESO_CATEGORY)) if t), None
    )
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
