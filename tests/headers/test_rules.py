"""One test per rule of the header summary (each of which failed before it was added)."""

from datetime import UTC, datetime

import numpy as np
import pytest
from astropy.io import fits

from arcsec_flask.headers import Card, Frame, HeaderInfo, read_header
from arcsec_flask.headers.summary import summarize
from tests.support.factories import write_xisf, write_xisf_keywords


def info_of(*cards: tuple, filename: str = "frame.fits") -> HeaderInfo:
    """A summary of cards given as (key, value) or (key, value, comment)."""
    made = [Card(c[0], c[1], c[2] if len(c) > 2 else "") for c in cards]
    return summarize("fits", None, made, filename)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019/03/11 21:03:07", utc(2019, 3, 11, 21, 3, 7)),
        ("2019-03-11 21:03:07", utc(2019, 3, 11, 21, 3, 7)),
        ("2019.03.11T21:03:07", utc(2019, 3, 11, 21, 3, 7)),
        ("20190311T210307", utc(2019, 3, 11, 21, 3, 7)),
        ("20190311210307", utc(2019, 3, 11, 21, 3, 7)),
        ("20190311T210307.25", utc(2019, 3, 11, 21, 3, 7, 250000)),
        ("11-Mar-19 21:03:07", utc(2019, 3, 11, 21, 3, 7)),
        ("11 MAR 2019 21:03:07", utc(2019, 3, 11, 21, 3, 7)),
        ("Mar 11 2019 21:03:07", utc(2019, 3, 11, 21, 3, 7)),
        ("11/03/2019 21:03:07", utc(2019, 3, 11, 21, 3, 7)),
        ("03/30/2019 21:03:07", utc(2019, 3, 30, 21, 3, 7)),  # the day cannot be a month
        ("2006-09-11 T 23:12:51 UTC", utc(2006, 9, 11, 23, 12, 51)),
        ("2019-03-11T23:03:07+02:00", utc(2019, 3, 11, 21, 3, 7)),
    ],
)
def test_date_obs_dialects_are_read_not_replaced_by_date(text, expected):
    info = info_of(("DATE-OBS", text), ("DATE", "2019-03-12T09:00:00"))
    assert (info.date_obs, info.date_obs_source) == (expected, "DATE-OBS")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("11-Mar-19", utc(2019, 3, 11, 21)), ("11 MAR 2019", utc(2019, 3, 11, 21))],
)
def test_month_name_dates_with_a_time_of_day(text, expected):
    info = info_of(("DATE-OBS", text), ("UT", "21:00:00"), ("DATE", "2024-01-01T00:00:00"))
    assert info.date_obs == expected


def test_two_digit_years_of_the_old_fits_form_are_19yy_and_others_pivot_at_50():
    assert info_of(("DATE-OBS", "11/03/98"), ("UT", "01:00")).date_obs == utc(1998, 3, 11, 1)
    assert info_of(("DATE-OBS", "11-Mar-49"), ("UT", "01:00")).date_obs == utc(2049, 3, 11, 1)
    assert info_of(("DATE-OBS", "11-Mar-76"), ("UT", "01:00")).date_obs == utc(1976, 3, 11, 1)


def test_start_only_in_date_obs_with_an_underscore():
    info = info_of(("DATE_OBS", "2007-06-29T03:15:33.555"), ("DATE", "2007-07-10T04:40:23"))
    assert (info.date_obs, info.date_obs_source) == (
        utc(2007, 6, 29, 3, 15, 33, 555000),
        "DATE_OBS",
    )


def test_blank_date_obs_beside_a_filled_date_obs_underscore():
    info = info_of(("DATE-OBS", ""), ("DATE_OBS", "2020-01-02T03:04:05"), ("DATE", "2021-01-01"))
    assert (info.date_obs, info.date_obs_source) == (utc(2020, 1, 2, 3, 4, 5), "DATE_OBS")


def test_a_time_inside_date_completes_a_date_alone_of_the_same_day():
    info = info_of(("DATE-OBS", "2020-05-30"), ("DATE", "2020-05-30T22:10:05"))
    assert (info.date_obs, info.date_obs_source) == (utc(2020, 5, 30, 22, 10, 5), "DATE")
    other_day = info_of(("DATE-OBS", "2020-05-30"), ("DATE", "2021-01-01T10:00:00"))
    assert (other_day.date_obs, other_day.date_obs_source) == (utc(2020, 5, 30), "DATE-OBS")


