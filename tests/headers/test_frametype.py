import pytest

from arcsec_flask.headers import Frame
from arcsec_flask.headers.frametype import classify_filename, classify_frame, classify_value

OBSERVATION = ("observation", None)
BIASES = ("calibration", "Biases")
DARKS = ("calibration", "Darks")
FLATS = ("calibration", "Flats")
OTHERS = ("calibration", "Others")

# Every writer's vocabulary in docs/formats.md, as (writer, keyword, value, decision).
VOCABULARY = [
    ("N.I.N.A.", "IMAGETYP", "LIGHT", OBSERVATION),
    ("N.I.N.A.", "IMAGETYP", "DARK", DARKS),
    ("N.I.N.A.", "IMAGETYP", "FLAT", FLATS),
    ("N.I.N.A.", "IMAGETYP", "BIAS", BIASES),
    ("N.I.N.A.", "IMAGETYP", "DARKFLAT", DARKS),
    ("N.I.N.A.", "IMAGETYP", "SNAPSHOT", OBSERVATION),
    ("MaxIm DL", "IMAGETYP", "Light Frame", OBSERVATION),
    ("MaxIm DL", "IMAGETYP", "Dark Frame", DARKS),
    ("MaxIm DL", "IMAGETYP", "Bias Frame", BIASES),
    ("MaxIm DL", "IMAGETYP", "Flat Frame", FLATS),
    ("ACP", "IMAGETYP", "Flat Field", FLATS),
    ("APT", "IMAGETYP", "Light Frame", OBSERVATION),
    ("INDI", "FRAME", "Light", OBSERVATION),
    ("INDI", "FRAME", "Dark", DARKS),
    ("INDI", "FRAME", "Bias", BIASES),
    ("INDI", "FRAME", "Flat", FLATS),
    ("Seestar", "IMAGETYP", "Light", OBSERVATION),
    ("LCO", "OBSTYPE", "EXPOSE", OBSERVATION),
    ("LCO", "OBSTYPE", "STANDARD", OBSERVATION),
    ("LCO", "OBSTYPE", "SPECTRUM", OBSERVATION),
    ("LCO", "OBSTYPE", "BIAS", BIASES),
    ("LCO", "OBSTYPE", "DARK", DARKS),
    ("LCO", "OBSTYPE", "SKYFLAT", FLATS),
    ("LCO", "OBSTYPE", "LAMPFLAT", FLATS),
    ("LCO", "OBSTYPE", "ARC", OTHERS),
    ("NOIRLab", "OBSTYPE", "object", OBSERVATION),
    ("NOIRLab", "OBSTYPE", "zero", BIASES),
    ("NOIRLab", "OBSTYPE", "dark", DARKS),
    ("NOIRLab", "OBSTYPE", "dome flat", FLATS),
    ("NOIRLab", "OBSTYPE", "sky flat", FLATS),
    ("NOIRLab", "OBSTYPE", "dflat", FLATS),
    ("PixInsight", "IMAGETYP", "Master Dark", DARKS),
    ("PixInsight", "IMAGETYP", "MasterFlat", FLATS),
    ("PixInsight", "IMAGETYP", "Master Bias", BIASES),
    ("APP", "CALFRAME", "master dark", DARKS),
    ("APP", "CALFRAME", "Master Flat Frame", FLATS),
    ("XISF", "IMAGE:IMAGETYPE", "LIGHT", OBSERVATION),
    ("XISF", "IMAGE:IMAGETYPE", "MasterDark", DARKS),
    ("XISF", "IMAGE:IMAGETYPE", "masterbias", BIASES),
    ("XISF", "IMAGE:IMAGETYPE", "FlatDark", DARKS),
    ("other", "IMAGETYP", "  twilight flat ", FLATS),
    ("other", "IMAGETYP", "Offset", BIASES),
    ("other", "IMAGETYP", "WAVE", OTHERS),
    ("other", "IMAGETYP", "Comparison", OTHERS),
    ("other", "IMAGETYP", "Fringe", OTHERS),
    ("other", "IMAGETYP", "science", OBSERVATION),
    ("other", "IMAGETYP", "Flat_Ha", FLATS),
    ("other", "IMAGETYP", "dark-flat", DARKS),
    ("other", "IMAGETYP", "FOCUS", OBSERVATION),  # unknown: an observation
]


