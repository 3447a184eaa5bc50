"""The descriptive values of a header: target, exposure, filter, binning, CCD temperature...

Each is read from a list of keywords in order of trust; the first meaningful card wins (see
values.py). Units written in a card's comment are honoured: an exposure whose comment says
minutes or milliseconds, a temperature whose comment says Kelvin.
"""

import re

from .frametype import exact_value
from .model import Card
from .values import HeaderValues, number_of, text_of

TARGET_KEYS: tuple[str, ...] = (
    "OBJECT",
    "TARGNAME",
    "OBJNAME",
    "TARGET",
    "OBSERVATION:OBJECT:NAME",
)
TARGET_KEYS += ("ESO OBS TARG NAME",)
# Values that name no target. Single letters and the frame-type vocabulary ("Bias", "Flat
# field", "STD": ESO writes the exposure type into OBJECT for non-science frames) do neither.
NO_TARGETS = frozenset(
    {"0", "test", "unknown target", "no target", "notarget", "no object", "object", "target"}
    | {"untitled", "noname", "no name", "no_name", "default", "none given", "not given"}
)
EXPOSURE_KEYS: tuple[str, ...] = ("EXPTIME", "EXPOSURE", "EXP", "EXP_TIME", "XPOSURE", "EXPOSED")
EXPOSURE_KEYS += ("INSTRUMENT:EXPOSURETIME", "ESO DET DIT", "ESO DET WIN1 DIT1", "ESO DET SEQ1 DIT")
# Photon-counting (X-ray, gamma) event data: EXPTIME is the CCD frame time there, and the
# exposure is EXPOSURE, the dead-time corrected total (= LIVETIME).
EVENT_EXPOSURE_KEYS = ("EXPOSURE", "LIVETIME", *EXPOSURE_KEYS)
MILLISECONDS = re.compile(r"\b(ms|msec|msecs|millisec\w*|milli-seconds?)\b", re.IGNORECASE)
MINUTES = re.compile(r"\b(min|mins|minutes?)\b", re.IGNORECASE)
HOURS = re.compile(r"\b(hours?|hrs?)\b|\[h\]", re.IGNORECASE)
MICROSECONDS = re.compile(r"\b(us|usec|microsec\w*)\b", re.IGNORECASE)
FILTER_KEYS: tuple[str, ...] = (
    "FILTER",
    "FILTER1",
    "FILTER2",
    "FILTER3",
    "FILTNAME",
    "FILTNAM1",
    "FILTNAM2",
)
FILTER_KEYS += ("FILTERS", "WFFBAND", "ESO INS FILT1 NAME", "ESO INS FILT2 NAME")
FILTER_KEYS += ("ESO INS1 FILT NAME", "INSTRUMENT:FILTER:NAME")
# Filter wheel positions that are no filter: used only when nothing else is named.
NO_FILTERS = re.compile(r"^(clear\w*|open\w*|empty|free|blank|dark|no filter)$", re.IGNORECASE)
TELESCOPE_KEYS = ("TELESCOP", "INSTRUMENT:TELESCOPE:NAME")
INSTRUMENT_KEYS = ("INSTRUME", "INSTRUMENT:CAMERA:NAME", "CAMERA")  # CAMERA: GONG
BINNING_PAIRS: tuple[tuple[str, str], ...] = (
    ("XBINNING", "YBINNING"),
    ("CCDXBIN", "CCDYBIN"),
    ("BINAXIS1", "BINAXIS2"),
)
BINNING_PAIRS += (("ESO DET WIN1 BINX", "ESO DET WIN1 BINY"), ("HBIN", "VBIN"))
BINNING_PAIRS += (("MIPS-BIX", "MIPS-BIY"),)  # QMiPS (Audine cameras), kept by AudeLA
BINNING_TEXT_KEYS = ("BINNING", "CCDSUM", "BIN")
TEMPERATURE_KEYS: tuple[str, ...] = (
    "CCD-TEMP",
    "CCD_TEMP",
    "CCDTEMP",
    "CCDATEMP",
    "TEMPERAT",
    "DET-TEMP",
)
TEMPERATURE_KEYS += ("CAMTEMP", "ESO DET TEMP", "ESO DET CHIP1 TEMP", "SET-TEMP", "SET_TEMP")
TEMPERATURE_KEYS += ("CCDSTEMP", "INSTRUMENT:SENSOR:TEMPERATURE")
KELVIN_KEYS = frozenset({"ESO DET TEMP", "ESO DET CHIP1 TEMP"})  # in Kelvin by ESO's dictionary
KELVIN = re.compile(r"\[K\]|\bkelvin\b|\bdeg(rees)? ?K\b", re.IGNORECASE)
ABSOLUTE_ZERO = 273.15
# No sensor runs above 100 °C: a bare number from there to boiling water in Kelvin is a
# temperature in Kelvin written without its unit (SAAO's STE3 `CCD-TEMP = 180.2`).
HOTTEST_CELSIUS = 100
HOTTEST_KELVIN = ABSOLUTE_ZERO + 100