def test_a_time_inside_date_is_read_in_any_dialect():
    info = info_of(("DATE", "2019/03/11 21:03:07"))
    assert (info.date_obs, info.date_obs_source) == (utc(2019, 3, 11, 21, 3, 7), "DATE")


def test_date_is_the_last_resort_and_date_loc_is_never_used():
    info = info_of(("DATE-LOC", "2021-03-02T21:19:00"), ("DATE", "2021-03-05T10:00:00"))
    assert (info.date_obs, info.date_obs_source) == (utc(2021, 3, 5, 10), "DATE")
    assert info_of(("DATE-LOC", "2021-03-02T21:19:00")).date_obs is None
    mjd = info_of(("DATE", "2021-03-05T10:00:00"), ("MJD-OBS", 59275.0))
    assert (mjd.date_obs, mjd.date_obs_source) == (utc(2021, 3, 2), "MJD-OBS")


def test_other_date_and_time_pairs():
    jcmt = info_of(("UTDATE", "2001:3:16"), ("UTSTART", "15:09:42"), ("DATE", "2001-03-17"))
    assert (jcmt.date_obs, jcmt.date_obs_source) == (utc(2001, 3, 16, 15, 9, 42), "UTDATE")
    ukirt = info_of(("IDATE", 19980217), ("RUTSTART", 8.5))
    assert (ukirt.date_obs, ukirt.date_obs_source) == (utc(1998, 2, 17, 8, 30), "IDATE")


@pytest.mark.parametrize(
    ("timesys", "expected"),
    [
        ("UTC", utc(2016, 1, 26, 17, 58, 29)),
        ("TT", utc(2016, 1, 26, 17, 57, 20, 816000)),  # TT - UTC = 32.184 s + 36 s
        ("TAI", utc(2016, 1, 26, 17, 57, 53)),
        ("GPS", utc(2016, 1, 26, 17, 58, 12)),  # GPS - UTC = 17 s
        ("UT1", utc(2016, 1, 26, 17, 58, 29)),
        ("LOCAL", utc(2016, 1, 26, 17, 58, 29)),  # unknown: left as it is
    ],
)
def test_time_scales_are_converted_to_utc(timesys, expected):
    info = info_of(("TIMESYS", timesys), ("DATE-OBS", "2016-01-26T17:58:29"))
    assert info.date_obs == expected


def test_time_scale_applies_to_day_numbers_but_not_to_date():
    mjd = info_of(("TIMESYS", "TT"), ("MJD-OBS", 57413.0))
    assert mjd.date_obs == utc(2016, 1, 25, 23, 58, 51, 816000)
    written = info_of(("TIMESYS", "TT"), ("DATE", "2016-01-27T12:34:24"))
    assert written.date_obs == utc(2016, 1, 27, 12, 34, 24)


@pytest.mark.parametrize(
    ("cards", "seconds"),
    [
        ([("EXP_TIME", 12.5)], 12.5),
        ([("XPOSURE", 300.0, "[s] exposure")], 300.0),
        ([("ESO DET DIT", 1.7726)], 1.7726),
        ([("ESO DET WIN1 DIT1", 50.0)], 50.0),
        ([("EXPOSURE", 70.0, "Exposure time minutes")], 4200.0),
        ([("EXPTIME", 160000, "exposure time in ms")], 160.0),
        ([("EXPOSURE", 250, "milliseconds")], 0.25),
        ([("EXPTIME", 30.0, "Exposure time in seconds")], 30.0),
        ([("EXPTIME", "120.00  ")], 120.0),
        ([("EXPTIME", 3.1), ("LIVETIME", 4998.9), ("EXPOSURE", 4998.9)], 4998.9),
    ],
)
def test_exposure_keywords_and_units(cards, seconds):
    info = info_of(*cards)
    assert info.exposure_time == pytest.approx(seconds)
    assert info.exposure == info.exposure_time


@pytest.mark.parametrize("key", ["TARGNAME", "OBJNAME", "TARGET", "ESO OBS TARG NAME"])
def test_target_under_other_keywords(key):
    assert info_of((key, "NGC 104  ")).target_name == "NGC 104"
    assert info_of(("OBJECT", "M 31"), (key, "NGC 104")).target_name == "M 31"


@pytest.mark.parametrize(
    "placeholder",
    [
        *("", "  ", "??", "?", "TEST", "test", "X", "Unknown target", "none", "None"),
        *("unknown", "n/a", "Object", "Bias", "Dome Flat", "STD"),
    ],
)
def test_placeholder_targets_mean_no_target(placeholder):
    assert info_of(("OBJECT", placeholder)).target_name is None
    assert info_of(("OBJECT", placeholder), ("TARGNAME", "HD 1")).target_name == "HD 1"