@pytest.mark.parametrize(("writer", "key", "value", "decision"), VOCABULARY)
def test_writer_vocabulary(writer, key, value, decision):
    assert classify_frame({key: value}) == Frame(*decision, value.strip())


ESO = [
    ("SCIENCE", "OBJECT", OBSERVATION),
    ("CALIB", "BIAS", BIASES),
    ("CALIB", "DARK", DARKS),
    ("CALIB", "FLAT,LAMP", FLATS),
    ("CALIB", "FLAT,SKY", FLATS),
    ("CALIB", "WAVE,LAMP", OTHERS),
    ("CALIB", "LAMP,AFC", OTHERS),
    ("CALIB", "STD", OTHERS),
    (None, "WAVE,LAMP", OTHERS),
    (None, "OBJECT", OBSERVATION),
    (None, "BIAS", BIASES),
    ("SCIENCE", None, OBSERVATION),
    ("CALIB", None, OTHERS),
    ("ACQUISITION", "OBJECT", OBSERVATION),
]


@pytest.mark.parametrize(("category", "kind", "decision"), ESO)
def test_eso_data_product_type_and_category(category, kind, decision):
    values = {"ESO DPR CATG": category, "ESO DPR TYPE": kind}
    frame = classify_frame({key: value for key, value in values.items() if value})
    assert (frame.kind, frame.calibration_type) == decision
    assert frame.raw == (kind or category)


def test_keywords_are_tried_in_order():
    values = {"IMAGETYP": "Dark Frame", "OBSTYPE": "object", "IMAGE:IMAGETYPE": "Flat"}
    assert classify_frame(values) == Frame("calibration", "Darks", "Dark Frame")


def test_a_known_value_after_an_unknown_one_decides():
    values = {"FRAME": "FK5", "CALFRAME": "Master Bias"}
    assert classify_frame(values) == Frame("calibration", "Biases", "Master Bias")


def test_unknown_value_is_an_observation_even_with_a_calibration_file_name():
    assert classify_frame({"IMAGETYP": "Focus"}, "dark_001.fits") == Frame(
        "observation", None, "Focus"
    )


@pytest.mark.parametrize("values", [{}, {"IMAGETYP": "  "}, {"FRAME": 3}, {"IMAGETYP": None}])
def test_without_frame_type_the_file_name_decides(values):
    assert classify_frame(values, "flat-Ha-3.fits") == Frame("calibration", "Flats", None)
    assert classify_frame(values, "M31_Ha_300s.fits") == Frame("observation", None, None)


@pytest.mark.parametrize(
    ("filename", "calibration_type"),
    [
        ("Bias_001.fits", "Biases"),
        ("masterDark.fit", "Darks"),
        ("MasterFLAT.xisf", "Flats"),
        ("flat-Ha-3.fits", "Flats"),
        ("DWARF_dark_exp_1.fits", "Darks"),
        ("darkflat_2s_001.fits", "Darks"),
        ("Flat_Dark_001.fits", "Darks"),
        ("FlatDark001.fits", "Darks"),
        ("darks.zip", "Darks"),
        ("biases-0001.fits.gz", "Biases"),
        ("Light_M31_300s.fits", None),
        ("darkness_nebula.fits", None),
        ("flatiron.fits", None),
        ("zero_point.fits", None),
        ("", None),
    ],
)
def test_frame_type_from_file_name(filename, calibration_type):
    assert classify_filename(filename) == calibration_type


@pytest.mark.parametrize("value", ["", "   ", "???", "Light (unguided)"])
def test_classify_value_never_raises(value):
    classify_value(value)
