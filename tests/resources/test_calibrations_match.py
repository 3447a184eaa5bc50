"""GET /[<subdomain>/]datafiles/<id>/calibrations/: the frames that suit a light, through HTTP,
on real FITS files uploaded the normal way."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta

import pytest

from arcsec_flask import create_app
from arcsec_flask.config import load
from arcsec_flask.domain.calibration import KINDS, Bounds
from arcsec_flask.repo import accounts
from arcsec_flask.repo.calibration_match import SCOPES, frames_within_sql
from arcsec_flask.repo.sqlite import connect
from tests.conftest import User
from tests.support.factories import write_fits

NIGHT = datetime(2024, 3, 1, 21, 0)
CAMERA = "ZWO ASI2600MM Pro"


def cards(frame_type: str, hours: float, **values) -> dict:
    """What N.I.N.A. writes for a frame `hours` after 2024-03-01 21:00 UTC: binning 1x1,
    -10 °C unless `values` say otherwise (exposure=, filter=, temperature=, binning=...)."""
    binning = values.pop("binning", 1)
    written = {
        "IMAGETYP": frame_type,
        "DATE-OBS": (NIGHT + timedelta(hours=hours)).isoformat(timespec="milliseconds"),
        "EXPTIME": values.pop("exposure", 60.0),
        "TELESCOP": values.pop("telescope", "RC8"),
        "INSTRUME": values.pop("camera", CAMERA),
        "XBINNING": binning,
        "YBINNING": binning,
        "CCD-TEMP": values.pop("temperature", -10.1),
    }
    if "filter" in values:
        written["FILTER"] = values.pop("filter")
    for key, value in values.items():  # OBJECT=..., or None to leave a card out
        written[key.upper()] = value
    return {k: v for k, v in written.items() if v is not None}


class Archive:
    """One account's telescopes, datasets and uploads, through the API."""

    def __init__(self, client, user, tmp_path, prefix: str = ""):
        self.client, self.user, self.tmp_path, self.prefix = client, user, tmp_path, prefix
        self.files: dict[str, dict] = {}

    def post(self, path: str, body: dict) -> dict:
        response = self.client.post(f"{self.prefix}{path}", json=body, headers=self.user.api)
        assert response.status_code == 201, response.json
        return response.json

    def dataset(self, name: str, telescope: str | None = None) -> dict:
        found = self.post("/telescopes/", {"name": telescope}) if telescope else None
        return self.post("/datasets/", {"name": name, "telescope": found and found["uuid"]})

    def upload(self, dataset: dict, name: str, header: dict | None = None, content=None) -> dict:
        if content is None:
            content = write_fits(self.tmp_path / name, header or {}).read_bytes()
        data = {"dataset": dataset["uuid"], "file": (io.BytesIO(content), name)}
        response = self.client.post(
            f"{self.prefix}/datafiles/", data=data, headers=self.user.upload
        )
        assert response.status_code == 201, response.json
        self.files[name] = response.json
        return response.json

    def matches(self, name: str, query: str = "", user=None, prefix=None):
        found = self.files[name]
        url = f"{self.prefix if prefix is None else prefix}/datafiles/{found['id']}/calibrations/"
        return self.client.get(url + query, headers=(user or self.user).api)

    def names(self, name: str, query: str = "") -> dict[str, list[str]]:
        response = self.matches(name, query)
        assert response.status_code == 200, response.json
        kinds = ("bias", "dark", "flat", "dark_flat")
        return {kind: [f["name"] for f in response.json[kind]] for kind in kinds}


