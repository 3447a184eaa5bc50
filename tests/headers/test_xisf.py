import struct
from datetime import UTC, datetime

import pytest

from arcsec_flask.headers import Card, Frame, HeaderError, read_header
from arcsec_flask.headers.xisf import fits_value
from tests.support.factories import xisf_bytes

NS = 'xmlns="http://www.pixinsight.com/xisf"'


@pytest.fixture
def read_xisf(raw_file):
    def read(content: bytes):
        return read_header(raw_file("hand.xisf", content), "hand.xisf")

    return read


def xml(image: str = "", metadata: str = "", namespace: str = NS) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><xisf version="1.0" {namespace}>'
        f"{image}<Metadata>{metadata}</Metadata></xisf>"
    )


def test_package_written_file(xisf_file):
    properties = {
        "Observation:Object:Name": "M42",
        "Instrument:ExposureTime": 12.5,
        "Observation:Time:Start": datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC),
    }
    path = xisf_file("m31.xisf", properties=properties, image_type="Light")

    info = read_header(path, "m31.xisf")

    assert (info.format, info.compression) == ("xisf", None)
    keys = [card.key for card in info.cards]
    assert keys[:7] == [
        "IMAGETYP",
        "OBJECT",
        "DATE-OBS",
        "EXPTIME",
        "FILTER",
        "TELESCOP",
        "INSTRUME",
    ]
    assert info.cards[0] == Card("IMAGETYP", "LIGHT", "Type of exposure")
    assert info.cards[3] == Card("EXPTIME", 60.0, "[s] Exposure time")
    by_key = {card.key: card for card in info.cards}
    assert by_key["Instrument:ExposureTime"] == Card(
        "Instrument:ExposureTime", 12.5, "XISF property (Float64)"
    )
    assert by_key["XISF:CreatorApplication"].value == "arcsec_flask tests"  # file metadata
    assert by_key["Image:imageType"].value == "Light"
    assert keys.index("Observation:Object:Name") < keys.index("XISF:CreatorApplication")
    assert keys.index("XISF:CreatorApplication") < keys.index("Image:imageType")
    # FITS keywords come first in the summary; XISF properties are fallbacks.
    assert info.target_name == "M31"
    assert info.exposure == 60.0
    assert info.date_obs == datetime(2024, 3, 1, 21, 0, tzinfo=UTC)
    assert info.frame == Frame("observation", None, "LIGHT")


def test_properties_and_image_type_are_fallbacks(xisf_file):
    properties = {
        "Observation:Object:Name": "M42",
        "Instrument:ExposureTime": 12.5,
        "Instrument:Filter:Name": "OIII",
        "Observation:Time:Start": ("TimePoint", "2023-01-02T03:04:05.5Z"),
    }
    path = xisf_file("master.xisf", {}, properties=properties, image_type="MasterDark")

    info = read_header(path, "master.xisf")

    assert info.target_name == "M42"
    assert info.exposure == 12.5
    assert info.filter == "OIII"
    assert info.date_obs == datetime(2023, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)
    assert info.frame == Frame("calibration", "Darks", "MasterDark")


def test_repeated_keywords_and_missing_comment(read_xisf):
    image = (
        '<Image geometry="8:8:1" sampleFormat="UInt16" imageType="FLAT">'
        '<FITSKeyword name="HISTORY" value="" comment="ImageCalibration"/>'
        '<FITSKeyword name="HISTORY" value="" comment="ImageIntegration"/>'
        "<FITSKeyword name=\"OBJECT\" value=\"'Barnard''s Loop   '\"/>"
        '<FITSKeyword name="XBINNING" value="2"/>'
        '<FITSKeyword name="CCD-TEMP" value="-10.5"/>'
        '<FITSKeyword name="FLIPPED" value="F"/>'
        '<Property id="PCL:CFASourcePattern" type="String">RGGB</Property>'
        "</Image>"
    )
    info = read_xisf(xisf_bytes(xml(image)))

    assert info.cards[:6] == [
        Card("HISTORY", None, "ImageCalibration"),
        Card("HISTORY", None, "ImageIntegration"),
        Card("OBJECT", "Barnard's Loop", ""),
        Card("XBINNING", 2, ""),
        Card("CCD-TEMP", -10.5, ""),
        Card("FLIPPED", False, ""),
    ]
    assert info.cards[6] == Card("PCL:CFASourcePattern", "RGGB", "XISF property (String)")
    assert info.frame == Frame("calibration", "Flats", "FLAT")


