"""`backup --with-files` and `restore` under S3 storage, against a real SeaweedFS: the
objects are copied into the backup (only what the previous one lacks), and a restore
brings the database back to serve the same bytes from the bucket."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from arcsec_flask import create_app
from arcsec_flask.repo import accounts
from arcsec_flask.repo.sqlite import connect
from arcsec_flask.storage import MIN_PART_SIZE
from tests.conftest import User


def s3_app(data_dir, bucket):
    settings = {"DATA_DIR": str(data_dir), "TESTING": True, "S3_PRESIGN_SECONDS": 0}
    return create_app({**settings, **bucket.settings, "S3_PART_SIZE": MIN_PART_SIZE})


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(client, user: User, dataset: str, name: str, body: bytes) -> dict:
    fields = {"dataset": dataset, "file": FileStorage(io.BytesIO(body), name)}
    boundary, encoded = encode_multipart(fields)
    made = client.post(
        "/datafiles/",
        data=encoded,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=user.upload,
    )
    assert made.status_code == 201, made.json
    return made.json


def run(app, *args: str):
    done = app.test_cli_runner().invoke(args=list(args))
    return done.exit_code, json.loads(done.output) if done.output.startswith("{") else done.output


def restore_into(tmp_path, bucket, backup_dir, name: str):
    """`restore` into the empty data folder tmp_path/name (create_app makes a database:
    the command's app is pointed at the empty folder after), then an app serving it."""
    runner_app = s3_app(tmp_path / f"{name}-cli", bucket)
    empty = tmp_path / name
    runner_app.config.update(
        DATA_DIR=str(empty), DATABASE=str(empty / "arcsec.sqlite3"), FILES_DIR=str(empty / "files")
    )
    code, restored = run(runner_app, "restore", str(backup_dir))
    return code, restored, s3_app(empty, bucket)


def test_backup_copies_the_objects_incrementally_and_restore_serves_them(tmp_path, s3_bucket):
    app = s3_app(tmp_path / "data", s3_bucket)
    conn = connect(app.config["DATABASE"])
    created = accounts.create(conn, "alice", "alice@example.org", None)
    conn.close()
    user = User("alice", created["api_key"], created["upload_key"], created)
    client = app.test_client()
    dataset = client.post("/datasets/", json={"name": "M31"}, headers=user.api).json["uuid"]
    rng = np.random.default_rng(7)
    # One of them spans several multipart parts.
    bodies = {f"f{i}.txt": rng.bytes(n) for i, n in enumerate([1000, 200_000, 11 * 2**20])}
    made = {name: upload(client, user, dataset, name, body) for name, body in bodies.items()}

    code, first = run(app, "backup", str(tmp_path / "b1"), "--with-files")
    assert code == 0, first
    assert first["ok"] and first["copied"] == 3 and first["linked"] == 0
    assert first["bytes_copied"] == sum(len(b) for b in bodies.values())
    copied = {sha(p.read_bytes()) for p in (tmp_path / "b1" / "files").rglob("*") if p.is_file()}
    assert copied == {sha(b) for b in bodies.values()}

    bodies["late.txt"] = rng.bytes(5000)
    made["late.txt"] = upload(client, user, dataset, "late.txt", bodies["late.txt"])
    code, second = run(
        app, "backup", str(tmp_path / "b2"), "--with-files", "--previous", str(tmp_path / "b1")
    )
    assert code == 0, second
    assert (second["linked"], second["copied"], second["bytes_copied"]) == (3, 1, 5000)
    code, verified = run(app, "backup", str(tmp_path / "b2"), "--verify")
    assert code == 0 and verified["ok"] and verified["checked"] == 4

    # A new machine: an empty data folder, the same bucket.
    code, restored, again = restore_into(tmp_path, s3_bucket, tmp_path / "b2", "new")
    assert code == 0, restored
    assert restored["ok"] and restored["files_in_bucket"] and restored["checked"] == 4
    assert restored["restored"] == 0  # the files stay in the bucket: none on this disk
    assert not [p for p in (tmp_path / "new").rglob("*") if p.is_file() and "files" in p.parts]
    served = again.test_client()
    for name, body in bodies.items():
        with served.get(made[name]["file"], headers=user.api) as response:
            assert response.status_code == 200 and sha(response.data) == sha(body), name


def test_a_restore_names_the_objects_the_bucket_lacks(tmp_path, s3_bucket):
    app = s3_app(tmp_path / "data", s3_bucket)
    conn = connect(app.config["DATABASE"])
    created = accounts.create(conn, "alice", "alice@example.org", None)
    conn.close()
    user = User("alice", created["api_key"], created["upload_key"], created)
    client = app.test_client()
    dataset = client.post("/datasets/", json={"name": "M31"}, headers=user.api).json["uuid"]
    kept = upload(client, user, dataset, "kept.txt", b"k" * 3000)
    lost = upload(client, user, dataset, "lost.txt", b"l" * 4000)
    code, summary = run(app, "backup", str(tmp_path / "b1"), "--with-files")
    assert code == 0 and summary["copied"] == 2
    paths = {o["Key"] for o in _objects(s3_bucket)}
    assert len(paths) == 2
    conn = connect(app.config["DATABASE"])
    lost_path = conn.execute("SELECT storage_path FROM datafiles WHERE name = 'lost.txt'")
    lost_path = lost_path.fetchone()[0]
    conn.close()
    s3_bucket.client.delete_object(Bucket=s3_bucket.name, Key=lost_path)

    code, restored, again = restore_into(tmp_path, s3_bucket, tmp_path / "b1", "new")
    assert code == 1 and not restored["ok"]  # said, with what is missing
    assert restored["missing"] == [lost_path] and restored["checked"] == 1
    # The database is restored all the same: the kept file is served, the lost one is
    # the 404 of missing bytes (its copy is in the backup's files/, for migrate-storage).
    served = again.test_client()
    assert served.get(kept["file"], headers=user.api).status_code == 200
    assert served.get(lost["file"], headers=user.api).status_code == 404
    assert (tmp_path / "b1" / "files" / lost_path).read_bytes() == b"l" * 4000

    # Brought back as docs/operations.md says: migrate-storage from the backup's files/.
    settings = {**s3_bucket.settings, "STORAGE": "file", "SWEEP_PARTS_AT_START": False}
    from_backup = create_app(
        {"DATA_DIR": str(tmp_path / "new"), "TESTING": True, **settings}
        | {"FILES_DIR": str(tmp_path / "b1" / "files")}
    )
    done = from_backup.test_cli_runner().invoke(args=["migrate-storage", "--to", "s3"])
    assert done.exit_code == 0, done.output
    assert "1 copied (4000 bytes), 1 already there, 0 failed" in done.output
    with served.get(lost["file"], headers=user.api) as response:
        assert response.status_code == 200 and response.data == b"l" * 4000
    code, verified = run(app, "backup", str(tmp_path / "b1"), "--verify")
    assert code == 0 and verified["ok"]  # the backup itself is untouched


def _objects(bucket) -> list[dict]:
    return bucket.client.list_objects_v2(Bucket=bucket.name).get("Contents", [])


def test_a_backup_from_an_unreachable_bucket_fails_whole_and_says_why(tmp_path, s3_bucket):
    from tests.support.servers import free_port

    app = s3_app(tmp_path / "data", s3_bucket)
    conn = connect(app.config["DATABASE"])
    created = accounts.create(conn, "alice", "alice@example.org", None)
    conn.close()
    user = User("alice", created["api_key"], created["upload_key"], created)
    client = app.test_client()
    dataset = client.post("/datasets/", json={"name": "M31"}, headers=user.api).json["uuid"]
    upload(client, user, dataset, "a.txt", b"a" * 2000)
    closed = {**s3_bucket.settings, "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    away = create_app({"DATA_DIR": str(tmp_path / "data"), "TESTING": True, **closed})
    done = away.test_cli_runner().invoke(args=["backup", str(tmp_path / "b1"), "--with-files"])
    assert done.exit_code == 1, done.output
    (line,) = done.output.strip().splitlines()  # one line: no traceback, no JSON
    assert line.startswith(f"Error: The file storage (S3 bucket '{s3_bucket.name}') cannot be")
    assert "Could not connect to the endpoint URL" in line and line.endswith("No backup was made.")
    assert list(tmp_path.glob("*b1*")) == []  # no backup, not even its hidden .partial

    # A restore under S3 checks the rows against a listing of the bucket: unreachable, it
    # restores nothing (no database a server could start on) and says so in one line.
    code, made = run(s3_app(tmp_path / "data", s3_bucket), "backup", str(tmp_path / "b2"))
    assert code == 0 and made["ok"], made
    runner_app = create_app({"DATA_DIR": str(tmp_path / "cli"), "TESTING": True, **closed})
    empty = tmp_path / "restored"
    runner_app.config.update(
        DATA_DIR=str(empty), DATABASE=str(empty / "arcsec.sqlite3"), FILES_DIR=str(empty / "files")
    )
    done = runner_app.test_cli_runner().invoke(args=["restore", str(tmp_path / "b2")])
    assert done.exit_code == 1, done.output
    (line,) = done.output.strip().splitlines()
    assert "(S3 bucket" in line and line.endswith("Nothing was restored.")
    assert not (empty / "arcsec.sqlite3").exists()
    assert list(empty.glob("*.restoring")) == []