@pytest.fixture
def night(client, alice, bob, tmp_path):
    """A night at RC8: lights of 60 s and 300 s in Ha and OIII; darks of both exposures at
    -10 and -5 °C (some in a calibration dataset of the same telescope); flats and
    dark-flats per filter; biases; and frames that must never be chosen: a bias of another
    telescope, one 40 days earlier, one of another account, a dark binned 2x2."""
    archive = Archive(client, alice, tmp_path)
    lights = archive.dataset("M31 2024-03-01", telescope="RC8")
    rc8 = lights["telescope"]
    calibration = archive.post("/datasets/", {"name": "RC8 calibration", "telescope": rc8})
    for name, hours, values in [
        ("light_60_ha.fits", 0.0, {"exposure": 60.0, "filter": "Ha"}),
        ("light_300_ha.fits", 0.5, {"exposure": 300.0, "filter": "Ha"}),
        ("light_60_oiii.fits", 1.0, {"exposure": 60.0, "filter": "OIII"}),
        ("light_300_oiii.fits", 1.5, {"exposure": 300.0, "filter": "OIII", "temperature": -9.4}),
    ]:
        archive.upload(lights, name, cards("LIGHT", hours, object="M31", **values))
    for name, hours, values in [
        ("dark_60_m10_a.fits", 3.0, {"exposure": 60.0, "temperature": -10.0}),
        ("dark_60_m10_b.fits", -20.0, {"exposure": 60.0, "temperature": -9.0}),
        ("dark_60_m5.fits", 3.1, {"exposure": 60.0, "temperature": -5.0}),
        ("dark_300_m10.fits", 3.2, {"exposure": 300.0, "temperature": -10.2}),
        ("dark_300_m5.fits", 3.3, {"exposure": 300.0, "temperature": -5.1}),
        ("dark_300_bin2.fits", 2.0, {"exposure": 300.0, "binning": 2}),
        ("bias_a.fits", 4.0, {"exposure": 0.0}),
        ("bias_b.fits", -24.0 * 3, {"exposure": 0.0}),
        ("bias_old.fits", -24.0 * 40, {"exposure": 0.0}),  # outside the 30-day window
    ]:
        frame_type = "DARK" if name.startswith("dark") else "BIAS"
        archive.upload(calibration, name, cards(frame_type, hours, **values))
    archive.upload(lights, "master_dark_300.fits", cards("Master Dark", -24 * 5, exposure=300.0))
    for name, hours, values in [
        ("flat_ha.fits", 9.0, {"filter": "Ha", "exposure": 2.0, "temperature": -10.0}),
        ("flat_ha_later.fits", 24 * 2, {"filter": "Ha", "exposure": 2.0}),
        ("flat_oiii.fits", 9.2, {"filter": "OIII", "exposure": 5.0, "temperature": -10.0}),
    ]:
        archive.upload(lights, name, cards("FLAT", hours, **values))
    for name, hours, exposure in [
        ("darkflat_2.fits", 9.1, 2.0),
        ("darkflat_5.fits", 9.3, 5.0),
    ]:
        archive.upload(lights, name, cards("DARKFLAT", hours, exposure=exposure))
    # Closer in time than anything above, but never to be chosen.
    other_scope = archive.dataset("C14 calibration", telescope="C14")
    archive.upload(other_scope, "bias_c14.fits", cards("BIAS", 0.1, exposure=0.0))
    archive.upload(other_scope, "dark_c14.fits", cards("DARK", 0.1, exposure=60.0))
    bobs = Archive(client, bob, tmp_path / "bob")
    (tmp_path / "bob").mkdir()
    bobs_set = bobs.dataset("RC8", telescope="RC8")
    bobs.upload(bobs_set, "bias_bob.fits", cards("BIAS", 0.05, exposure=0.0))
    bobs.upload(bobs_set, "dark_bob.fits", cards("DARK", 0.05, exposure=60.0))
    return archive


BIASES = ["bias_a.fits", "bias_b.fits"]


def test_each_light_gets_exactly_its_frames_nearest_first(night):
    assert night.names("light_60_ha.fits") == {
        "bias": BIASES,
        "dark": ["dark_60_m10_a.fits", "dark_60_m10_b.fits"],
        "flat": ["flat_ha.fits", "flat_ha_later.fits"],
        "dark_flat": ["darkflat_2.fits"],
    }
    assert night.names("light_300_ha.fits") == {
        "bias": BIASES,
        "dark": ["master_dark_300.fits", "dark_300_m10.fits"],  # the master first
        "flat": ["flat_ha.fits", "flat_ha_later.fits"],
        "dark_flat": ["darkflat_2.fits"],
    }
    assert night.names("light_60_oiii.fits") == {
        "bias": BIASES,
        "dark": ["dark_60_m10_a.fits", "dark_60_m10_b.fits"],
        "flat": ["flat_oiii.fits"],
        "dark_flat": ["darkflat_5.fits"],
    }
    # At -9.4 °C, the -10.2 and -10.1 °C darks are within 2 °C; the -5.1 °C one is not.
    assert night.names("light_300_oiii.fits") == {
        "bias": BIASES,
        "dark": ["master_dark_300.fits", "dark_300_m10.fits"],
        "flat": ["flat_oiii.fits"],
        "dark_flat": ["darkflat_5.fits"],
    }


