"""Reading from a bucket that cannot be read (unreachable, refusing our credentials): the
download (streamed and presigned), the preview and the package archive are a 503 in the
one error shape, before any byte; never a 500. Against a real SeaweedFS: files are
uploaded through the app, then the same data folder is served by an app whose endpoint is
a closed port or whose bucket refuses, and by one whose own SeaweedFS was stopped."""

from __future__ import annotations

import io

import numpy as np
import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from arcsec_flask import create_app
from arcsec_flask.repo import accounts
from arcsec_flask.repo.sqlite import connect
from arcsec_flask.storage import MIN_PART_SIZE
from arcsec_flask.web.storage import backend_of
from tests.conftest import User
from tests.support.factories import LIGHT_CARDS, write_fits
from tests.support.s3 import Bucket, start_seaweedfs
from tests.support.servers import free_port

UNREADABLE = "The server's file storage (S3) cannot be reached"


def s3_app(data_dir, settings, **extra):
    return create_app(
        {
            "DATA_DIR": str(data_dir),
            "TESTING": True,
            "S3_PART_SIZE": MIN_PART_SIZE,
            "S3_REGION": "us-east-1",
            **settings,
            **extra,
        }
    )


def filed(client, user, tmp_path) -> dict[str, str]:
    """A FITS light uploaded into a dataset, and a package of that dataset: the URLs of
    its download, its preview and the package's archive."""
    dataset = client.post("/datasets/", json={"name": "M31"}, headers=user.api).json
    pixels = np.random.default_rng(3).integers(0, 4000, (64, 64), dtype=np.uint16)
    path = write_fits(tmp_path / "m31.fits", LIGHT_CARDS, pixels)
    fields = {
        "dataset": dataset["uuid"],
        "file": FileStorage(io.BytesIO(path.read_bytes()), "m31.fits"),
    }
    boundary, encoded = encode_multipart(fields)
    made = client.post(
        "/datafiles/",
        data=encoded,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=user.upload,
    )
    assert made.status_code == 201, made.json
    package = client.post(
        "/datapackages/", json={"name": "P", "datasets": [dataset["uuid"]]}, headers=user.api
    )
    assert package.status_code == 201, package.json
    return {
        "download": made.json["file"],
        "preview": made.json["preview"],
        "archive": package.json["archive"],
    }


def assert_unavailable(response) -> None:
    assert response.status_code == 503, (response.status_code, response.data[:300])
    assert response.mimetype == "application/json"
    assert response.json["detail"].startswith(UNREADABLE)
    assert "127.0.0.1" not in response.json["detail"]  # the endpoint is logged, not shown


@pytest.fixture
def uploaded(tmp_path, s3_bucket):
    """Files uploaded through an app on the shared SeaweedFS; the data folder and a user."""
    data_dir = tmp_path / "data"
    app = s3_app(data_dir, s3_bucket.settings)
    client = app.test_client()
    user = make_user_in(app)
    urls = filed(client, user, tmp_path)
    return data_dir, s3_bucket, user, urls


def make_user_in(app) -> User:
    conn = connect(app.config["DATABASE"])
    try:
        created = accounts.create(conn, "alice", "alice@example.org", None)
    finally:
        conn.close()
    return User("alice", created["api_key"], created["upload_key"], created)


WHAT = ["download", "preview", "archive"]


@pytest.mark.parametrize("presign", [0, 120], ids=["streamed", "presigned"])
@pytest.mark.parametrize("what", WHAT)
def test_a_closed_endpoint_is_a_503_for_every_read(uploaded, presign, what):
    data_dir, bucket, user, urls = uploaded
    closed = {**bucket.settings, "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    app = s3_app(data_dir, closed, S3_PRESIGN_SECONDS=presign)
    assert_unavailable(app.test_client().get(urls[what], headers=user.api))
    previews = data_dir / "previews"
    left = [q.name for q in previews.rglob("*") if q.is_file()] if previews.exists() else []
    assert left == []  # no "no image" marker, no temporary copy left behind


@pytest.mark.parametrize("what", WHAT)
def test_a_bucket_that_refuses_is_a_503(uploaded, what):
    """The endpoint answers but refuses every read (here: a bucket that is not there,
    S3's NoSuchBucket, which is not a missing object). (SeaweedFS does not check the
    signature of reads, so a wrong key cannot be the refusal in this test.)"""
    data_dir, bucket, user, urls = uploaded
    elsewhere = {**bucket.settings, "S3_BUCKET": f"{bucket.name}-gone"}
    app = s3_app(data_dir, elsewhere, S3_PRESIGN_SECONDS=0)
    assert_unavailable(app.test_client().get(urls[what], headers=user.api))


def test_the_same_reads_succeed_when_the_bucket_answers(uploaded):
    """The control: the data folder and URLs above are good; only the bucket was away."""
    data_dir, bucket, user, urls = uploaded
    app = s3_app(data_dir, bucket.settings, S3_PRESIGN_SECONDS=120)
    client = app.test_client()
    assert client.get(urls["download"], headers=user.api).status_code == 302
    with client.get(urls["preview"], headers=user.api) as preview:
        assert preview.status_code == 200 and preview.data.startswith(b"\x89PNG")
    with client.get(urls["archive"], headers=user.api) as archive:
        assert archive.status_code == 200 and archive.data.startswith(b"PK")


def test_a_presigned_download_of_a_missing_object_is_our_404(uploaded):
    """The redirect is made only after a HEAD found the object: a missing one is the 404
    a local file's missing bytes are, not an S3 error page behind a 302."""
    data_dir, bucket, user, urls = uploaded
    app = s3_app(data_dir, bucket.settings, S3_PRESIGN_SECONDS=120)
    backend = backend_of(app)
    backend.remove(backend.stored_paths())
    response = app.test_client().get(urls["download"], headers=user.api)
    assert response.status_code == 404
    assert "stored bytes are missing" in response.json["detail"]
    archive = app.test_client().get(urls["archive"], headers=user.api)
    assert archive.status_code == 404, archive.data[:300]
    assert "missing or changed" in archive.json["detail"]


@pytest.mark.slow
def test_a_stopped_seaweedfs_is_a_503_and_the_reads_come_back_with_it(tmp_path, monkeypatch):
    """A private SeaweedFS (the session's one stays up), stopped after the uploads."""
    try:
        server = start_seaweedfs(tmp_path / "weed")
    except (FileNotFoundError, RuntimeError) as error:
        pytest.skip(f"SeaweedFS (S3) cannot start: {error}")
    try:
        for key, value in server.env.items():
            monkeypatch.setenv(key, value)
        client = server.client()
        client.create_bucket(Bucket="frames")
        bucket = Bucket(server, "frames", client)
        data_dir = tmp_path / "data"
        app = s3_app(data_dir, bucket.settings, S3_PRESIGN_SECONDS=0)
        user = make_user_in(app)
        urls = filed(app.test_client(), user, tmp_path)
    finally:
        server.stop()
    for what in WHAT:
        assert_unavailable(app.test_client().get(urls[what], headers=user.api))
    ranged = app.test_client().get(urls["download"], headers={**user.api, "Range": "bytes=0-9"})
    assert_unavailable(ranged)
    head = app.test_client().head(urls["download"], headers=user.api)
    assert head.status_code == 503
