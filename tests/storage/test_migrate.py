"""`arcsec-flask migrate-storage --to s3|file`: every stored file copied into the other
backend (a real SeaweedFS bucket, a real folder), checksums verified, resumable; the app
then serves the same bytes from the new storage once the setting is switched."""

from __future__ import annotations

import hashlib
import io

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from arcsec_flask import create_app
from arcsec_flask.repo.sqlite import connect
from arcsec_flask.storage import MIN_PART_SIZE
from arcsec_flask.storage.s3 import CHECKSUM_KEY
from arcsec_flask.web.storage import backend_of
from tests.support.servers import free_port

HEADER = "X-Arcsecond-API-Authorization"
BODIES = {
    "small.txt": b"seeing 0.8",
    "empty.txt": b"",
    "big.bin": bytes(range(256)) * (MIN_PART_SIZE // 256 + 999),  # a multipart copy
}


def make_app(tmp_path, bucket, storage: str, **extra):
    settings = {
        "DATA_DIR": str(tmp_path / "data"),
        "FILES_DIR": str(tmp_path / "files"),
        "TESTING": True,
        **bucket.settings,
        "S3_PART_SIZE": MIN_PART_SIZE,
        "S3_PRESIGN_SECONDS": 0,
        "STORAGE": storage,
        **extra,
    }
    return create_app(settings)


def fill(app) -> tuple[dict, list[dict]]:
    """A user, a dataset and the BODIES uploaded through the app."""
    runner = app.test_cli_runner()
    made = runner.invoke(args=["users", "create", "obs", "--json"])
    assert made.exit_code == 0, made.output
    import json

    keys = json.loads(made.output)
    client = app.test_client()
    api, up = {HEADER: f"Key {keys['api_key']}"}, {HEADER: f"Key {keys['upload_key']}"}
    dataset = client.post("/datasets/", json={"name": "N"}, headers=api).json
    files = []
    for name, body in BODIES.items():
        fields = {"dataset": dataset["uuid"], "file": FileStorage(io.BytesIO(body), name)}
        boundary, encoded = encode_multipart(fields)
        response = client.post(
            "/datafiles/",
            data=encoded,
            content_type=f"multipart/form-data; boundary={boundary}",
            headers=up,
        )
        assert response.status_code == 201, response.json
        files.append(response.json)
    return api, files


def served(app, api, files) -> dict[str, str]:
    client = app.test_client()
    got = {}
    for found in files:
        with client.get(f"/datafiles/{found['id']}/file/", headers=api) as response:
            assert response.status_code == 200
            got[found["name"]] = hashlib.sha256(response.data).hexdigest()
    return got


def migrate(app, to: str):
    return app.test_cli_runner().invoke(args=["migrate-storage", "--to", to])


WANT = {name: hashlib.sha256(body).hexdigest() for name, body in BODIES.items()}


@pytest.mark.parametrize(("start", "other"), [("file", "s3"), ("s3", "file")])
def test_both_directions_verified_and_resumable(tmp_path, s3_bucket, start, other):
    source_app = make_app(tmp_path, s3_bucket, start)
    api, files = fill(source_app)
    source, target = backend_of(source_app), backend_of(make_app(tmp_path, s3_bucket, other))
    paths = source.stored_paths()
    assert len(paths) == 3 and target.stored_paths() == set()

    first = migrate(source_app, other)
    assert first.exit_code == 0, first.output
    assert "3 copied" in first.output and "0 already there" in first.output
    assert f"ARCSEC_STORAGE={other}" in first.output
    assert target.stored_paths() == paths and source.stored_paths() == paths  # nothing removed
    if other == "s3":  # the checksum is recorded with each object
        assert {target.recorded_checksum(p) for p in paths} == set(WANT.values())

    again = migrate(source_app, other)
    assert again.exit_code == 0 and "0 copied" in again.output, again.output
    assert "3 already there" in again.output

    # Resumable: one file gone from the target, one there but damaged (right size, other
    # bytes: caught by the checksum): only those two are copied again.
    gone, damaged = sorted(p for p in paths if p in _paths_by_size(source, min_size=1))[:2]
    target.remove([gone])
    size = source.size(damaged)
    with target.writer(damaged) as writer:
        writer.write(b"\xff" * size)
        writer.finish()
        writer.place(damaged)
    resumed = migrate(source_app, other)
    assert resumed.exit_code == 0, resumed.output
    assert "2 copied" in resumed.output and "1 already there" in resumed.output

    # Switched: the same database served from the other storage, the same bytes.
    switched = make_app(tmp_path, s3_bucket, other)
    assert served(switched, api, files) == WANT


def _paths_by_size(backend, min_size: int) -> set[str]:
    return {p for p in backend.stored_paths() if backend.size(p) >= min_size}


def test_a_source_file_missing_or_unlike_its_row_fails_and_is_not_copied(tmp_path, s3_bucket):
    app = make_app(tmp_path, s3_bucket, "file")
    fill(app)
    source = backend_of(app)
    conn = connect(app.config["DATABASE"])
    rows = {r["name"]: dict(r) for r in conn.execute("SELECT * FROM datafiles")}
    conn.close()
    source.remove([rows["small.txt"]["storage_path"]])
    changed = source.local_path(rows["big.bin"]["storage_path"])
    assert changed is not None
    with changed.open("r+b") as handle:
        handle.write(b"X")  # same size, other bytes
    result = migrate(app, "s3")
    assert result.exit_code == 1, result.output
    assert "1 copied" in result.output and "2 failed" in result.output
    assert "missing from the source storage" in result.output
    assert "are not those of its row" in result.output
    assert "ARCSEC_STORAGE=s3" not in result.output  # not told to switch
    target = backend_of(make_app(tmp_path, s3_bucket, "s3"))
    assert target.stored_paths() == {rows["empty.txt"]["storage_path"]}
    client = target.client  # type: ignore[attr-defined]
    assert client.list_multipart_uploads(Bucket=target.bucket).get("Uploads", []) == []
    assert CHECKSUM_KEY == "sha256"


def test_the_target_must_be_the_other_storage(tmp_path, s3_bucket):
    app = make_app(tmp_path, s3_bucket, "file")
    result = migrate(app, "file")
    assert result.exit_code != 0 and "already 'file'" in result.output
    bucketless = create_app({"DATA_DIR": str(tmp_path / "other"), "TESTING": True})
    result = migrate(bucketless, "s3")
    assert result.exit_code != 0 and "ARCSEC_S3_BUCKET" in result.output


@pytest.mark.parametrize(("start", "other"), [("file", "s3"), ("s3", "file")])
def test_an_unreachable_bucket_is_one_line_and_places_nothing(tmp_path, s3_bucket, start, other):
    """The bucket (target or source) on a closed port: one line saying which bucket and
    why, exit 1, no traceback, not told to switch, nothing placed in the target."""
    fill(make_app(tmp_path, s3_bucket, start))
    closed = f"http://127.0.0.1:{free_port()}"
    result = migrate(make_app(tmp_path, s3_bucket, start, S3_ENDPOINT_URL=closed), other)
    assert result.exit_code == 1, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"Error: The file storage (S3 bucket '{s3_bucket.name}') cannot be")
    assert f'Could not connect to the endpoint URL: "{closed}/' in line
    assert line.endswith("what was copied is kept (and skipped); run it again once it answers.")
    target = backend_of(make_app(tmp_path, s3_bucket, other))
    assert target.stored_paths() == set()
    assert target.stray_uploads(older_than_s=0) == []