def test_the_answer_carries_the_data_files_and_why_they_match(night):
    answer = night.matches("light_300_ha.fits").json
    light = night.files["light_300_ha.fits"]
    assert answer["light"] == light["id"] and answer["window_days"] == 30
    assert answer["scope"]["by"] == "telescope"
    master, dark = answer["dark"]
    assert {k: v for k, v in dark.items() if k != "match"} == night.client.get(
        f"/datafiles/{dark['id']}/", headers=night.user.api
    ).json
    assert dark["match"] == {
        "kind": "dark",
        "master": False,
        "delta_time": pytest.approx(2.7 * 3600),
        "delta_exposure": 0.0,
        "delta_temperature": pytest.approx(-0.1),
        "reason": "binning 1x1, exposure 300 s within 1 % of 300 s,"
        " temperature -10.2 °C within 2 °C of -10.1 °C, 2.7 h after the light",
        "fallback": False,
    }
    assert master["frame_type"] == "master-dark" and master["match"]["master"] is True
    assert master["match"]["delta_time"] == pytest.approx(-(5 * 24 + 0.5) * 3600)
    (dark_flat,) = answer["dark_flat"]
    assert dark_flat["match"]["for_flat"] == night.files["flat_ha.fits"]["id"]
    assert "after the flat" in dark_flat["match"]["reason"]
    assert answer["flat"][0]["match"]["reason"] == "filter Ha, binning 1x1, 8.5 h after the light"


def test_the_scope_is_the_registered_telescope(night):
    answer = night.matches("light_60_ha.fits").json
    telescope = night.client.get(
        f"/datasets/{night.files['light_60_ha.fits']['dataset']}/", headers=night.user.api
    ).json["telescope"]
    assert answer["scope"] == {"by": "telescope", "value": telescope}


def test_the_limit(night):
    assert night.names("light_60_ha.fits", "?limit=1") == {
        "bias": ["bias_a.fits"],
        "dark": ["dark_60_m10_a.fits"],
        "flat": ["flat_ha.fits"],
        "dark_flat": ["darkflat_2.fits"],
    }
    for query, field in [("?limit=0", "limit"), ("?limit=1001", "limit"), ("?near=1", "near")]:
        response = night.matches("light_60_ha.fits", query)
        assert response.status_code == 400 and field in response.json["errors"], response.json


@pytest.mark.parametrize(
    "name, words",
    [
        ("dark_60_m10_a.fits", "is a dark frame, not a light"),
        ("master_dark_300.fits", "is a master-dark frame, not a light"),
        ("flat_ha.fits", "is a flat frame, not a light"),
    ],
)
def test_a_calibration_frame_is_a_400(night, name, words):
    response = night.matches(name)
    assert response.status_code == 400 and words in response.json["detail"]
    assert set(response.json) == {"detail"}


def test_a_flagged_file_a_text_file_and_a_light_without_time_are_400s(night):
    dataset = night.post("/datasets/", {"name": "odd"})
    night.upload(dataset, "cut.fits", content=b"SIMPLE  =                    T" + b" " * 50)
    night.upload(dataset, "notes.txt", content=b"seeing 2 arcsec\n")
    night.upload(dataset, "undated.fits", {"IMAGETYP": "LIGHT", "OBJECT": "M31"})
    assert night.files["cut.fits"]["header_status"] == "unreadable"
    for name, words in [
        ("cut.fits", "header could not be read"),
        ("notes.txt", "not a FITS or XISF file"),
        ("undated.fits", "no observation time"),
    ]:
        response = night.matches(name)
        assert response.status_code == 400 and words in response.json["detail"], name


def test_who_may_see_the_matches(night, client, alice, bob):
    url = f"/datafiles/{night.files['light_60_ha.fits']['id']}/calibrations/"
    anonymous = client.get(url)
    assert anonymous.status_code == 401 and anonymous.json["detail"]
    assert client.get(url, headers=bob.api).status_code == 404  # another's: not revealed
    # The upload key reads datafile metadata (docs/API.md §3): the matches too, the same.
    by_upload_key = client.get(url, headers=alice.upload)
    assert by_upload_key.status_code == 200
    assert by_upload_key.json == client.get(url, headers=alice.api).json
    dark = by_upload_key.json["dark"][0]
    assert client.get(dark["file"], headers=alice.upload).status_code == 403  # not the bytes
    assert client.get("/datafiles/abc/calibrations/", headers=alice.api).status_code == 404
    assert client.get("/datafiles/99999/calibrations/", headers=alice.api).status_code == 404
    assert client.post(url, headers=alice.api).status_code == 405
    assert client.post(url).status_code == 401  # the key first, then the 405


