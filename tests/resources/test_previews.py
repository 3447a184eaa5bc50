"""Previews over HTTP: /[<subdomain>/]datafiles/<id>/preview/, made once, cached, removed."""

from __future__ import annotations

import io
import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from werkzeug.datastructures import FileStorage
from werkzeug.security import generate_password_hash
from werkzeug.test import encode_multipart

from arcsec_flask.services import previews
from tests.images.pixels import decode, expected_ramp, ramp
from tests.support.factories import write_fits, write_xisf_image

PASSWORD = "correct horse battery staple"


@pytest.fixture
def dataset(client, alice):
    response = client.post("/datasets/", json={"name": "M31"}, headers=alice.api)
    assert response.status_code == 201
    return response.json


@pytest.fixture
def upload(client, alice, dataset):
    def send(path: Path, name: str | None = None, headers=None, prefix: str = "", into=None):
        data = {
            "dataset": (into or dataset)["uuid"],
            "file": FileStorage(io.BytesIO(path.read_bytes()), name or path.name),
        }
        # Encoded in memory: the test client would spool a body this big to a temporary
        # file that it never closes.
        boundary, body = encode_multipart(data)
        response = client.post(
            f"{prefix}/datafiles/",
            data=body,
            content_type=f"multipart/form-data; boundary={boundary}",
            headers=headers or alice.upload,
        )
        assert response.status_code == 201, response.json
        return response.json

    return send


