import pytest

from arcsec_flask.headers import Card, Frame
from arcsec_flask.headers.summary import card_values, summarize


def info_of(*cards: tuple, filename: str = "frame.fits"):
    return summarize("fits", None, [Card(key, value, "") for key, value in cards], filename)


@pytest.mark.parametrize(
    ("cards", "target"),
    [
        ([("OBJECT", "  M 31  ")], "M 31"),
        ([("OBJECT", "")], None),
        ([("OBJECT", "   ")], None),
        ([("OBJECT", None)], None),
        ([("OBJECT", 433)], "433"),
        ([("OBJECT", ""), ("Observation:Object:Name", "M42")], "M42"),
        ([("OBJECT", "M1"), ("Observation:Object:Name", "M42")], "M1"),
        ([], None),
    ],
)
def test_target_name(cards, target):
    assert info_of(*cards).target_name == target


@pytest.mark.parametrize(
    ("cards", "exposure"),
    [
        ([("EXPTIME", 300)], 300.0),
        ([("EXPTIME", 0.001)], 0.001),
        ([("EXPOSURE", 30.0)], 30.0),
        ([("EXP", "12.5")], 12.5),
        ([("EXPTIME", "3,5")], None),  # a malformed card's raw text
        ([("EXPTIME", "3,5"), ("EXPOSURE", 3.5)], 3.5),
        ([("EXPTIME", True)], None),
        ([("EXPTIME", "NaN")], None),
        ([("EXPTIME", -1.0)], None),
        ([("Instrument:ExposureTime", 120.0)], 120.0),
        ([], None),
    ],
)
def test_exposure(cards, exposure):
    assert info_of(*cards).exposure == exposure


def test_filter_telescope_instrument():
    info = info_of(("FILTER", "Ha 7nm "), ("TELESCOP", "Seestar S50"), ("INSTRUME", "IMX462"))
    assert (info.filter, info.telescope, info.instrument) == ("Ha 7nm", "Seestar S50", "IMX462")


def test_xisf_property_fallbacks():
    info = info_of(("Instrument:Filter:Name", "L"), ("Instrument:Telescope:Name", "FSQ-106"))
    assert (info.filter, info.telescope) == ("L", "FSQ-106")


def test_first_card_wins_and_commentary_is_ignored():
    cards = [Card("OBJECT", "primary", ""), Card("COMMENT", "x", ""), Card("OBJECT", "ext", "")]
    assert card_values(cards) == {"OBJECT": "primary"}


def test_frame_falls_back_to_file_name():
    assert info_of(filename="Bias_001.fits").frame == Frame("calibration", "Biases", None)
    assert info_of(filename="M31.fits").frame == Frame("observation", None, None)


def test_cards_are_kept_as_given():
    cards = [Card("COMMENT", "a", ""), Card("COMMENT", "a", "")]
    info = summarize("xisf", "gzip", cards)
    assert (info.format, info.compression, info.cards) == ("xisf", "gzip", cards)
