from datetime import UTC, datetime

import numpy as np
import pytest
from astropy.io import fits

from arcsec_flask.headers import Card, Frame, HeaderError, read_header
from tests.support.factories import LIGHT_CARDS, patch_card, write_fits


def card_map(info):
    return {card.key: card for card in info.cards}


def test_light_frame_cards_and_summary(fits_file):
    info = read_header(fits_file("m31.fits"), "m31.fits")

    assert info.format == "fits"
    assert info.compression is None
    assert [card.key for card in info.cards][:3] == ["SIMPLE", "BITPIX", "NAXIS"]
    cards = card_map(info)
    assert cards["IMAGETYP"] == Card("IMAGETYP", "LIGHT", "Type of exposure")
    assert cards["EXPTIME"] == Card("EXPTIME", 60.0, "[s] Exposure time")
    assert cards["NAXIS1"].value == 8
    assert cards["SIMPLE"].value is True
    assert info.frame == Frame("observation", None, "LIGHT")
    assert info.date_obs == datetime(2024, 3, 1, 21, 0, tzinfo=UTC)
    assert info.target_name == "M31"
    assert info.exposure == 60.0
    assert (info.filter, info.telescope, info.instrument) == ("Ha", "RC8", "ZWO ASI2600MM Pro")


def test_repeated_cards_are_kept_in_file_order(fits_file):
    cards = [
        ("OBJECT", "NGC 7000"),
        ("COMMENT", "first comment"),
        ("HISTORY", "calibrated"),
        ("COMMENT", "second comment"),
        ("HISTORY", "registered"),
    ]
    info = read_header(fits_file("ngc7000.fits", cards), "ngc7000.fits")

    tail = [(card.key, card.value) for card in info.cards if card.key in {"COMMENT", "HISTORY"}]
    assert tail == [
        ("COMMENT", "first comment"),
        ("HISTORY", "calibrated"),
        ("COMMENT", "second comment"),
        ("HISTORY", "registered"),
    ]


def test_hierarch_cards(fits_file):
    cards = {"ESO DPR CATG": "CALIB", "ESO DPR TYPE": ("FLAT,LAMP", "Observation type")}
    info = read_header(fits_file("eso.fits", cards), "eso.fits")

    assert card_map(info)["ESO DPR TYPE"] == Card("ESO DPR TYPE", "FLAT,LAMP", "Observation type")
    assert info.frame == Frame("calibration", "Flats", "FLAT,LAMP")


@pytest.mark.parametrize(
    ("key", "written", "raw"),
    [
        ("DEC", "-31 16 24 / declination", "-31 16 24"),
        ("GAIN", "3,5", "3,5"),
        ("XX", "NaN", "NaN"),
        ("BADQ", "'unterminated", "'unterminated"),
        ("EXPTIME", "3,0 / [s] exposure", "3,0"),
    ],
)
def test_malformed_card_keeps_raw_text_and_the_rest_reads(fits_file, key, written, raw):
    cards = {**LIGHT_CARDS, key: 0, "AFTER": ("still here", "a later card")}
    path = patch_card(fits_file("bad.fits", cards), key, written)

    info = read_header(path, "bad.fits")

    cards = card_map(info)
    assert cards[key].value == raw
    assert cards["AFTER"] == Card("AFTER", "still here", "a later card")
    assert cards["OBJECT"].value == "M31"
    if key == "EXPTIME":
        assert info.exposure is None


def test_malformed_card_keeps_its_comment(fits_file):
    path = patch_card(fits_file("bad.fits", {"DEC": 0.0}), "DEC", "-31 16 24 / declination")
    assert card_map(read_header(path, "bad.fits"))["DEC"].comment == "declination"


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("(1.0, 2.0)", "(1.0, 2.0)"),  # complex: kept as text, JSON has no complex numbers
        ("1E400", "1E400"),  # overflows to infinity: kept as text
        ("", None),  # no value at all
        ("'it''s'", "it's"),
        ("1.5D+3", 1500.0),
        ("F", False),
        ("12345678901234567890", 12345678901234567890),
    ],
)
def test_card_values_are_json_friendly(fits_file, written, value):
    path = patch_card(fits_file("values.fits", {"VALUE": 0}), "VALUE", written)
    assert card_map(read_header(path, "values.fits"))["VALUE"].value == value


def test_non_ascii_bytes_are_shown_as_question_marks(fits_file):
    path = patch_card(fits_file("site.fits", {"SITENAME": "x"}), "SITENAME", "'Ch\xe2teau'")
    assert card_map(read_header(path, "site.fits"))["SITENAME"].value == "Ch?teau"


def test_long_string_continue_cards_are_joined(fits_file):
    long_text = "a long observer note " * 8
    info = read_header(fits_file("long.fits", {"NOTE": long_text.strip()}), "long.fits")

    assert card_map(info)["NOTE"].value == long_text.strip()
    assert "CONTINUE" not in card_map(info)


def test_header_over_several_blocks(fits_file):
    cards = [(f"KEY{index}", index) for index in range(100)] + [("OBJECT", "M101")]
    info = read_header(fits_file("many.fits", cards), "many.fits")

    assert card_map(info)["KEY99"].value == 99
    assert info.target_name == "M101"


