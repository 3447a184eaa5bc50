"""parse_cards reads astropy's fits settings once per header, not once per card: the
settings still count, and astropy's own module is left as it was."""

from astropy.io import fits

from arcsec_flask.headers.fits import parse_cards

IMAGE = "OBJECT  = 'M31     '           / padded, as many writers do".ljust(80).encode()


def test_the_settings_in_force_still_apply():
    assert parse_cards([IMAGE])[0].value == "M31"
    with fits.conf.set_temp("strip_header_whitespace", False):
        assert parse_cards([IMAGE])[0].value == "M31     "
    assert parse_cards([IMAGE])[0].value == "M31"


def test_astropy_is_left_as_it_was():
    real = fits.card.conf
    parse_cards([IMAGE])
    assert fits.card.conf is real
    assert fits.Card.fromstring(IMAGE.decode()).value == "M31"
