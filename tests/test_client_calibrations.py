"""Calibration matching on a night uploaded by the real `arcsecond` client into a real
gunicorn: the lights in one dataset, the calibration frames in another of the telescope."""

from __future__ import annotations

import httpx
import pytest

from tests.resources.test_calibrations_match import cards
from tests.support.factories import write_fits
from tests.support.servers import start_gunicorn

pytestmark = pytest.mark.client
HEADER = "X-Arcsecond-API-Authorization"


@pytest.fixture
def server(tmp_path):
    server = start_gunicorn(tmp_path / "live", workers=2)
    yield server
    server.stop()


def test_a_night_uploaded_by_the_client_gets_its_calibrations(server, arcsecond, tmp_path):
    keys = server.new_user("obs")
    api = {HEADER: f"Key {keys['api_key']}"}
    telescope = httpx.post(server.url + "telescopes/", headers=api, json={"name": "RC8"}).json()
    lights, calibration = tmp_path / "lights", tmp_path / "calibration"
    lights.mkdir(), calibration.mkdir()
    for name, hours, values in [
        ("M31_Ha_300s_001.fits", 0.0, {"filter": "Ha", "exposure": 300.0}),
        ("M31_OIII_60s_001.fits", 0.5, {"filter": "OIII", "exposure": 60.0}),
    ]:
        write_fits(lights / name, cards("LIGHT", hours, object="M31", **values))
    for name, frame_type, hours, values in [
        ("DARK_300s_m10.fits", "DARK", 3.0, {"exposure": 300.0, "temperature": -10.0}),
        ("DARK_300s_m5.fits", "DARK", 3.1, {"exposure": 300.0, "temperature": -5.0}),
        ("DARK_60s_m10.fits", "DARK", 3.2, {"exposure": 60.0, "temperature": -10.0}),
        ("FLAT_Ha.fits", "FLAT", 9.0, {"filter": "Ha", "exposure": 2.0}),
        ("FLAT_OIII.fits", "FLAT", 9.1, {"filter": "OIII", "exposure": 4.0}),
        ("BIAS_001.fits", "BIAS", 4.0, {"exposure": 0.0}),
        ("BIAS_002.fits", "BIAS", -2.0, {"exposure": 0.0}),
    ]:
        write_fits(calibration / name, cards(frame_type, hours, **values))

    assert arcsecond.run("api", "add", "local", server.url).returncode == 0
    assert arcsecond.run("api", "use", "local").returncode == 0
    arcsecond.run("login", "--username", "obs", "--type", "upload", "--key", keys["upload_key"])
    for folder, count in ((lights, 2), (calibration, 7)):
        run = arcsecond.run(
            "upload", str(folder), "-d", folder.name, "-t", telescope["uuid"], stdin="\n"
        )
        output = run.stdout + run.stderr
        assert f"uploads succeeded: {count}, skipped: 0, failed: 0" in output, output[-3000:]

    files = httpx.get(server.url + "datafiles/?frame_type=light", headers=api).json()["results"]
    by_name = {f["name"]: f for f in files}

    def names(light: str) -> dict[str, list[str]]:
        url = f"{server.url}datafiles/{by_name[light]['id']}/calibrations/"
        response = httpx.get(url, headers=api)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["scope"] == {"by": "telescope", "value": telescope["uuid"]}
        for kind in ("bias", "dark", "flat"):
            assert all(f["file"].startswith(server.url) for f in answer[kind])
        return {k: [f["name"] for f in answer[k]] for k in ("bias", "dark", "flat", "dark_flat")}

    assert names("M31_Ha_300s_001.fits") == {
        "bias": ["BIAS_002.fits", "BIAS_001.fits"],
        "dark": ["DARK_300s_m10.fits"],
        "flat": ["FLAT_Ha.fits"],
        "dark_flat": [],
    }
    assert names("M31_OIII_60s_001.fits") == {
        "bias": ["BIAS_002.fits", "BIAS_001.fits"],
        "dark": ["DARK_60s_m10.fits"],
        "flat": ["FLAT_OIII.fits"],
        "dark_flat": [],
    }
    upload_only = {HEADER: f"Key {keys['upload_key']}"}
    url = f"{server.url}datafiles/{by_name['M31_Ha_300s_001.fits']['id']}/calibrations/"
    # The upload key reads the matches (datafile metadata, docs/API.md §3), not the bytes.
    by_upload_key = httpx.get(url, headers=upload_only)
    assert by_upload_key.status_code == 200, by_upload_key.text
    first_bias = by_upload_key.json()["bias"][0]["file"]
    assert httpx.get(first_bias, headers=upload_only).status_code == 403