def test_tile_compressed_fz_reads_the_image_extension(fits_file):
    cards = {**LIGHT_CARDS, "IMAGETYP": "FLAT", "OBJECT": "flat field"}
    info = read_header(fits_file("flat.fits.fz", cards, compress="fz"), "flat.fits.fz")

    keys = [card.key for card in info.cards]
    assert keys[0] == "SIMPLE"
    assert "XTENSION" in keys and "ZIMAGE" in keys
    assert info.frame == Frame("calibration", "Flats", "FLAT")
    assert info.compression is None


def test_empty_primary_merges_first_image_extension_which_fills_gaps(tmp_path):
    primary = fits.PrimaryHDU()
    primary.header["OBJECT"] = "from primary"
    primary.header["TELESCOP"] = "LCO 1m"
    extension = fits.ImageHDU(np.zeros((4, 4), dtype=np.int16))
    extension.header["OBJECT"] = "from extension"
    extension.header["OBSTYPE"] = "EXPOSE"
    fits.HDUList([primary, extension]).writeto(tmp_path / "lco.fits")

    info = read_header(tmp_path / "lco.fits", "lco.fits")

    assert [card.value for card in info.cards if card.key == "OBJECT"] == [
        "from primary",
        "from extension",
    ]
    # The primary's value wins; the extension fills only what the primary lacks.
    assert info.target_name == "from primary"
    assert info.telescope == "LCO 1m"
    assert info.frame == Frame("observation", None, "EXPOSE")


def test_primary_with_data_does_not_read_extensions(tmp_path):
    primary = fits.PrimaryHDU(np.zeros((4, 4), dtype=np.int16))
    primary.header["OBJECT"] = "primary"
    extension = fits.ImageHDU(np.zeros((4, 4), dtype=np.int16))
    extension.header["OBJECT"] = "extension"
    fits.HDUList([primary, extension]).writeto(tmp_path / "two.fits")

    info = read_header(tmp_path / "two.fits", "two.fits")

    assert "XTENSION" not in card_map(info)
    assert info.target_name == "primary"


def test_table_extension_is_not_merged(tmp_path):
    table = fits.BinTableHDU.from_columns([fits.Column(name="flux", format="E", array=[1.0])])
    table.header["OBJECT"] = "catalogue"
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(tmp_path / "table.fits")

    info = read_header(tmp_path / "table.fits", "table.fits")

    assert "XTENSION" not in card_map(info)
    assert info.target_name is None


def test_truncated_extension_header_is_an_error(fits_file):
    path = fits_file("cut.fits.fz", compress="fz")
    path.write_bytes(path.read_bytes()[: 2880 + 1000])

    with pytest.raises(HeaderError, match="truncated"):
        read_header(path, "cut.fits.fz")


def test_header_ending_in_a_partial_block_is_read(fits_file):
    path = fits_file("short.fits")
    content = path.read_bytes()
    end = content.index(b"END" + b" " * 77)
    path.write_bytes(content[: end + 80])

    assert read_header(path, "short.fits").target_name == "M31"


@pytest.mark.parametrize("cut", [1, 79, 80, 500, 2879, 2880])
def test_truncated_header_is_an_error(fits_file, cut):
    cards = [(f"KEY{index}", index) for index in range(40)]  # two header blocks
    path = fits_file("cut.fits", cards)
    path.write_bytes(path.read_bytes()[:cut])

    with pytest.raises(HeaderError, match=r"truncated|SIMPLE"):
        read_header(path, "cut.fits")


def test_missing_end_card_is_an_error(raw_file):
    cards = "SIMPLE  =                    T".ljust(80) + "NAXIS   =                    0".ljust(80)
    path = raw_file("noend.fits", cards.ljust(2880 * 2).encode())

    with pytest.raises(HeaderError, match="END"):
        read_header(path, "noend.fits")


@pytest.mark.parametrize(
    "content",
    [
        b"observing log\nnight of 2024-03-01\n" * 10,
        bytes(range(256)) * 20,
        b"\x89PNG\r\n\x1a\n" + b"\0" * 100,
        b"x",
    ],
)
def test_non_fits_content_named_fits_is_an_error(raw_file, content):
    path = raw_file("frame.fits", content)
    with pytest.raises(HeaderError, match="not a FITS file"):
        read_header(path, "frame.fits")


@pytest.mark.parametrize("name", ["frame.FITS", "frame.fit", "frame.fts", "frame.fz", "x.imfits"])
def test_every_fits_extension_claims_fits(raw_file, name):
    with pytest.raises(HeaderError):
        read_header(raw_file(name, b"not fits at all"), name)


def test_fits_content_under_another_name(fits_file):
    path = fits_file("frame.dat")
    assert read_header(path, "frame.dat").format == "fits"


@pytest.mark.parametrize("mime", ["image/fits", "application/fits", "IMAGE/FITS; name=x"])
def test_fits_mime_type_claims_fits(raw_file, mime):
    path = raw_file("upload.bin", b"plain text, not fits")
    with pytest.raises(HeaderError):
        read_header(path, "upload.bin", mime)


def test_octet_stream_mime_type_claims_nothing(raw_file):
    path = raw_file("upload.bin", b"plain text, not fits")
    assert read_header(path, "upload.bin", "application/octet-stream").format == "other"


def test_write_fits_factory_roundtrip(tmp_path):
    path = write_fits(tmp_path / "f.fits", [("OBJECT", "M1", "target")], data=np.ones((2, 3)))
    with fits.open(path) as hdus:
        assert hdus[0].data.shape == (2, 3)
        assert hdus[0].header.comments["OBJECT"] == "target"