def test_both_url_forms_and_portal_roles(client, alice, bob, make_user, make_org, tmp_path):
    make_org("ohp", alice, {"bob": "visitor"})
    portal = Archive(client, alice, tmp_path, prefix="/ohp")
    dataset = portal.dataset("P", telescope="T120")
    portal.upload(dataset, "light.fits", cards("LIGHT", 0, filter="L", object="M42"))
    portal.upload(dataset, "flat.fits", cards("FLAT", 1, filter="L"))
    portal.upload(dataset, "bias.fits", cards("BIAS", 1, exposure=0.0))
    # The personal account's frames, at the same time: not the portal's.
    personal = Archive(client, alice, tmp_path / "personal")
    (tmp_path / "personal").mkdir()
    own = personal.dataset("own", telescope="T120")
    personal.upload(own, "light.fits", cards("LIGHT", 0, filter="L", object="M42"))
    personal.upload(own, "own_bias.fits", cards("BIAS", 0.5, exposure=0.0))

    assert portal.names("light.fits")["flat"] == ["flat.fits"]
    assert portal.names("light.fits")["bias"] == ["bias.fits"]
    assert personal.names("light.fits")["bias"] == ["own_bias.fits"]
    answer = portal.matches("light.fits").json
    assert answer["flat"][0]["file"].startswith("http://localhost/ohp/datafiles/")
    assert portal.matches("light.fits", prefix="").status_code == 404  # not the account's
    assert portal.matches("light.fits", user=bob).status_code == 200  # a visitor reads
    assert portal.matches("light.fits", user=make_user("dave")).status_code == 404


def test_without_a_registered_telescope_the_header_names_the_scope(client, alice, tmp_path):
    archive = Archive(client, alice, tmp_path)
    lights, other = archive.dataset("lights"), archive.dataset("calibration")
    archive.upload(lights, "light.fits", cards("LIGHT", 0, object="M42", filter="L"))
    archive.upload(other, "bias_rc8.fits", cards("BIAS", 2, exposure=0.0))
    archive.upload(other, "bias_c14.fits", cards("BIAS", 1, exposure=0.0, telescope="C14"))
    answer = archive.matches("light.fits").json
    assert answer["scope"] == {"by": "telescope_name", "value": "RC8"}
    assert [f["name"] for f in answer["bias"]] == ["bias_rc8.fits"]

    # No telescope named: the camera; neither: the light's own dataset.
    archive.upload(lights, "cam.fits", cards("LIGHT", 0, object="M42", telescope=None))
    archive.upload(other, "bias_cam.fits", cards("BIAS", 3, exposure=0.0, telescope=None))
    answer = archive.matches("cam.fits").json
    assert answer["scope"] == {"by": "instrument_name", "value": CAMERA}
    # The camera's frames, whichever telescope it was on.
    names = [f["name"] for f in answer["bias"]]
    assert names == ["bias_c14.fits", "bias_rc8.fits", "bias_cam.fits"]
    bare = {"telescope": None, "camera": None}
    archive.upload(lights, "bare.fits", cards("LIGHT", 0, object="M42", **bare))
    archive.upload(lights, "bias_here.fits", cards("BIAS", 5, exposure=0.0, **bare))
    archive.upload(other, "bias_there.fits", cards("BIAS", 4, exposure=0.0, **bare))
    answer = archive.matches("bare.fits").json
    assert answer["scope"] == {"by": "dataset", "value": lights["uuid"]}
    assert [f["name"] for f in answer["bias"]] == ["bias_here.fits"]


def test_the_window_is_a_setting(tmp_path):
    app = create_app(
        {"DATA_DIR": str(tmp_path / "data"), "TESTING": True, "CALIBRATION_WINDOW_DAYS": 5}
    )
    client = app.test_client()
    conn = connect(app.config["DATABASE"])
    created = accounts.create(conn, "erin", "erin@example.org", None)
    conn.close()
    erin = User("erin", created["api_key"], created["upload_key"], created)
    archive = Archive(client, erin, tmp_path)
    dataset = archive.dataset("run", telescope="RC8")
    archive.upload(dataset, "light.fits", cards("LIGHT", 0, object="M42"))
    archive.upload(dataset, "bias_4d.fits", cards("BIAS", 24 * 4.9, exposure=0.0))
    archive.upload(dataset, "bias_6d.fits", cards("BIAS", -24 * 6, exposure=0.0))
    answer = archive.matches("light.fits").json
    assert answer["window_days"] == 5 and [f["name"] for f in answer["bias"]] == ["bias_4d.fits"]