def test_nul_padding_is_stripped(read_xisf):
    info = read_xisf(xisf_bytes(xml('<Image imageType="Bias"/>'), padding=b"\0" * 500))
    assert info.frame == Frame("calibration", "Biases", "Bias")


def test_only_the_first_image_counts(read_xisf):
    images = (
        '<Image id="integration" imageType="Light"><FITSKeyword name="OBJECT" value="\'M8\'"/>'
        "</Image>"
        '<Image id="rejection_low" imageType="Dark"><FITSKeyword name="OBJECT" value="\'no\'"/>'
        "</Image>"
    )
    info = read_xisf(xisf_bytes(xml(images)))

    assert [card.value for card in info.cards if card.key == "OBJECT"] == ["M8"]
    assert info.frame == Frame("observation", None, "Light")


def test_no_namespace_is_tolerated(read_xisf):
    info = read_xisf(xisf_bytes(xml('<Image imageType="Flat"/>', namespace="")))
    assert info.frame.calibration_type == "Flats"


def test_file_without_image(read_xisf):
    metadata = '<Property id="XISF:CreatorApplication" type="String">PixInsight</Property>'
    info = read_xisf(xisf_bytes(xml(metadata=metadata)))
    assert info.cards == [Card("XISF:CreatorApplication", "PixInsight", "XISF property (String)")]


def test_properties_in_data_blocks_are_not_read(read_xisf):
    image = (
        '<Image imageType="Light">'
        '<Property id="Big:Vector" type="F64Vector" length="3" location="attachment:8192:24"/>'
        '<Property id="Flag" type="Boolean" value="true"/>'
        '<Property id="Count" type="UInt32" value="42"/>'
        "</Image>"
    )
    cards = {card.key: card.value for card in read_xisf(xisf_bytes(xml(image))).cards}
    assert (cards["Big:Vector"], cards["Flag"], cards["Count"]) == (None, True, 42)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"XISF0100", "truncated"),
        (b"XISF0100" + struct.pack("<I", 0) + b"\0" * 4 + b"<xisf/>", "empty"),
        (xisf_bytes(xml(), length=0xFFFFFFFF), "more than the 16,777,216 bytes allowed"),
        (xisf_bytes(xml(), length=10_000), "more than the file holds"),
        (xisf_bytes("<xisf><Image></xisf>"), "not well-formed"),
        (xisf_bytes("<fits/>"), "no <xisf> root"),
        (xisf_bytes(b"<xisf>\xff\xfe</xisf>"), "not well-formed"),
        (xisf_bytes("not xml at all"), "not well-formed"),
    ],
)
def test_hostile_headers_are_errors(raw_file, content, message):
    with pytest.raises(HeaderError, match=message):
        read_header(raw_file("bad.xisf", content), "bad.xisf")


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE xisf [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<xisf><Image><FITSKeyword name="OBJECT" value="&lol9;"/></Image></xisf>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE xisf [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<xisf><Image><FITSKeyword name="OBJECT" value="&secret;"/></Image></xisf>"""

PLAIN_DTD = '<?xml version="1.0"?><!DOCTYPE xisf SYSTEM "xisf.dtd"><xisf/>'


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY, PLAIN_DTD])
def test_dtds_and_entities_are_refused(raw_file, document):
    path = raw_file("bomb.xisf", xisf_bytes(document))
    with pytest.raises(HeaderError, match="DTD or entities"):
        read_header(path, "bomb.xisf")


def test_xisf_signature_wins_over_a_fits_name(raw_file):
    path = raw_file("odd.fits", xisf_bytes(xml('<Image imageType="Dark"/>')))
    assert read_header(path, "odd.fits").format == "xisf"


def test_xisf_name_without_signature_is_other(raw_file):
    assert read_header(raw_file("x.xisf", b"plain text"), "x.xisf").format == "other"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("'LIGHT   '", "LIGHT"),
        ("'it''s'", "it's"),
        ("''", ""),
        ("T", True),
        ("F", False),
        ("300", 300),
        ("-4", -4),
        ("300.", 300.0),
        ("1.5E+02", 150.0),
        ("2.5D-1", 0.25),
        ("", None),
        ("-31 16 24", "-31 16 24"),
        ("1E999", "1E999"),
        ("9" * 5000, "9" * 5000),  # too long for an int, infinite as a float
    ],
)
def test_fits_keyword_values(text, value):
    assert fits_value(text) == value
