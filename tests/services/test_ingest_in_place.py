"""`ingest --in-place`: files registered where they are, read-only, never moved nor changed;
served, archived and backed up from there; deleting the row never deletes the file."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from arcsec_flask import create_app
from arcsec_flask.repo.sqlite import connect
from arcsec_flask.services import backup
from tests.support.factories import write_fits

LIGHT = {"IMAGETYP": "LIGHT", "OBJECT": "M31", "DATE-OBS": "2024-03-01T21:00:00"}


@pytest.fixture
def frames(tmp_path):
    """A read-only folder of frames (as a mounted archive disk would be)."""
    root = tmp_path / "archive"
    (root / "night").mkdir(parents=True)
    for i in range(3):
        write_fits(root / "night" / f"m31_{i:03d}.fits", {**LIGHT, "EXPTIME": 10 + i})
    (root / "night" / "notes.txt").write_text("clear sky")
    for path in root.rglob("*"):
        path.chmod(0o555 if path.is_dir() else 0o444)
    root.chmod(0o555)
    yield root
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    return {
        str(p): (p.stat().st_mtime_ns, p.stat().st_ino, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in root.rglob("*")
        if p.is_file()
    }


def _ingest(app, *args):
    return app.test_cli_runner().invoke(args=["ingest", *map(str, args)])


def _files(client, alice):
    return {f["name"]: f for f in client.get("/datafiles/", headers=alice.api).json["results"]}


def _stored(app) -> list[Path]:
    return [p for p in Path(app.config["FILES_DIR"]).rglob("*") if p.is_file()]


def test_in_place_registers_without_moving_or_changing(app, client, db, alice, frames):
    before = _snapshot(frames)
    run = _ingest(app, frames, "--dataset", "Archive", "--user", "alice", "--in-place")
    assert run.exit_code == 0, run.output
    assert "imported: 4, already present: 0" in run.output
    assert _snapshot(frames) == before  # same bytes, same inode, same mtime
    assert _stored(app) == []  # nothing copied or linked into the storage folder
    rows = db.execute("SELECT name, external_path, storage_path FROM datafiles").fetchall()
    for row in rows:
        assert row["external_path"] == str(frames / "night" / row["name"])
        assert not (Path(app.config["FILES_DIR"]) / row["storage_path"]).exists()
    files = _files(client, alice)
    assert "external_path" not in files["m31_000.fits"]  # server paths stay private
    assert files["m31_000.fits"]["header_status"] == "read"
    again = _ingest(app, frames, "--dataset", "Archive", "--user", "alice", "--in-place")
    assert "imported: 0, already present: 4" in again.output


@pytest.mark.parametrize("accel", [None, "/protected/"])
def test_in_place_files_are_downloaded_from_where_they_are(tmp_path, frames, accel):
    config = {"DATA_DIR": str(tmp_path / "data"), "TESTING": True}
    if accel:
        config["X_ACCEL_REDIRECT"] = accel  # nginx cannot reach them: the app sends them
    app = create_app(config)
    conn = connect(app.config["DATABASE"])
    from arcsec_flask.repo import accounts

    key = accounts.create(conn, "alice", "a@x.org")["api_key"]
    conn.close()
    headers = {"X-Arcsecond-API-Authorization": f"Key {key}"}
    assert _ingest(app, frames, "--dataset", "A", "--user", "alice", "--in-place").exit_code == 0
    client = app.test_client()
    listed = client.get("/datafiles/?name=m31_001.fits", headers=headers).json["results"]
    source = frames / "night" / "m31_001.fits"
    with client.get(f"/datafiles/{listed[0]['id']}/file/", headers=headers) as got:
        assert got.status_code == 200 and "X-Accel-Redirect" not in got.headers
        assert got.data == source.read_bytes()
    ranged = {**headers, "Range": "bytes=0-79"}
    with client.get(f"/datafiles/{listed[0]['id']}/file/", headers=ranged) as part:
        assert part.status_code == 206 and part.data == source.read_bytes()[:80]


def test_in_place_files_go_into_package_archives(app, client, alice, frames):
    assert _ingest(app, frames, "--dataset", "A", "--user", "alice", "--in-place").exit_code == 0
    dataset = client.get("/datasets/", headers=alice.api).json["results"][0]
    body = {"name": "P", "datasets": [dataset["uuid"]]}
    package = client.post("/datapackages/", json=body, headers=alice.api).json
    with client.get(f"/datapackages/{package['uuid']}/archive/", headers=alice.api) as response:
        archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert {i.filename: archive.read(i) for i in archive.infolist()} == {
        f"A/{p.name}": p.read_bytes() for p in sorted((frames / "night").iterdir())
    }


def test_deleting_in_place_rows_never_deletes_the_files(app, client, alice, frames):
    before = _snapshot(frames)
    for path in [frames, *frames.rglob("*")]:  # writable: a delete *could* remove them
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert _ingest(app, frames, "--dataset", "A", "--user", "alice", "--in-place").exit_code == 0
    files = _files(client, alice)
    gone = client.delete(f"/datafiles/{files['m31_000.fits']['id']}/", headers=alice.api)
    assert gone.status_code == 204
    assert "m31_000.fits" not in _files(client, alice)
    dataset = client.get("/datasets/", headers=alice.api).json["results"][0]
    assert client.delete(f"/datasets/{dataset['uuid']}/", headers=alice.api).status_code == 204
    assert _files(client, alice) == {}
    assert {k: v[2] for k, v in _snapshot(frames).items()} == {k: v[2] for k, v in before.items()}


def test_a_backup_keeps_the_rows_of_in_place_files_not_their_bytes(app, client, alice, frames):
    assert _ingest(app, frames, "--dataset", "A", "--user", "alice", "--in-place").exit_code == 0
    data = {"dataset": client.get("/datasets/", headers=alice.api).json["results"][0]["uuid"]}
    data["file"] = (io.BytesIO(b"uploaded"), "up.txt")
    assert client.post("/datafiles/", data=data, headers=alice.upload).status_code == 201
    dest = Path(app.config["DATA_DIR"]).parent / "backup"
    run = app.test_cli_runner().invoke(args=["backup", str(dest), "--with-files"])
    assert run.exit_code == 0, run.output
    assert len(backup.read_manifest(dest)) == 1  # the uploaded file only
    assert backup.verify(dest)["ok"]


def test_migration_5_adds_external_path_to_an_older_database(tmp_path):
    schema = (Path(__file__).resolve().parents[2] / "schema.sql").read_text()
    old = schema.replace("    external_path TEXT,\n", "")
    assert old != schema
    conn = connect(tmp_path / "arcsec.sqlite3")
    conn.executescript(old)
    conn.executescript(
        "INSERT INTO owners (id, kind) VALUES (1, 'account');"
        "INSERT INTO datasets (id, uuid, owner_id, name, creation_date)"
        " VALUES (1, 'u', 1, 'd', 'x');"
        "INSERT INTO datafiles (dataset_id, name, storage_path, size, checksum, format,"
        " creation_date) VALUES (1, 'a.fits', 'p1', 1, 'c', 'fits', 'x');"
        "PRAGMA user_version = 4;"
    )
    create_app({"DATA_DIR": str(tmp_path)})
    assert conn.execute("PRAGMA user_version").fetchone()[0] >= 5  # 6: repo/sqlite.py
    row = conn.execute("SELECT name, external_path FROM datafiles").fetchone()
    assert tuple(row) == ("a.fits", None)
    conn.close()