def target_name(values: HeaderValues) -> str | None:
    found = values.first(TARGET_KEYS, _target)
    return found[0] if found else None


def exposure_time(values: HeaderValues) -> float | None:
    """Seconds, from the first exposure keyword holding a non-negative number."""
    keys = EVENT_EXPOSURE_KEYS if values.value("LIVETIME", number_of) else EXPOSURE_KEYS
    found = values.first(keys, _seconds)
    return found[0] if found else None


def filter_name(values: HeaderValues) -> str | None:
    """The first filter named; a clear/open position only when nothing else is named."""
    placeholder = None
    for key in FILTER_KEYS:
        for card in values.cards(key):
            text = text_of(card) if isinstance(card.value, str) else None  # FILTER1 = 33: a slot
            if text and NO_FILTERS.match(text):
                placeholder = placeholder or text
            elif text:
                return text
    return placeholder


def instrument_name(values: HeaderValues) -> str | None:
    """The camera or instrument; one character names none (the NF Observatory wrote its
    filter letter, `n` for none, into INSTRUME)."""
    found = values.first(INSTRUMENT_KEYS, _instrument)
    return found[0] if found else None


def first_text(values: HeaderValues, keys: tuple[str, ...]) -> str | None:
    found = values.first(keys, text_of)
    return found[0] if found else None


def binning(values: HeaderValues) -> str | None:
    """`XxY` from a pair of binning keywords, or from BINNING / CCDSUM text (`2*2`, `1 1`)."""
    for x_key, y_key in BINNING_PAIRS:
        x = values.value(x_key, _factor)
        if x is not None:
            y = values.value(y_key, _factor)
            return f"{x}x{y if y is not None else x}"
    for key in BINNING_TEXT_KEYS:
        for card in values.cards(key):
            factor = _factor(card)
            if factor is not None:
                return f"{factor}x{factor}"
            factors = re.findall(r"\d+", str(card.value)) if isinstance(card.value, str) else []
            if len(factors) == 2 and all(0 < int(f) <= 64 for f in factors):
                return f"{int(factors[0])}x{int(factors[1])}"
    return None


def ccd_temperature(values: HeaderValues) -> float | None:
    """Degrees Celsius; Kelvin values (by comment, ESO's DET TEMP, or a number too hot to be
    Celsius) are converted."""
    for key in TEMPERATURE_KEYS:
        for card in values.cards(key):
            number = number_of(card)
            if number is None:
                continue
            kelvin = key in KELVIN_KEYS or KELVIN.search(card.comment)
            if kelvin or HOTTEST_CELSIUS < number <= HOTTEST_KELVIN:
                number -= ABSOLUTE_ZERO
            if -ABSOLUTE_ZERO <= number <= HOTTEST_CELSIUS:
                return round(number, 3)
    return None


def _target(card: Card) -> str | None:
    text = text_of(card)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in NO_TARGETS or (len(text) == 1 and text.isalpha()) or exact_value(text):
        return None
    return text


def _instrument(card: Card) -> str | None:
    text = text_of(card)
    return text if text is not None and len(text) > 1 else None


def _seconds(card: Card) -> float | None:
    number = number_of(card)
    if number is None or number < 0:
        return None
    comment = card.comment
    if MILLISECONDS.search(comment):
        return number / 1000
    if MICROSECONDS.search(comment):
        return number / 1_000_000
    if MINUTES.search(comment):
        return number * 60
    if HOURS.search(comment):
        return number * 3600
    return number


def _factor(card: Card) -> int | None:
    number = number_of(card)
    if number is None or number != int(number) or not 0 < number <= 64:
        return None
    return int(number)
