"""Previews of files registered with `ingest --in-place`: made from where the file is, cached
like any other, removed with the row (data file or dataset DELETE); the file itself stays."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from arcsec_flask.services import previews
from tests.images.pixels import decode, ramp
from tests.support.factories import write_fits

LIGHT = {"IMAGETYP": "LIGHT", "OBJECT": "M31", "DATE-OBS": "2024-03-01T21:00:00"}


@pytest.fixture
def archive(tmp_path):
    """A folder of three frames, as a mounted archive disk holds them."""
    root = tmp_path / "archive"
    root.mkdir()
    for i in range(3):
        write_fits(root / f"m31_{i}.fits", {**LIGHT, "EXPTIME": 10 + i}, data=ramp(300, 200))
    return root


@pytest.fixture
def in_place(app, client, alice, archive):
    run = app.test_cli_runner().invoke(
        args=["ingest", str(archive), "--dataset", "A", "--user", "alice", "--in-place"]
    )
    assert run.exit_code == 0, run.output
    listed = client.get("/datafiles/", headers=alice.api).json["results"]
    return {f["name"]: f for f in listed}


def cached(app) -> list[Path]:
    root = previews.folder(app.config["DATA_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def preview(client, user, found: dict):
    with client.get(f"/datafiles/{found['id']}/preview/", headers=user.api) as response:
        response.get_data()
    return response


def sums(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.iterdir()}


def test_an_in_place_file_has_a_preview_made_from_where_it_is(app, client, alice, in_place):
    response = preview(client, alice, in_place["m31_0.fits"])
    assert response.status_code == 200 and response.mimetype == "image/png"
    pixels, mode = decode(response.data)
    assert mode == "L" and pixels.shape == (200, 300)
    assert pixels[0, 0] == 0 and pixels[0, -1] == 255  # the ramp, stretched black to white
    assert len(cached(app)) == 1
    assert not any(Path(app.config["FILES_DIR"]).rglob("*.fits"))  # nothing copied in


def test_deleting_an_in_place_file_removes_its_preview_not_the_file(
    app, client, db, alice, in_place, archive
):
    before = sums(archive)
    for found in in_place.values():
        assert preview(client, alice, found).status_code == 200
    tokens = {
        name: Path(
            db.execute("SELECT storage_path FROM datafiles WHERE id = ?", (f["id"],)).fetchone()[0]
        ).name
        for name, f in in_place.items()
    }
    assert {p.name.split(".")[0] for p in cached(app)} == set(tokens.values())
    gone = in_place["m31_0.fits"]
    assert client.delete(f"/datafiles/{gone['id']}/", headers=alice.api).status_code == 204
    kept = {p.name.split(".")[0] for p in cached(app)}
    assert kept == {tokens["m31_1.fits"], tokens["m31_2.fits"]}  # that one's only
    assert sums(archive) == before
    assert preview(client, alice, gone).status_code == 404


def test_deleting_the_dataset_removes_the_previews_of_its_in_place_files(
    app, client, alice, in_place, archive
):
    before = sums(archive)
    for found in in_place.values():
        assert preview(client, alice, found).status_code == 200
    assert len(cached(app)) == 3
    dataset = in_place["m31_0.fits"]["dataset"]
    assert client.delete(f"/datasets/{dataset}/", headers=alice.api).status_code == 204
    assert cached(app) == []
    assert sums(archive) == before


def test_storage_check_keeps_the_previews_of_in_place_files(app, client, alice, in_place):
    for found in in_place.values():
        assert preview(client, alice, found).status_code == 200
    made = cached(app)
    runner = app.test_cli_runner()
    report = runner.invoke(args=["storage", "check"])
    assert "0 cached previews of no row" in report.output, report.output
    swept = runner.invoke(args=["storage", "check", "--delete"])
    assert "removed 0 cached previews of no row" in swept.output
    assert cached(app) == made and len(made) == 3