@pytest.mark.parametrize(
    ("key", "value", "decision", "frame_type"),
    [
        ("IMAGETYPE", "Bias Frame", ("calibration", "Biases"), "bias"),
        ("IMGTYPE", "DARK", ("calibration", "Darks"), "dark"),
        ("IMGTYP", "object", ("observation", None), "light"),
        ("FRAMETYP", "Flat", ("calibration", "Flats"), "flat"),
        ("OBSTYPE", "zero", ("calibration", "Biases"), "bias"),
        ("EXPTYPE", "sci", ("observation", None), "light"),
        ("CALFRAME", "Master Dark Flat", ("calibration", "Darks"), "master-dark-flat"),
        ("ESO DPR TYPE", "WAVE,LAMP", ("calibration", "Others"), "arc"),
        ("ESO DPR TYPE", "LAMP,AFC", ("calibration", "Others"), "lamp"),
        ("IMAGETYP", "DARKFLAT", ("calibration", "Darks"), "dark-flat"),
        ("IMAGETYP", "MasterFlat", ("calibration", "Flats"), "master-flat"),
        ("IMAGETYP", "Fringe", ("calibration", "Others"), "other-calibration"),
    ],
)
def test_frame_type_keywords(key, value, decision, frame_type):
    info = info_of((key, value), filename="M31_light.fits")
    assert (info.frame.kind, info.frame.calibration_type) == decision
    assert info.frame.raw == value
    assert info.frame_type == frame_type


@pytest.mark.parametrize(
    ("value", "calibration_type", "frame_type"),
    [
        ("Arcs", "Others", "arc"),
        ("Dome Flat", "Flats", "flat"),
        ("Bias", "Biases", "bias"),
        ("Dark", "Darks", "dark"),
        ("Flat field", "Flats", "flat"),
        ("Sky flat", "Flats", "flat"),
    ],
)
def test_object_naming_a_frame_type_decides_before_file_name_words(
    value, calibration_type, frame_type
):
    info = info_of(("OBJECT", value), filename="light_001.fits")
    assert info.frame == Frame("calibration", calibration_type, value)
    assert info.frame_type == frame_type
    assert info.target_name is None


def test_object_with_a_frame_word_inside_a_name_stays_a_target():
    info = info_of(("OBJECT", "Flame Nebula dark lane"))
    assert info.frame == Frame("observation", None, None)
    assert info.target_name == "Flame Nebula dark lane"


def test_a_later_placeholder_never_erases_a_real_value():
    info = info_of(("OBSTYPE", "BIAS"), ("OBSTYPE", 0), ("OBJECT", "M1"), ("OBJECT", ""))
    assert info.frame == Frame("calibration", "Biases", "BIAS")
    assert info.target_name == "M1"


def test_primary_values_win_over_the_extension_which_fills_gaps(tmp_path):
    primary = fits.PrimaryHDU()
    primary.header["OBJECT"] = "NGC 253"
    primary.header["OBSTYPE"] = "EXPOSE"
    primary.header["DATE-OBS"] = ""
    extension = fits.ImageHDU(np.zeros((4, 4), dtype=np.int16))
    extension.header["OBJECT"] = "NGC 253 [ext 1]"
    extension.header["OBSTYPE"] = 0
    extension.header["DATE-OBS"] = "2021-10-01T02:03:04"
    extension.header["FILTER"] = "rp"
    fits.HDUList([primary, extension]).writeto(tmp_path / "lco.fits")

    info = read_header(tmp_path / "lco.fits", "lco.fits")

    assert [c.key for c in info.cards].count("OBJECT") == 2  # cards kept as written
    assert info.target_name == "NGC 253"
    assert info.frame == Frame("observation", None, "EXPOSE")
    assert info.date_obs == utc(2021, 10, 1, 2, 3, 4)
    assert info.filter_name == "rp"


@pytest.mark.parametrize(
    ("cards", "binning"),
    [
        ([("XBINNING", 2), ("YBINNING", 2)], "2x2"),
        ([("XBINNING", "1"), ("YBINNING", "1")], "1x1"),
        ([("CCDXBIN", 2), ("CCDYBIN", 1)], "2x1"),
        ([("BINNING", "2*2")], "2x2"),
        ([("BINNING", "(1 x 1)")], "1x1"),
        ([("BINNING", 3)], "3x3"),
        ([("CCDSUM", "4 4")], "4x4"),
        ([("ESO DET WIN1 BINX", 2), ("ESO DET WIN1 BINY", 2)], "2x2"),
        ([("MIPS-BIX", 2), ("MIPS-BIY", 2)], "2x2"),
        ([], None),
    ],
)
def test_binning(cards, binning):
    assert info_of(*cards).binning == binning