def test_the_window_setting_is_checked():
    assert load({}, {"ARCSEC_CALIBRATION_WINDOW_DAYS": "60"})["CALIBRATION_WINDOW_DAYS"] == 60
    assert load({}, {})["CALIBRATION_WINDOW_DAYS"] == 30
    with pytest.raises(ValueError, match="CALIBRATION_WINDOW_DAYS"):
        load({"CALIBRATION_WINDOW_DAYS": 0}, {})


@pytest.mark.parametrize(
    "bounds",
    [
        Bounds(KINDS["bias"], "1x1"),
        Bounds(KINDS["dark"], None, exposure=(59.0, 61.0), temperature=(-12.0, -8.0)),
        Bounds(KINDS["flat"], "2x2", filter_folded="ha"),
        Bounds(KINDS["flat"], "2x2", filter_folded=""),
    ],
)
def test_the_candidates_are_read_through_the_index(db, bounds):
    params = {"owner_id": 1, "telescope_id": 1, "telescope_name": "RC8", "dataset_id": 1}
    params.update(instrument_name="cam", start="2024-01-01", end="2024-02-01")
    params.update(frame_type=bounds.frame_types[1], binning="1x1", filter="ha")
    params.update(exposure0=1, exposure1=2, temperature0=1, temperature1=2)
    params.update(fallback=False, registered_name="RC8")
    for by, fallback in [*((by, False) for by in SCOPES), ("telescope", True)]:
        sql = "EXPLAIN QUERY PLAN " + frames_within_sql(by, bounds, fallback)
        plan = " | ".join(r["detail"] for r in db.execute(sql, params))
        assert "datafiles_calibration_frames (dataset_id=? AND frame_type=? AND date_obs>?" in plan
        assert "SCAN" not in plan, plan


BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_a_lights_page_links_its_calibration_frames_page(night, client, alice):
    light = night.files["light_60_ha.fits"]
    url = f"/datafiles/{light['id']}/calibrations/"
    html = client.get(f"/datafiles/{light['id']}/", headers={**BROWSER, **alice.api}).text
    assert f'<a href="{url}">matching bias, dark and flat frames</a>' in html
    dark = night.files["dark_60_m10_a.fits"]
    dark_page = client.get(f"/datafiles/{dark['id']}/", headers={**BROWSER, **alice.api}).text
    assert "/calibrations/" not in dark_page  # a calibration frame has none to match

    response = client.get(url, headers={**BROWSER, **alice.api})
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.text
    assert "Calibration frames for light_60_ha.fits" in html
    assert "<h2>Biases (2)</h2>" in html and "<h2>Dark flats (1)</h2>" in html
    rows = re.findall(r'<tr><td><a href="/datafiles/(\d+)/">([^<]+)</a></td><td>([^<]+)</td>', html)
    assert [name for _, name, _ in rows] == [
        "bias_a.fits",
        "bias_b.fits",
        "dark_60_m10_a.fits",
        "dark_60_m10_b.fits",
        "flat_ha.fits",
        "flat_ha_later.fits",
        "darkflat_2.fits",
    ]
    assert "exposure 60 s within 1 % of 60 s" in html
    generic = client.get(url + "?format=api", headers={**BROWSER, **alice.api}).text
    assert '<pre class="json">' in generic


def test_the_page_says_when_nothing_suits(client, alice, tmp_path):
    archive = Archive(client, alice, tmp_path)
    dataset = archive.dataset("alone", telescope="RC8")
    archive.upload(dataset, "light.fits", cards("LIGHT", 0, object="M42"))
    response = archive.matches("light.fits")
    assert {k: response.json[k] for k in ("bias", "dark", "flat", "dark_flat")} == {
        "bias": [],
        "dark": [],
        "flat": [],
        "dark_flat": [],
    }
    url = f"/datafiles/{archive.files['light.fits']['id']}/calibrations/"
    html = client.get(url, headers={**BROWSER, **alice.api}).text
    assert html.count("None within the window.") == 4