def cached_files(app) -> list[Path]:
    root = previews.folder(app.config["DATA_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def get_preview(client, user, found: dict, prefix: str = "", **headers):
    """The answer, read and closed (a file answer holds its file open until closed)."""
    url = f"{prefix}/datafiles/{found['id']}/preview/"
    with client.get(url, headers={**user.api, **headers}) as response:
        response.get_data()
    return response


def test_a_ramp_is_served_as_a_1024_pixel_png_stretched_black_to_white(
    client, alice, upload, tmp_path
):
    found = upload(write_fits(tmp_path / "ramp.fits", data=ramp(3000, 2000)))
    assert found["preview"] == f"http://localhost/datafiles/{found['id']}/preview/"
    response = get_preview(client, alice, found)
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.headers["ETag"] == f'"{found["checksum"][:32]}-v1"'  # strong
    assert response.headers["Cache-Control"] == "private, max-age=86400"
    pixels, mode = decode(response.data)
    assert mode == "L" and pixels.shape == (683, 1024)  # 3000 x 2000 shrunk, ratio kept
    assert np.abs(pixels[0].astype(int) - expected_ramp(1024)).max() <= 2
    assert np.abs(pixels[:, 0].astype(int)).max() <= 2 and pixels[:, -1].min() >= 253


def test_xisf_mono_and_colour(client, alice, upload, tmp_path):
    grey = upload(write_xisf_image(tmp_path / "grey.xisf", ramp(1200, 300, np.uint16)))
    pixels, mode = decode(get_preview(client, alice, grey).data)
    assert mode == "L" and pixels.shape == (256, 1024)
    assert np.abs(pixels[0].astype(int) - expected_ramp(1024)).max() <= 2

    red = ramp(600, 200, np.uint16)
    rgb = np.stack([red, red[:, ::-1], np.zeros_like(red)], axis=2)
    colour = upload(write_xisf_image(tmp_path / "rgb.xisf", rgb, codec="zlib"))
    pixels, mode = decode(get_preview(client, alice, colour).data)
    assert mode == "RGB" and pixels.shape == (200, 600, 3)
    assert pixels[0, 0, 0] <= 2 and pixels[0, -1, 0] >= 253  # red grows left to right
    assert pixels[0, 0, 1] >= 253 and pixels[0, -1, 1] <= 2  # green the other way


@pytest.mark.parametrize("compress, name", [("fz", "ramp.fits.fz"), ("gzip", "ramp.fits.gz")])
def test_tile_compressed_and_gzipped_frames(client, alice, upload, tmp_path, compress, name):
    found = upload(write_fits(tmp_path / name, data=ramp(1500, 600), compress=compress))
    pixels, mode = decode(get_preview(client, alice, found).data)
    assert mode == "L" and pixels.shape == (410, 1024)
    assert np.abs(pixels[0].astype(int) - expected_ramp(1024)).max() <= 2


def test_no_preview_of_a_text_file_or_a_flagged_file(client, alice, upload, tmp_path, app):
    notes = tmp_path / "notes.txt"
    notes.write_text("seeing 2 arcsec, clouds after 2am\n")
    text = upload(notes)
    cut = tmp_path / "cut.fits"
    cut.write_bytes(b"SIMPLE  =                    T" + b" " * 50)
    flagged = upload(cut)
    assert flagged["header_status"] == "unreadable"
    assert text["preview"] is None and flagged["preview"] is None
    for found, words in ((text, "not a FITS or XISF"), (flagged, "header could not be read")):
        response = get_preview(client, alice, found)
        assert response.status_code == 404 and response.mimetype == "application/json"
        assert words in response.json["detail"]
    assert cached_files(app) == []  # nothing was even tried


def truncated_frame(path: Path) -> Path:
    """A frame whose header is whole but whose pixels stop a third of the way in."""
    write_fits(path, {"IMAGETYP": "LIGHT"}, data=ramp(600, 400))
    content = path.read_bytes()
    path.write_bytes(content[: 2880 + len(content) // 3])
    return path


def test_a_table_only_or_damaged_file_is_a_404_remembered_not_retried(
    client, alice, upload, tmp_path, app
):
    table = tmp_path / "table.fits"
    columns = fits.ColDefs([fits.Column(name="flux", format="E", array=np.arange(5.0))])
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(columns)]).writeto(table)
    only_table = upload(table)
    damaged = upload(truncated_frame(tmp_path / "damaged.fits"))
    assert damaged["header_status"] == "read"  # the header is fine; the pixels are not
    for found in (only_table, damaged):
        assert found["preview"] is not None  # whether it has an image shows only on reading
        response = get_preview(client, alice, found)
        assert response.status_code == 404
        assert "no image that can be previewed" in response.json["detail"]
    markers = cached_files(app)
    assert [p.suffix for p in markers] == [".none", ".none"]
    # The failure is remembered: the next request reads the marker, not the file.
    stored = Path(app.config["FILES_DIR"])
    for path in stored.rglob("*"):
        if path.is_file():
            path.chmod(0)  # rendering again would now fail loudly (a server error)
    try:
        for found in (only_table, damaged):
            assert get_preview(client, alice, found).status_code == 404
    finally:
        for path in stored.rglob("*"):
            if path.is_file():
                path.chmod(0o644)


@pytest.mark.parametrize(
    "name, damage",
    [
        ("cut.fits.gz", lambda b: b[: len(b) // 2]),
        ("cut.fits.fz", lambda b: b[:-3000]),
        ("bad.xisf", lambda b: b[: len(b) - 1000]),
    ],
)
def test_damaged_compressed_frames_are_404s(client, alice, upload, tmp_path, name, damage):
    if name.endswith(".xisf"):
        path = write_xisf_image(tmp_path / name, ramp(300, 200, np.uint16), codec="zlib")
    else:
        compress = "gzip" if name.endswith(".gz") else "fz"
        path = write_fits(tmp_path / name, data=ramp(600, 400), compress=compress)
    path.write_bytes(damage(path.read_bytes()))
    found = upload(path)
    assert found["header_status"] == "read"  # the header comes first and is whole
    response = get_preview(client, alice, found)
    assert response.status_code == 404, response.data[:200]
    assert "no image that can be previewed" in response.json["detail"]


def test_the_preview_is_made_once_and_then_reused(client, alice, upload, tmp_path, app):
    found = upload(write_fits(tmp_path / "ramp.fits", data=ramp(800, 600)))
    first = get_preview(client, alice, found)
    (png,) = cached_files(app)
    assert png.read_bytes() == first.data and png.suffix == ".png"
    old = png.stat().st_mtime_ns - 10_000_000_000
    os.utime(png, ns=(old, old))
    # The stored frame changes under it (it never does): the cached preview is still served.
    stored = next(p for p in Path(app.config["FILES_DIR"]).rglob("*") if p.is_file())
    stored.write_bytes(b"")
    again = get_preview(client, alice, found)
    assert again.status_code == 200 and again.data == first.data
    assert png.stat().st_mtime_ns == old  # not rendered again
    etag = first.headers["ETag"]
    cached = get_preview(client, alice, found, **{"If-None-Match": etag})
    assert cached.status_code == 304 and cached.data == b""


def test_racing_workers_leave_one_whole_preview(upload, tmp_path, app, db):
    from arcsec_flask.repo import datafiles
    from arcsec_flask.web.storage import backend_of

    found = upload(write_fits(tmp_path / "ramp.fits", data=ramp(2000, 1500)))
    row = datafiles.get(db, found_owner(db, found), found["id"])
    made, errors = [], []

    def render() -> None:
        try:
            made.append(previews.preview_of(app.config["DATA_DIR"], backend_of(app), row))
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=render) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len({p.path for p in made}) == 1
    assert cached_files(app) == [made[0].path]  # no temporary file left behind
    pixels, _ = decode(made[0].path.read_bytes())
    assert pixels.shape == (768, 1024)


def found_owner(db, found: dict) -> int:
    return db.execute(
        "SELECT d.owner_id FROM datasets d JOIN datafiles f ON f.dataset_id = d.id WHERE f.id = ?",
        (found["id"],),
    ).fetchone()[0]


def test_deleting_the_file_or_its_dataset_removes_the_preview(client, alice, upload, tmp_path, app):
    one = upload(write_fits(tmp_path / "a.fits", data=ramp(300, 200)))
    two = upload(write_fits(tmp_path / "b.fits", data=ramp(300, 200)))
    table = tmp_path / "t.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns([])]).writeto(table)
    three = upload(table)
    for found in (one, two, three):
        get_preview(client, alice, found)
    assert len(cached_files(app)) == 3
    assert client.delete(f"/datafiles/{one['id']}/", headers=alice.api).status_code == 204
    assert len(cached_files(app)) == 2
    assert get_preview(client, alice, one).status_code == 404
    dataset = client.get(f"/datasets/{two['dataset']}/", headers=alice.api).json
    assert client.delete(f"/datasets/{dataset['uuid']}/", headers=alice.api).status_code == 204
    assert cached_files(app) == []


def test_storage_check_delete_removes_previews_of_no_row(client, alice, upload, tmp_path, app):
    found = upload(write_fits(tmp_path / "a.fits", data=ramp(300, 200)))
    get_preview(client, alice, found)
    (png,) = cached_files(app)
    orphan = png.with_name("0123456789abcdef0123456789abcdef.v1.png")
    orphan.write_bytes(png.read_bytes())  # as if a crash came between row and preview removal
    runner = app.test_cli_runner()
    report = runner.invoke(args=["storage", "check"])
    assert "1 cached previews of no row" in report.output and orphan.exists()
    swept = runner.invoke(args=["storage", "check", "--delete"])
    assert "removed 1 cached previews of no row" in swept.output
    assert cached_files(app) == [png]


def test_both_url_forms(client, alice, make_org, tmp_path, upload):
    make_org("ohp", alice)
    portal_set = client.post("/ohp/datasets/", json={"name": "P"}, headers=alice.api).json
    found = upload(
        write_fits(tmp_path / "p.fits", data=ramp(300, 200)), prefix="/ohp", into=portal_set
    )
    assert found["preview"] == f"http://localhost/ohp/datafiles/{found['id']}/preview/"
    listed = client.get("/ohp/datafiles/", headers=alice.api).json["results"]
    assert [f["preview"] for f in listed] == [found["preview"]]
    response = get_preview(client, alice, found, prefix="/ohp")
    assert response.status_code == 200 and decode(response.data)[0].shape == (200, 300)
    # The portal's file is not the personal account's.
    assert get_preview(client, alice, found).status_code == 404


def test_who_may_see_a_preview(client, alice, bob, make_user, make_org, upload, tmp_path):
    found = upload(write_fits(tmp_path / "a.fits", data=ramp(300, 200)))
    url = f"/datafiles/{found['id']}/preview/"
    anonymous = client.get(url)
    assert anonymous.status_code == 401 and anonymous.json["detail"]
    assert client.get(url, headers=bob.api).status_code == 404  # another's: not revealed
    refused = client.get(url, headers=alice.upload)
    assert refused.status_code == 403 and "upload key" in refused.json["detail"]
    assert client.get("/datafiles/abc/preview/", headers=alice.api).status_code == 404

    make_org("ohp", alice, {"bob": "visitor"})
    portal_set = client.post("/ohp/datasets/", json={"name": "P"}, headers=alice.api).json
    shared = upload(
        write_fits(tmp_path / "p.fits", data=ramp(300, 200)), prefix="/ohp", into=portal_set
    )
    assert get_preview(client, bob, shared, prefix="/ohp").status_code == 200  # a visitor
    stranger = make_user("dave")
    assert get_preview(client, stranger, shared, prefix="/ohp").status_code == 404


def test_a_browser_session_may_see_a_preview(client, make_user, upload, tmp_path):
    carol = make_user(
        "carol", password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    )
    dataset = client.post("/datasets/", json={"name": "C"}, headers=carol.api).json
    found = upload(
        write_fits(tmp_path / "c.fits", data=ramp(300, 200)), headers=carol.upload, into=dataset
    )
    form = client.get("/auth/login/").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    login = {"username": "carol", "password": PASSWORD, "csrf_token": token}
    assert client.post("/auth/login/", data=login).status_code == 303
    with client.get(f"/datafiles/{found['id']}/preview/") as response:
        assert response.status_code == 200 and response.mimetype == "image/png"
