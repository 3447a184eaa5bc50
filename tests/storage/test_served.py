"""The app over both storage backends: the local folder and an S3 bucket (a real SeaweedFS).

The `app` fixture here is parametrised, so every test of this module (and the suites of
tests/resources imported at the bottom, which use `app` through `client`) runs once per
backend: upload, list, download (whole and by range), preview, package archive, delete.
With S3, downloads stream through the app (ARCSEC_S3_PRESIGN_SECONDS=0) so that the same
assertions hold; the presigned redirect has its own test.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from arcsec_flask import create_app
from arcsec_flask.storage import MIN_PART_SIZE, Backend
from arcsec_flask.web.storage import backend_of
from tests.support.factories import LIGHT_CARDS, write_fits

MiB = 1024 * 1024


@pytest.fixture(params=["file", "s3"])
def app(request, tmp_path):
    settings: dict = {"DATA_DIR": str(tmp_path / "data"), "TESTING": True}
    if request.param == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        settings |= {**bucket.settings, "S3_PART_SIZE": MIN_PART_SIZE, "S3_PRESIGN_SECONDS": 0}
    return create_app(settings)


@pytest.fixture
def backend(app) -> Backend:
    return backend_of(app)


@pytest.fixture
def dataset(client, alice):
    response = client.post("/datasets/", json={"name": "M31"}, headers=alice.api)
    assert response.status_code == 201
    return response.json


def post_file(client, user, dataset: dict, name: str, body: bytes, dataset_first: bool = True):
    fields = {"dataset": dataset["uuid"], "file": FileStorage(io.BytesIO(body), name)}
    if not dataset_first:
        fields = {"file": fields["file"], "dataset": fields["dataset"]}
    boundary, encoded = encode_multipart(fields)
    return client.post(
        "/datafiles/",
        data=encoded,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=user.upload,
    )


def multipart_uploads(backend: Backend) -> list:
    if backend.kind != "s3":
        return []
    client, bucket = backend.client, backend.bucket  # type: ignore[attr-defined]
    return client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def noise_frame(path: Path, shape=(1536, 1536), compress=None) -> Path:
    data = np.random.default_rng(3).integers(0, 65535, shape, dtype=np.uint16)
    return write_fits(path, LIGHT_CARDS, data, compress=compress)


@pytest.mark.parametrize("dataset_first", [True, False], ids=["dataset-first", "file-first"])
def test_upload_list_download_range_delete(
    client, alice, dataset, backend, tmp_path, dataset_first
):
    # Over one S3 part (5 MiB): a multipart upload of two parts.
    path = noise_frame(tmp_path / "m31.fits", shape=(1800, 1800))
    body = path.read_bytes()
    assert len(body) > MIN_PART_SIZE
    response = post_file(client, alice, dataset, "m31.fits", body, dataset_first)
    assert response.status_code == 201, response.json
    made = response.json
    assert made["checksum"] == hashlib.sha256(body).hexdigest() and made["size"] == len(body)
    assert made["format"] == "fits" and made["target_name"] == "M31"
    row_path = _storage_path(client.application, made["id"])
    assert backend.stored_paths() == {row_path} and row_path.startswith(dataset["uuid"] + "/")
    assert multipart_uploads(backend) == [] and backend.stray_uploads(older_than_s=0) == []

    listed = client.get(f"/datafiles/?dataset={dataset['uuid']}", headers=alice.api).json
    assert [f["id"] for f in listed["results"]] == [made["id"]]

    with client.get(made["file"], headers=alice.api) as whole:
        assert whole.status_code == 200 and whole.data == body
        assert whole.headers["Content-Type"] == "image/fits"
        assert 'filename="m31.fits"' in whole.headers["Content-Disposition"]
        etag = whole.headers["ETag"]
    ranged = {**alice.api, "Range": "bytes=5000000-5000099"}
    with client.get(made["file"], headers=ranged) as part:
        assert part.status_code == 206 and part.data == body[5_000_000:5_000_100]
        assert part.headers["Content-Range"] == f"bytes 5000000-5000099/{len(body)}"
    with client.get(made["file"], headers={**alice.api, "Range": "bytes=-10"}) as tail:
        assert tail.status_code == 206 and tail.data == body[-10:]
    with client.get(made["file"], headers={**alice.api, "If-None-Match": etag}) as same:
        assert same.status_code == 304 and same.data == b""
    changed = {**alice.api, "Range": "bytes=0-9", "If-Range": '"another-etag"'}
    with client.get(made["file"], headers=changed) as again:
        assert again.status_code == 200 and again.data == body  # changed since: all of it
    same = {**alice.api, "Range": "bytes=0-9", "If-Range": etag}
    with client.get(made["file"], headers=same) as resumed:
        assert resumed.status_code == 206 and resumed.data == body[:10]
    with client.head(made["file"], headers=alice.api) as head:
        assert head.status_code == 200 and head.data == b""
        assert int(head.headers["Content-Length"]) == len(body)
    past = {**alice.api, "Range": f"bytes={len(body) + 1}-"}
    with client.get(made["file"], headers=past) as beyond:
        assert beyond.status_code == 416

    assert client.delete(f"/datafiles/{made['id']}/", headers=alice.api).status_code == 204
    assert backend.stored_paths() == set()


def _storage_path(app, file_id: int) -> str:
    from arcsec_flask.repo.sqlite import connect

    conn = connect(app.config["DATABASE"])
    try:
        query = "SELECT storage_path FROM datafiles WHERE id = ?"
        return conn.execute(query, (file_id,)).fetchone()[0]
    finally:
        conn.close()


def test_a_row_whose_file_is_gone_is_a_clear_404(client, alice, dataset, backend):
    made = post_file(client, alice, dataset, "a.txt", b"abc").json
    backend.remove(backend.stored_paths())
    with client.get(made["file"], headers=alice.api) as response:
        assert response.status_code == 404 and "storage check" in response.json["detail"]


def test_deleting_a_dataset_removes_its_objects(client, alice, dataset, backend):
    for i in range(3):
        assert post_file(client, alice, dataset, f"{i}.txt", b"x" * i).status_code == 201
    assert len(backend.stored_paths()) == 3
    assert client.delete(f"/datasets/{dataset['uuid']}/", headers=alice.api).status_code == 204
    assert backend.stored_paths() == set()


def test_refused_uploads_leave_nothing(client, alice, bob, dataset, backend):
    big = b"\0" * (MIN_PART_SIZE + 10)  # a multipart upload was opened: it must be aborted
    assert post_file(client, alice, dataset, "a.fits", big).status_code == 201
    again = post_file(client, alice, dataset, "a.fits", big)
    assert again.status_code == 400 and "already exists" in again.json["detail"]
    assert post_file(client, bob, dataset, "b.fits", big).status_code == 400  # not bob's
    assert post_file(client, alice, dataset, "..", big).status_code == 400
    assert len(backend.stored_paths()) == 1 and multipart_uploads(backend) == []
    assert backend.stray_uploads(older_than_s=0) == []


def test_preview_and_package(client, alice, dataset, backend, tmp_path):
    gz = noise_frame(tmp_path / "m31.fits.gz", compress="gzip")
    plain = noise_frame(tmp_path / "m42.fits", shape=(600, 800))
    made = [post_file(client, alice, dataset, p.name, p.read_bytes()).json for p in (gz, plain)]
    for found in made:
        with client.get(found["preview"], headers=alice.api) as png:
            assert png.status_code == 200 and png.data.startswith(b"\x89PNG\r\n\x1a\n")
    # No temporary copy of an object is left next to the previews.
    previews = Path(client.application.config["DATA_DIR"]) / "previews"
    assert sorted(p.suffix for p in previews.rglob("*") if p.is_file()) == [".png", ".png"]

    package = client.post(
        "/datapackages/", json={"name": "P", "datasets": [dataset["uuid"]]}, headers=alice.api
    ).json
    url = f"/datapackages/{package['uuid']}/archive/"
    with client.get(url, headers=alice.api) as whole:
        assert whole.status_code == 200
        full = whole.data
    archive = zipfile.ZipFile(io.BytesIO(full))
    assert archive.testzip() is None
    got = {i.filename: hashlib.sha256(archive.read(i)).hexdigest() for i in archive.infolist()}
    assert got == {f"M31/{p.name}": hashlib.sha256(p.read_bytes()).hexdigest() for p in (gz, plain)}
    # Generated again for a range: the same bytes (fixed entry dates), so a resume is whole.
    cut = len(full) // 2
    with client.get(url, headers={**alice.api, "Range": f"bytes={cut}-"}) as rest:
        assert rest.status_code == 206 and full[:cut] + rest.data == full


# The archive and preview suites of tests/resources, run here once per backend (their
# fixtures resolve to this module's `app` and `dataset`).
from tests.resources.test_datapackages import (  # noqa: E402
    files,
    test_archive_access,
    test_crud_and_counts,
    test_the_archive_holds_exactly_the_stored_bytes,
    test_the_archive_resumes_with_range,
)
from tests.resources.test_previews import (  # noqa: E402
    test_a_ramp_is_served_as_a_1024_pixel_png_stretched_black_to_white,
    test_deleting_the_file_or_its_dataset_removes_the_preview,
    test_tile_compressed_and_gzipped_frames,
    test_who_may_see_a_preview,
    test_xisf_mono_and_colour,
    upload,
)

__all__ = [
    "files",
    "test_a_ramp_is_served_as_a_1024_pixel_png_stretched_black_to_white",
    "test_archive_access",
    "test_crud_and_counts",
    "test_deleting_the_file_or_its_dataset_removes_the_preview",
    "test_the_archive_holds_exactly_the_stored_bytes",
    "test_the_archive_resumes_with_range",
    "test_tile_compressed_and_gzipped_frames",
    "test_who_may_see_a_preview",
    "test_xisf_mono_and_colour",
    "upload",
]