def test_the_night_log_page_links_each_frame_groups_calibrations(client, alice, tmp_path):
    archive = Archive(client, alice, tmp_path)
    site = archive.post("/observingsites/", {"name": "OHP", "time_zone": "Europe/Paris"})
    scope = archive.post("/telescopes/", {"name": "RC8", "observing_site": site["uuid"]})
    dataset = archive.post("/datasets/", {"name": "run", "telescope": scope["uuid"]})
    for name, hours, values in [
        ("ha_300_1.fits", 0.0, {"filter": "Ha", "exposure": 300.0}),
        ("ha_300_2.fits", 0.1, {"filter": "Ha", "exposure": 300.0}),
        ("oiii_60.fits", 0.2, {"filter": "OIII", "exposure": 60.0}),
        ("ha_300_bin2.fits", 0.3, {"filter": "Ha", "exposure": 300.0, "binning": 2}),
    ]:
        archive.upload(dataset, name, cards("LIGHT", hours, object="M31", **values))
    archive.upload(dataset, "bias.fits", cards("BIAS", 1.0, exposure=0.0))
    (log,) = client.get("/nightlogs/", headers=alice.api).json["results"]
    html = client.get(f"/nightlogs/{log['uuid']}/", headers={**BROWSER, **alice.api}).text
    (line,) = re.findall(r'<p class="calibration-links">(.*?)</p>', html, re.S)
    links = re.findall(r'<a href="/datafiles/(\d+)/calibrations/">([^<]+)</a>', line)
    ids = {name: f["id"] for name, f in archive.files.items()}
    assert links == [
        (str(ids["ha_300_1.fits"]), "Ha, 300 s, 1x1"),
        (str(ids["oiii_60.fits"]), "OIII, 60 s, 1x1"),
        (str(ids["ha_300_bin2.fits"]), "Ha, 300 s, 2x2"),
    ]


@pytest.mark.parametrize("when", ["0001-01-10T00:00:00", "9999-12-25T00:00:00"])
def test_a_light_at_the_ends_of_time_is_matched_not_a_500(client, alice, tmp_path, when):
    archive = Archive(client, alice, tmp_path)
    dataset = archive.dataset("odd", telescope="RC8")
    archive.upload(dataset, "light.fits", {**cards("LIGHT", 0, object="M42"), "DATE-OBS": when})
    archive.upload(dataset, "bias.fits", {**cards("BIAS", 0, exposure=0.0), "DATE-OBS": when})
    assert archive.names("light.fits")["bias"] == ["bias.fits"]


def test_frames_uploaded_without_a_telescope_come_after_the_telescopes_own(night, client, bob):
    """A calibration library without telescope: its frames naming RC8 or no telescope are
    weaker candidates, after RC8's own; naming C14, or another account's, never."""
    library = night.post("/datasets/", {"name": "calibration library"})
    night.upload(library, "bias_lib_rc8.fits", cards("BIAS", 0.2, exposure=0.0))
    night.upload(library, "bias_lib_none.fits", cards("BIAS", 0.3, exposure=0.0, telescope=None))
    night.upload(library, "bias_lib_c14.fits", cards("BIAS", 0.1, exposure=0.0, telescope="C14"))
    night.upload(
        library, "master_bias_lib.fits", cards("Master Bias", -48.0, exposure=0.0, telescope=None)
    )
    bobs = Archive(client, bob, night.tmp_path / "bob")
    bobs.upload(bobs.post("/datasets/", {"name": "lib"}), "bias_bob_lib.fits", cards("BIAS", 0.01))
    answer = night.matches("light_60_ha.fits").json
    assert [f["name"] for f in answer["bias"]] == [
        *BIASES,
        "master_bias_lib.fits",  # masters first among the weaker too
        "bias_lib_rc8.fits",
        "bias_lib_none.fits",
    ]
    assert [f["match"]["fallback"] for f in answer["bias"]] == [False, False, True, True, True]
    assert answer["bias"][3]["match"]["reason"] == (
        "binning 1x1, 12 min after the light; from a dataset without telescope"
        " (header telescope RC8), after the telescope's own frames"
    )
    assert night.names("light_60_ha.fits", "?limit=2")["bias"] == BIASES  # none needed
    # A registered dataset's light of another telescope gets none of them but the unnamed.
    c14_set = night.files["bias_c14.fits"]["dataset"]
    c14_scope = client.get(f"/datasets/{c14_set}/", headers=night.user.api).json["telescope"]
    c14 = night.post("/datasets/", {"name": "C14 lights", "telescope": c14_scope})
    night.upload(c14, "light_c14.fits", cards("LIGHT", 0.0, telescope="C14", filter="Ha"))
    assert night.names("light_c14.fits")["bias"] == [
        "bias_c14.fits",
        "master_bias_lib.fits",
        "bias_lib_c14.fits",
        "bias_lib_none.fits",
    ]
