"""Names holding invisible format characters (issue 11): bidirectional controls
(U+202A-202E, U+2066-2069), zero-width characters and the other Cf characters are
removed from file names and from the names of datasets, packages and the rest, never
refused (docs/API.md §8: the real client aborts a night at its second refusal)."""

from __future__ import annotations

import unicodedata

import httpx
import pytest

from arcsec_flask.domain.errors import Invalid
from arcsec_flask.domain.names import base_name, clean_name
from tests.support.factories import write_fits
from tests.support.servers import start_gunicorn

HEADER = "X-Arcsecond-API-Authorization"
BIDI = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff"]
OTHER_CF = ["\u00ad", "\u061c", "\u180e", "\U000e0001"]  # soft hyphen, ALM, MVS, a tag


@pytest.mark.parametrize("invisible", BIDI + ZERO_WIDTH + OTHER_CF)
def test_every_format_character_is_removed(invisible):
    assert unicodedata.category(invisible) == "Cf"
    assert clean_name(f"m31{invisible}_001.fits") == "m31_001.fits"
    assert base_name(f"night/{invisible}m31.fits{invisible}") == "m31.fits"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("evil\u202estif.exe", "evilstif.exe"),  # shows as "evilexe.fits" otherwise
        ("\u2067M31\u2069 light.fits", "M31 light.fits"),
        ("Ωmega-Centauri_é.fits", "Ωmega-Centauri_é.fits"),  # letters stay
        ("مجرة.fits", "مجرة.fits"),  # right-to-left letters stay (they are not controls)
    ],
)
def test_base_names_keep_what_is_visible(sent, kept):
    assert base_name(sent) == kept


def test_a_name_of_only_invisible_characters_is_no_name():
    with pytest.raises(Invalid):
        base_name("\u202e\u200b")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = start_gunicorn(tmp_path_factory.mktemp("names") / "live", workers=1)
    yield server
    server.stop()


def test_uploads_and_names_through_the_api_are_cleaned(server, tmp_path):
    keys = server.new_user("alice")
    api = {HEADER: f"Key {keys['api_key']}"}
    dataset = httpx.post(
        server.url + "datasets/", json={"name": "M31\u202e run\u200b"}, headers=api
    )
    assert dataset.status_code == 201 and dataset.json()["name"] == "M31 run"
    uuid = dataset.json()["uuid"]
    frame = write_fits(tmp_path / "frame.fits", {"OBJECT": "M31"}).read_bytes()
    upload = httpx.post(
        server.url + "datafiles/",
        data={"dataset": uuid},
        files={"file": ("light\u202estif.fits", frame)},
        headers={HEADER: f"Key {keys['upload_key']}"},
    )
    assert upload.status_code == 201, upload.text
    assert upload.json()["name"] == "lightstif.fits" and upload.json()["format"] == "fits"
    again = httpx.post(  # the same visible name: the duplicate the client skips
        server.url + "datafiles/",
        data={"dataset": uuid},
        files={"file": ("lightstif\u200b.fits", frame)},
        headers=api,
    )
    assert again.status_code == 400 and "already exists in dataset" in again.json()["detail"]
    package = httpx.post(
        server.url + "datapackages/", json={"name": "\u2066Pack\u2069"}, headers=api
    )
    assert package.status_code == 201 and package.json()["name"] == "Pack"
    renamed = httpx.patch(server.url + f"datasets/{uuid}/", json={"name": "\ufeffM31"}, headers=api)
    assert renamed.status_code == 200 and renamed.json()["name"] == "M31"
    blank = httpx.post(server.url + "telescopes/", json={"name": "\u200b\u202e"}, headers=api)
    assert blank.status_code == 400 and "name" in blank.json()["errors"]
    listed = httpx.get(server.url + f"datafiles/?dataset={uuid}", headers=api).json()
    assert [f["name"] for f in listed["results"]] == ["lightstif.fits"]
    # The client looks a dataset up by the name it was given before making it: found.
    found = httpx.get(server.url + "datasets/", params={"name": "\u202eM31"}, headers=api)
    assert found.status_code == 200 and found.json()["count"] == 1
    by_file = httpx.get(
        server.url + "datafiles/", params={"name": "light\u202estif.fits"}, headers=api
    )
    assert by_file.json()["count"] == 1


@pytest.mark.client
def test_the_real_client_uploads_a_file_named_with_a_bidi_control(server, arcsecond, tmp_path):
    keys = server.new_user("obs")
    api = {HEADER: f"Key {keys['api_key']}"}
    telescope = httpx.post(server.url + "telescopes/", json={"name": "RC8"}, headers=api).json()
    folder = tmp_path / "night"
    folder.mkdir()
    write_fits(folder / "m31_\u202estif.fits", {"OBJECT": "M31"})
    write_fits(folder / "m31_\u200b002.fits", {"OBJECT": "M31"})
    (folder / "notes\u2066.txt").write_text("clear\n")
    assert arcsecond.run("api", "add", "local", server.url).returncode == 0
    assert arcsecond.run("api", "use", "local").returncode == 0
    login = arcsecond.run(
        "login", "--username", "obs", "--type", "upload", "--key", keys["upload_key"]
    )
    assert "Logged in" in login.stdout
    # The dataset named with an invisible character too: made as "N1", found again by it.
    run = arcsecond.run(
        "upload", str(folder), "-d", "N1\u200b", "-t", telescope["uuid"], stdin="\n"
    )
    output = run.stdout + run.stderr
    assert "uploads succeeded: 3, skipped: 0, failed: 0" in output, output[-3000:]
    again = arcsecond.run(
        "upload", str(folder), "-d", "N\u20661", "-t", telescope["uuid"], stdin="\n"
    )
    output = again.stdout + again.stderr
    assert "uploads succeeded: 0, skipped: 3, failed: 0" in output, output[-3000:]
    datasets = httpx.get(server.url + "datasets/?name=N1", headers=api).json()
    assert datasets["count"] == 1  # one dataset for both runs
    dataset = datasets["results"][0]
    files = httpx.get(server.url + f"datafiles/?dataset={dataset['uuid']}", headers=api).json()
    assert sorted(f["name"] for f in files["results"]) == [
        "m31_002.fits",
        "m31_stif.fits",
        "notes.txt",
    ]