@pytest.mark.parametrize(
    ("cards", "celsius"),
    [
        ([("CCD-TEMP", -10.1)], -10.1),
        ([("CCD_TEMP", "-5.5")], -5.5),
        ([("SET-TEMP", -15.0)], -15.0),
        ([("SET-TEMP", -15.0), ("CCD-TEMP", -14.2)], -14.2),
        ([("TEMPERAT", -20.0)], -20.0),
        ([("ESO DET TEMP", 153.15)], -120.0),
        ([("CCDTEMP", 156.114, "[K] Cryostat temperature")], -117.036),
        ([("CCDATEMP", 167, "[Kelvin] Actual temperature.")], -106.15),
        ([("CCD-TEMP", 180.2, "CCD Cu block temperature")], -92.95),  # Kelvin, unit unsaid
        ([("CCD-TEMP", 373.15)], 100.0),
        ([("CCD-TEMP", 100.0)], 100.0),
        ([("CCD-TEMP", 400.0)], None),
        ([("CCD-TEMP", -300.0)], None),
    ],
)
def test_ccd_temperature(cards, celsius):
    assert info_of(*cards).ccd_temperature == pytest.approx(celsius)


@pytest.mark.parametrize(
    ("cards", "name"),
    [
        ([("FILTER", "Ha 7nm ")], "Ha 7nm"),
        ([("FILTER1", "CLEAR1L"), ("FILTER2", "F814W")], "F814W"),
        ([("FILTER", "Clear")], "Clear"),
        ([("FILTER1", 33), ("FILTNAM1", "F673N")], "F673N"),
        ([("ESO INS FILT1 NAME", "Ks")], "Ks"),
        ([("FILTER", "")], None),
    ],
)
def test_filter_name(cards, name):
    info = info_of(*cards)
    assert info.filter_name == name
    assert info.filter == name


@pytest.mark.parametrize(
    ("cards", "name"),
    [
        ([("INSTRUME", "ZWO ASI2600MM Pro")], "ZWO ASI2600MM Pro"),
        ([("INSTRUME", "n", "'Harris Set' Johnson bvri or (n)one")], None),
        ([("INSTRUME", "i"), ("CAMERA", "SBIG STL-11000")], "SBIG STL-11000"),
        ([("CAMERA", "DVC 4000M-CL")], "DVC 4000M-CL"),
        ([("INSTRUME", "ISAAC"), ("CAMERA", "Aladdin")], "ISAAC"),
    ],
)
def test_instrument_name(cards, name):
    assert info_of(*cards).instrument_name == name


def test_new_fields_and_aliases():
    info = info_of(("TELESCOP", "Seestar S50"), ("INSTRUME", "IMX462"))
    assert (info.telescope_name, info.instrument_name) == ("Seestar S50", "IMX462")
    assert (info.telescope, info.instrument) == ("Seestar S50", "IMX462")
    assert HeaderInfo("other", None).frame_type is None


def test_xisf_observation_start_property_is_named_as_written(tmp_path):
    path = write_xisf(
        tmp_path / "m31.xisf",
        {"DATE": "2024-01-02T00:00:00"},
        properties={"Observation:Time:Start": ("TimePoint", "2023-12-31T22:00:00Z")},
    )
    info = read_header(path, "m31.xisf")
    assert (info.date_obs, info.date_obs_source) == (
        utc(2023, 12, 31, 22),
        "Observation:Time:Start",
    )


def test_xisf_hierarch_keywords_are_read_like_fits_ones(tmp_path):
    keywords = [
        ("HIERARCH ESO DPR CATG", "'CALIB   '", "Observation category"),
        ("HIERARCH ESO DPR TYPE", "'FLAT,LAMP'", "Observation type"),
        ("HIERARCH ESO DET DIT", "1.5", "Integration Time"),
        ("DATE-OBS", "'2001-04-09T23:38:10.6563'", ""),
    ]
    path = write_xisf_keywords(tmp_path / "eso.xisf", keywords)
    info = read_header(path, "eso.xisf")
    assert info.frame == Frame("calibration", "Flats", "FLAT,LAMP")
    assert (info.frame_type, info.exposure_time) == ("flat", 1.5)
    assert info.date_obs == utc(2001, 4, 9, 23, 38, 10, 656300)
