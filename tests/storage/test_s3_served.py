"""The app on S3 storage only (a real SeaweedFS): presigned redirects, header reads by
ranges (counted on our own boto3 client), an upload cut mid-body under gunicorn, the real
`arcsecond` client uploading a night, and ingest into a bucket."""

from __future__ import annotations

import hashlib
import io
import socket
import time

import httpx
import numpy as np
import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from arcsec_flask import create_app
from arcsec_flask.storage import MIN_PART_SIZE
from arcsec_flask.web.storage import backend_of
from tests.support.factories import LIGHT_CARDS, write_fits
from tests.support.servers import start_gunicorn

HEADER = "X-Arcsecond-API-Authorization"
MiB = 1024 * 1024


def s3_app(tmp_path, bucket, **extra):
    settings = {"DATA_DIR": str(tmp_path / "data"), "TESTING": True, **bucket.settings}
    return create_app({**settings, "S3_PART_SIZE": MIN_PART_SIZE, **extra})


def upload(client, user, dataset: dict, name: str, body: bytes):
    fields = {"dataset": dataset["uuid"], "file": FileStorage(io.BytesIO(body), name)}
    boundary, encoded = encode_multipart(fields)
    response = client.post(
        "/datafiles/",
        data=encoded,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=user.upload,
    )
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture
def app(tmp_path, s3_bucket):
    return s3_app(tmp_path, s3_bucket, S3_PRESIGN_SECONDS=120)


@pytest.fixture
def dataset(client, alice):
    return client.post("/datasets/", json={"name": "M31"}, headers=alice.api).json


