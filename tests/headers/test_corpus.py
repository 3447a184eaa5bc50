"""Every real header of the corpus, read from FITS, gzipped FITS and XISF, gives what an
astronomer reads in it (tests/data/headers/expected.toml)."""

from datetime import datetime

import pytest

from arcsec_flask.headers import read_header
from arcsec_flask.headers.model import FRAME_TYPES
from tests.headers import corpus

EXPECTED = corpus.expectations()
BUILDERS = {
    "frame.fits": corpus.write_fits,
    "frame.fits.gz": corpus.write_fits_gz,
    "frame.xisf": corpus.write_xisf,
}
FIELDS = ("frame_type", "date_obs_source", "exposure_time", "filter_name", "target_name")
FIELDS += ("binning", "ccd_temperature", "telescope_name", "instrument_name")


def test_every_corpus_header_has_expectations_and_the_table_no_stray_entry():
    assert sorted(EXPECTED) == corpus.names()
    assert len(EXPECTED) >= 40
    assert {row["frame_type"] for row in EXPECTED.values()} <= set(FRAME_TYPES)


def test_every_corpus_header_names_its_source_in_the_readme():
    readme = (corpus.CORPUS / "README.md").read_text("utf-8")
    rows = {line.split("`")[1] for line in readme.splitlines() if line.startswith("| `")}
    assert rows == set(corpus.names())


@pytest.mark.parametrize("filename", sorted(BUILDERS))
@pytest.mark.parametrize("name", corpus.names())
def test_corpus_header(tmp_path, name, filename):
    expected = EXPECTED[name]
    path = BUILDERS[filename](name, tmp_path / filename)

    info = read_header(path, filename)

    assert info.frame is not None
    assert info.frame.kind == expected["kind"]
    assert info.frame.calibration_type == expected.get("calibration_type")
    date_obs = expected.get("date_obs")
    assert info.date_obs == (datetime.fromisoformat(date_obs) if date_obs else None)
    for field in FIELDS:
        assert getattr(info, field) == pytest.approx(expected.get(field)), field
