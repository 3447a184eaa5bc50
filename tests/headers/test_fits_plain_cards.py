"""Plain cards (a standard keyword, then a string, logical, number or no value) are read
without an astropy Card (headers/fits._plain_card): exactly as astropy reads them, on
every card of the corpus, on awkward cards written by hand and on generated ones; the
rest are left to astropy."""

from __future__ import annotations

import warnings

import pytest
from astropy.io import fits
from hypothesis import given, settings
from hypothesis import strategies as st

from arcsec_flask.headers.fits import _card, _plain_card, parse_cards
from tests.headers import corpus


def by_astropy(image: str, strip: bool = True):
    with warnings.catch_warnings(), fits.conf.set_temp("strip_header_whitespace", strip):
        warnings.simplefilter("ignore")
        return _card(image)


def corpus_images() -> list[str]:
    return [image for name in corpus.names() for hdu in corpus.load(name) for image in hdu]


def test_every_corpus_card_reads_as_astropy_reads_it():
    images = corpus_images()
    plain = 0
    for strip in (True, False):
        for image in images:
            card = _plain_card(image, strip)
            if card is not None:
                plain += 1
                assert card == by_astropy(image, strip), image
    assert plain > len(images)  # most of them, both ways: the plain path is the common one


AWKWARD = [
    "EXPTIME =                  30 / seconds",
    "EXPTIME =                 30. / seconds",
    "EXPTIME =              0030.5",
    "GAIN    =              1.5D-3 / Fortran exponent",
    "GAIN    =              1.5d+03",
    "GAIN    =              -  1.5 E 3 / spaces inside",
    "OFFSET  =                 +07",
    "OFFSET  =                -0.0",
    "HUGE    =              1E9999 / infinite",
    "BIG     = 123456789012345678901234567890",
    "SIMPLE  =                    T / conforms",
    "FLAG    =                    F",
    "FLAG    = T",
    "OBJECT  = 'M31     '           / padded",
    "OBJECT  = 'O''Brien''s field'  / quotes inside",
    "OBJECT  = ''                   / empty",
    "OBJECT  = '   '",
    "OBJECT  = 'a/b'                / slash inside",
    "OBJECT  = 'unclosed",
    "OBJECT  = 'a' 'b'",
    "DP1     = 'AXIS.1: 1'          / record-valued",
    "DP1     = 'NAXES: 2'",
    "NOTE    = 'time: 12:30'",
    "UNDEF   =                      / no value",
    "UNDEF   =",
    "COMPLEX = (1.0, 2.0)           / complex",
    "BAD     = -31 16 24            / sexagesimal",
    "BAD     = 3,5",
    "BAD     = NaN",
    "TRAIL   = 12 /comment with trailing spaces     ",
    "TRAIL   = 12 /",
    "TRAIL   = 12 / ",
    "lower   = 1",
    "DATE OBS= '2024-01-01'",
    "COMMENT = 'not a value'",
    "HISTORY = 12",
    "CONTINUE= 'x'",
    "HIERARCH ESO DET TEMP = 170.0",
    "KEY=    1",
    "        = 5",
    "E-X_1   =                    1",
]


@pytest.mark.parametrize("image", AWKWARD)
@pytest.mark.parametrize("strip", [True, False])
def test_awkward_cards_read_as_astropy_reads_them(image, strip):
    image = image.ljust(80)
    card = _plain_card(image, strip)
    assert card is None or card == by_astropy(image, strip)


def test_the_plain_path_is_taken_for_plain_cards():
    for image in ("EXPTIME =                  30 / s", "OBJECT  = 'M31'", "FLAG    = T"):
        assert _plain_card(image.ljust(80), True) is not None
    for image in ("DP1     = 'AXIS.1: 1'", "COMPLEX = (1.0, 2.0)", "BAD     = 3,5"):
        assert _plain_card(image.ljust(80), True) is None


keywords = st.from_regex(r"[A-Z0-9_-]{1,8}", fullmatch=True)
numbers = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.from_regex(
        r"[+-]? *0*[0-9]{0,4}(\.[0-9]{0,4})? *([dDeE] *[+-]? *[0-9]{1,3})?", fullmatch=True
    ),
)
strings = st.text(st.sampled_from("ab '/:=&"), max_size=20).map(lambda t: f"'{t}'")
values = st.one_of(numbers, strings, st.sampled_from(["T", "F", "", " ", "(1, 2)", "x"]))
comments = st.one_of(st.just(""), st.text(st.sampled_from("ab /'= "), max_size=20).map("/".__add__))


@settings(max_examples=500, deadline=None)
@given(keywords, values, comments, st.booleans())
def test_generated_cards_read_as_astropy_reads_them(keyword, value, comment, strip):
    image = f"{keyword:<8}= {value:>20} {comment}"[:80].ljust(80)
    card = _plain_card(image, strip)
    assert card is None or card == by_astropy(image, strip)


def test_a_header_of_plain_cards_only_reads_the_same():
    images = [i.ljust(80).encode() for i in AWKWARD[:14]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = [_card(i.decode()) for i in images]
    assert parse_cards(images) == expected


def test_a_card_image_seen_before_is_not_parsed_again():
    """A night's frames repeat most cards image for image: the second header of the same
    cards is read from what the first one left (and reads the same)."""
    images = [
        f"{key:<8}= {value:>20} / {comment}".ljust(80).encode()
        for key, value, comment in [
            ("EXPTIME", "300.0", "[s] exposure"),
            ("FILTER", "'Ha      '", "filter"),
            ("XBINNING", "1", "binning"),
            ("INSTRUME", "'ZWO ASI2600MM Pro'", "camera"),
        ]
    ]
    _plain_card.cache_clear()
    first = parse_cards(images)
    misses = _plain_card.cache_info().misses
    second = parse_cards(images)
    assert second == first
    assert _plain_card.cache_info().misses == misses  # nothing parsed again
    assert _plain_card.cache_info().hits >= len(images)
    assert [c.value for c in second] == [300.0, "Ha", 1, "ZWO ASI2600MM Pro"]