def test_a_download_is_a_redirect_to_a_short_lived_presigned_url(client, alice, dataset):
    body = np.random.default_rng(5).bytes(300_000)
    made = upload(client, alice, dataset, "notes é.txt", body)
    response = client.get(made["file"], headers=alice.api)
    assert response.status_code == 302
    assert response.headers["Cache-Control"] == "private, no-store"
    location = response.headers["Location"]
    assert "X-Amz-Expires=120" in location and "X-Amz-Signature=" in location
    fetched = httpx.get(location)  # straight from the S3 server, no key of ours
    assert fetched.status_code == 200 and fetched.content == body
    assert "notes" in fetched.headers["Content-Disposition"]
    ranged = httpx.get(location, headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206 and ranged.content == body[100:200]
    tampered = location.replace("X-Amz-Expires=120", "X-Amz-Expires=99999")
    assert httpx.get(tampered).status_code == 403
    assert client.get(made["file"], headers=alice.upload).status_code == 403  # keys still rule


def test_header_reads_fetch_a_few_ranges_not_the_object(client, alice, dataset, app, tmp_path):
    """Counted on the app's own boto3 client (botocore's event hooks), not a mock: every
    GetObject it sends while filing the upload, with its Range header."""
    noise = np.random.default_rng(1).integers(0, 65535, (2048, 2048), dtype=np.uint16)
    path = write_fits(tmp_path / "m31.fits.gz", LIGHT_CARDS, noise, compress="gzip")
    size = path.stat().st_size
    assert size > 4 * MiB  # noise barely compresses: most of the object is pixels
    gets: list[str | None] = []

    def record(request, **_kwargs):
        value = request.headers.get("Range")
        gets.append(value.decode() if isinstance(value, bytes) else value)

    events = backend_of(app).client.meta.events  # type: ignore[attr-defined]
    events.register("before-send.s3.GetObject", record)
    made = upload(client, alice, dataset, path.name, path.read_bytes())
    events.unregister("before-send.s3.GetObject", record)
    assert made["header_status"] == "read" and made["target_name"] == "M31"
    assert made["compression"] == "gzip" and made["exposure_time"] == 60.0
    assert 1 <= len(gets) <= 3, gets
    assert all(r is not None and r.startswith("bytes=") for r in gets), gets
    fetched = 0
    for header in gets:
        low, high = (int(x) for x in header.removeprefix("bytes=").split("-"))  # type: ignore[union-attr]
        fetched += high - low + 1
    assert fetched < size / 8, (fetched, size)


def test_an_xisf_and_a_zip_header_are_read_by_ranges_too(client, alice, dataset, tmp_path):
    from tests.support.factories import write_xisf

    xisf = write_xisf(tmp_path / "m31.xisf", {"OBJECT": "M31", "EXPTIME": 60.0})
    zipped = write_fits(tmp_path / "m42.fits.zip", {**LIGHT_CARDS, "OBJECT": "M42"}, compress="zip")
    assert upload(client, alice, dataset, xisf.name, xisf.read_bytes())["target_name"] == "M31"
    assert upload(client, alice, dataset, zipped.name, zipped.read_bytes())["target_name"] == "M42"


@pytest.fixture
def s3_server(tmp_path, s3_bucket):
    env = {
        **s3_bucket.server.env,
        "ARCSEC_STORAGE": "s3",
        "ARCSEC_S3_ENDPOINT_URL": s3_bucket.server.endpoint,
        "ARCSEC_S3_BUCKET": s3_bucket.name,
        "ARCSEC_S3_PART_SIZE": str(MIN_PART_SIZE),
        "ARCSEC_S3_PRESIGN_SECONDS": "0",
    }
    server = start_gunicorn(tmp_path / "live", workers=2, extra_env=env)
    yield server
    server.stop()


def _objects(bucket) -> list[str]:
    found = bucket.client.list_objects_v2(Bucket=bucket.name).get("Contents", [])
    return [o["Key"] for o in found]


def _multipart(bucket) -> list[dict]:
    return bucket.client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", [])


def test_an_upload_cut_mid_body_leaves_no_object_no_multipart_upload_no_row(s3_server, s3_bucket):
    keys = s3_server.new_user("obs")
    api = {HEADER: f"Key {keys['api_key']}"}
    dataset = httpx.post(s3_server.url + "datasets/", headers=api, json={"name": "N"}).json()
    boundary = "cut-here-0123456789"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="dataset"\r\n\r\n'
        f"{dataset['uuid']}\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.fits"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    announced = len(head) + 40 * MiB
    host, port = s3_server.url.removeprefix("http://").rstrip("/").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            (
                f"POST /datafiles/ HTTP/1.1\r\nHost: {host}\r\n"
                f"{HEADER}: Key {keys['upload_key']}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {announced}\r\n\r\n"
            ).encode()
            + head
        )
        piece = b"\0" * MiB
        for _ in range(12):  # two 5 MiB parts sent, a third being filled
            sock.sendall(piece)
        deadline = time.monotonic() + 30
        while not _multipart(s3_bucket) and time.monotonic() < deadline:
            time.sleep(0.1)
        started = _multipart(s3_bucket)
        assert [u["Key"].split("/")[0] for u in started] == [dataset["uuid"]]
    # The socket is closed mid-body: the worker's read fails, its teardown aborts the upload.
    deadline = time.monotonic() + 30
    while _multipart(s3_bucket) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _multipart(s3_bucket) == []
    assert _objects(s3_bucket) == []
    assert httpx.get(s3_server.url + "datafiles/", headers=api).json()["count"] == 0
    # The server is fine afterwards.
    files = {"file": ("small.txt", b"ok")}
    after = httpx.post(
        s3_server.url + "datafiles/",
        headers={HEADER: f"Key {keys['upload_key']}"},
        data={"dataset": dataset["uuid"]},
        files=files,
    )
    assert after.status_code == 201 and len(_objects(s3_bucket)) == 1


@pytest.mark.client
def test_the_real_client_uploads_a_night_into_the_bucket(s3_server, s3_bucket, arcsecond, tmp_path):
    keys = s3_server.new_user("obs")
    api = {HEADER: f"Key {keys['api_key']}"}
    site = httpx.post(
        s3_server.url + "observingsites/",
        headers=api,
        json={"name": "OHP", "time_zone": "Europe/Paris"},
    ).json()
    telescope = httpx.post(
        s3_server.url + "telescopes/",
        headers=api,
        json={"name": "T", "observing_site": site["uuid"]},
    ).json()
    folder = tmp_path / "2024-03-01"
    folder.mkdir()
    sent = {}
    for i, kind in enumerate(["LIGHT", "LIGHT", "DARK", "FLAT"]):
        cards = {**LIGHT_CARDS, "IMAGETYP": kind, "DATE-OBS": f"2024-03-01T21:0{i}:00"}
        noise = np.random.default_rng(i).integers(0, 65535, (1200, 1200), dtype=np.uint16)
        path = write_fits(folder / f"frame_{i}.fits", cards, noise)
        sent[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    assert arcsecond.run("api", "add", "local", s3_server.url).returncode == 0
    assert arcsecond.run("api", "use", "local").returncode == 0
    login = arcsecond.run(
        "login", "--username", "obs", "--type", "upload", "--key", keys["upload_key"]
    )
    assert "Logged in" in login.stdout, login.stdout + login.stderr
    run = arcsecond.run("upload", str(folder), "-d", "Night", "-t", telescope["uuid"], stdin="\n")
    assert run.returncode == 0, run.stdout + run.stderr
    listed = httpx.get(s3_server.url + "datafiles/?page_size=100", headers=api).json()
    assert {f["name"]: f["checksum"] for f in listed["results"]} == sent
    assert {f["frame_type"] for f in listed["results"]} == {"light", "dark", "flat"}
    assert len(_objects(s3_bucket)) == len(sent) and _multipart(s3_bucket) == []
    for found in listed["results"]:
        content = httpx.get(found["file"], headers=api)  # streamed through (presign 0)
        assert hashlib.sha256(content.content).hexdigest() == found["checksum"]
        preview = httpx.get(found["preview"], headers=api)
        assert preview.status_code == 200 and preview.content.startswith(b"\x89PNG")


def test_ingest_copies_into_the_bucket_and_refuses_in_place(tmp_path, s3_bucket):
    app = s3_app(tmp_path, s3_bucket)
    runner = app.test_cli_runner()
    created = runner.invoke(args=["users", "create", "obs", "--json"])
    assert created.exit_code == 0, created.output
    folder = tmp_path / "night"
    folder.mkdir()
    write_fits(folder / "a.fits", LIGHT_CARDS)
    (folder / "notes.txt").write_bytes(b"seeing 0.8")
    common = ["ingest", str(folder), "--dataset", "Night", "--user", "obs"]
    refused = runner.invoke(args=[*common, "--in-place"])
    assert refused.exit_code != 0 and "ARCSEC_STORAGE=file" in refused.output
    assert _objects(s3_bucket) == []
    for mode in ("--copy", "--link"):
        done = runner.invoke(args=[*common, mode])
        assert done.exit_code == 0, done.output
    objects = _objects(s3_bucket)
    assert len(objects) == 2  # the second run found both present
    backend = backend_of(app)
    with backend.open(next(k for k in objects)) as reader:
        assert hashlib.sha256(reader.read()).hexdigest() in {
            hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()
        }


def test_an_unreachable_bucket_is_a_503_and_nothing_is_kept(tmp_path, monkeypatch):
    from tests.support.servers import free_port

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    settings = {
        "DATA_DIR": str(tmp_path / "data"),
        "TESTING": True,
        "STORAGE": "s3",
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "S3_BUCKET": "b",
        "S3_REGION": "us-east-1",
    }
    app = create_app(settings)
    made = app.test_cli_runner().invoke(args=["users", "create", "obs", "--json"])
    import json

    keys = json.loads(made.output)
    client = app.test_client()
    dataset = client.post(
        "/datasets/", json={"name": "N"}, headers={HEADER: f"Key {keys['api_key']}"}
    ).json
    fields = {"dataset": dataset["uuid"], "file": FileStorage(io.BytesIO(b"frame"), "a.fits")}
    boundary, encoded = encode_multipart(fields)
    response = client.post(
        "/datafiles/",
        data=encoded,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={HEADER: f"Key {keys['upload_key']}"},
    )
    assert response.status_code == 503, response.json
    assert "file storage (S3) failed" in response.json["detail"]
    listed = client.get("/datafiles/", headers={HEADER: f"Key {keys['api_key']}"}).json
    assert listed["count"] == 0
