"""Backups, verification and restores on real SQLite files and real stored files.

The database is made by the project's own schema (`init_schema`); rows are inserted with
plain SQL, each stored file written before its row is committed, as the server does.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import tempfile
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from arcsec_flask.repo.sqlite import connect, init_schema, transaction
from arcsec_flask.services import backup as bk

FILES_PER_DATASET = 3


class Folder:
    """A data folder as the server keeps it: arcsec.sqlite3, files/, secret_key."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.database = root / "arcsec.sqlite3"
        self.files = root / "files"
        self.files.mkdir(parents=True)
        (root / "secret_key").write_text(secrets.token_hex(32))
        self.conn = connect(self.database)
        init_schema(self.conn)
        with transaction(self.conn):
            owner = self.conn.execute("INSERT INTO owners (kind) VALUES ('account')").lastrowid
            self.conn.execute(
                "INSERT INTO accounts (owner_id, username, creation_date) VALUES (?, ?, ?)",
                (owner, "alice", "2025-01-01T00:00:00"),
            )
        self.owner = owner

    def add_dataset(self, conn: sqlite3.Connection | None = None, size: int = 4096) -> int:
        """One dataset and its FILES_PER_DATASET files, in one transaction."""
        conn = conn or self.conn
        prefix = str(uuid.uuid4())
        placed = []
        for _ in range(FILES_PER_DATASET):
            relative = f"{prefix}/{secrets.token_hex(16)}"
            data = os.urandom(size)
            (self.files / prefix).mkdir(exist_ok=True)
            (self.files / relative).write_bytes(data)
            placed.append((relative, len(data), hashlib.sha256(data).hexdigest()))
        with transaction(conn):
            dataset = conn.execute(
                "INSERT INTO datasets (uuid, owner_id, name, creation_date) VALUES (?, ?, ?, ?)",
                (prefix, self.owner, f"night {prefix[:8]}", "2025-01-01T00:00:00"),
            ).lastrowid
            for number, (relative, length, checksum) in enumerate(placed):
                file_id = conn.execute(
                    "INSERT INTO datafiles (dataset_id, owner_id, name, storage_path, size,"
                    " checksum, format, creation_date) VALUES (?, ?, ?, ?, ?, ?, 'fits', ?)",
                    (
                        dataset,
                        self.owner,
                        f"f{number}.fits",
                        relative,
                        length,
                        checksum,
                        "2025-01-01T00:00:00",
                    ),
                ).lastrowid
                # A header's worth of JSON, so the database has some pages to copy.
                conn.execute(
                    "INSERT INTO datafile_headers (datafile_id, header) VALUES (?, ?)",
                    (file_id, "[]" + " " * 8000),
                )
        return dataset

    def count(self, table: str) -> int:
        return self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


@pytest.fixture
def live(tmp_path) -> Folder:
    folder = Folder(tmp_path / "live")
    for _ in range(4):
        folder.add_dataset()
    yield folder
    folder.conn.close()


def take(folder: Folder, dest: Path, **options) -> dict:
    return bk.backup(folder.database, folder.files, dest, **options)


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and bk.TMP not in p.relative_to(root).parts
    }


def test_backup_while_a_writer_commits_is_one_instant(live, tmp_path):
    for _ in range(40):  # about 1 MB of rows
        live.add_dataset(size=256)
    stop, committed = threading.Event(), []

    def write() -> None:
        conn = connect(live.database)  # a connection of its own, as another worker's
        try:
            while not stop.is_set():
                committed.append(live.add_dataset(conn, size=256))
        finally:
            conn.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(committed) < 3:
            threading.Event().wait(0.005)
        before = live.count("datafiles")
        summary = take(live, tmp_path / "b1", with_files=True)
        after = live.count("datafiles")
    finally:
        stop.set()
        writer.join()

    assert after > before  # the writer kept committing while the backup ran
    snap = sqlite3.connect(tmp_path / "b1" / "arcsec.sqlite3")
    assert snap.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert snap.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    rows = snap.execute("SELECT count(*) FROM datafiles").fetchone()[0]
    assert before <= rows <= after
    # Each transaction added one dataset and its files: an instant has whole datasets only.
    per_dataset = snap.execute(
        "SELECT DISTINCT count(f.id) FROM datasets d"
        " LEFT JOIN datafiles f ON f.dataset_id = d.id GROUP BY d.id"
    ).fetchall()
    assert per_dataset == [(FILES_PER_DATASET,)]
    snap.close()
    manifest = bk.read_manifest(tmp_path / "b1")
    with sqlite3.connect(tmp_path / "b1" / "arcsec.sqlite3") as again:
        assert manifest == {
            p: (s, c)
            for p, s, c in again.execute("SELECT storage_path, size, checksum FROM datafiles")
        }
    assert summary["ok"] and summary["files"] == rows == summary["copied"]
    assert summary["vanished"] == summary["mismatched"] == []
    assert (tmp_path / "b1" / "secret_key").read_text() == (live.root / "secret_key").read_text()
    assert oct((tmp_path / "b1").stat().st_mode & 0o777) == "0o700"
    assert bk.verify(tmp_path / "b1")["ok"]

    restored = bk.restore(tmp_path / "b1", tmp_path / "new")
    assert restored["ok"] and restored["restored"] == rows
    copies = digests(tmp_path / "new" / "files")
    assert copies == {p: c for p, (_, c) in manifest.items()}
    assert all(copies[p] == h for p, h in digests(live.files).items() if p in manifest)
    conn = connect(tmp_path / "new" / "arcsec.sqlite3")
    assert conn.execute("SELECT count(*) FROM datafiles").fetchone()[0] == rows
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert (tmp_path / "new" / "secret_key").read_text() == (live.root / "secret_key").read_text()
    one = next(p for p in (tmp_path / "new" / "files").rglob("*") if p.is_file())
    assert oct(one.stat().st_mode & 0o777) == "0o644"  # nginx reads them


def test_second_backup_links_unchanged_files_and_copies_new_ones(live, tmp_path):
    first = take(live, tmp_path / "b1", with_files=True)
    live.add_dataset(size=1000)
    second = take(live, tmp_path / "b2", with_files=True, previous=tmp_path / "b1")

    assert (first["copied"], first["linked"]) == (12, 0)
    assert (second["copied"], second["linked"]) == (FILES_PER_DATASET, 12)
    assert second["bytes_copied"] == FILES_PER_DATASET * 1000
    assert second["bytes_linked"] == 12 * 4096
    old = bk.read_manifest(tmp_path / "b1")
    for path in bk.read_manifest(tmp_path / "b2"):
        a, b = tmp_path / "b1" / "files" / path, tmp_path / "b2" / "files" / path
        if path in old:
            assert a.stat().st_ino == b.stat().st_ino and b.stat().st_nlink == 2
        else:
            assert b.stat().st_nlink == 1
    assert oct(b.stat().st_mode & 0o777) == "0o444"  # one write would change every backup
    assert bk.verify(tmp_path / "b2")["ok"]


def test_linking_across_file_systems_falls_back_to_a_copy(live, tmp_path):
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another file system than tmp_path")
    with tempfile.TemporaryDirectory(dir=shm) as elsewhere:
        take(live, Path(elsewhere) / "b1", with_files=True)
        second = take(live, tmp_path / "b2", with_files=True, previous=Path(elsewhere) / "b1")
    assert (second["copied"], second["linked"]) == (12, 0)
    assert bk.verify(tmp_path / "b2")["ok"]


def test_a_file_deleted_after_the_snapshot_is_reported_as_vanished(live, tmp_path):
    gone = []

    def delete_one(done: int, total: int) -> None:
        if done == 0:  # after the snapshot, before the first copy
            rows = live.conn.execute("SELECT storage_path FROM datafiles").fetchall()
            path = max(row[0] for row in rows)
            (live.files / path).unlink()
            gone.append(path)

    summary = take(live, tmp_path / "b1", with_files=True, progress=delete_one)
    assert summary["vanished"] == gone and summary["copied"] == 11 and summary["ok"]
    report = bk.verify(tmp_path / "b1")
    assert report["vanished"] == gone and report["missing"] == [] and report["ok"]
    restored = bk.restore(tmp_path / "b1", tmp_path / "new")
    assert restored["vanished"] == gone and restored["restored"] == 11 and restored["ok"]


def test_verify_finds_a_flipped_byte_and_a_missing_file(live, tmp_path):
    take(live, tmp_path / "b1", with_files=True)
    flipped, lost = sorted(bk.read_manifest(tmp_path / "b1"))[:2]
    path = tmp_path / "b1" / "files" / flipped
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    (tmp_path / "b1" / "files" / lost).unlink()
    (tmp_path / "b1" / "files" / "stray").write_bytes(b"x")

    report = bk.verify(tmp_path / "b1")
    assert not report["ok"]
    assert (report["mismatched"], report["missing"]) == ([flipped], [lost])
    assert report["unexpected"] == ["stray"]
    assert report["checked"] == 11 and report["database_sha256_ok"] and report["manifest_ok"]

    restored = bk.restore(tmp_path / "b1", tmp_path / "new")
    assert not restored["ok"] and restored["restored"] == 10
    assert (restored["mismatched"], restored["missing"]) == ([flipped], [lost])
    assert not (tmp_path / "new" / "files" / flipped).exists()  # never placed corrupt
    assert list((tmp_path / "new" / "files" / bk.TMP).iterdir()) == []


def test_a_damaged_database_is_never_restored(live, tmp_path):
    take(live, tmp_path / "b1")
    db = tmp_path / "b1" / "arcsec.sqlite3"
    data = bytearray(db.read_bytes())
    data[-10] ^= 0xFF
    db.write_bytes(bytes(data))
    assert not bk.verify(tmp_path / "b1")["database_sha256_ok"]
    with pytest.raises(bk.Corrupt, match="sha256"):
        bk.restore(tmp_path / "b1", tmp_path / "new")
    assert not (tmp_path / "new" / "arcsec.sqlite3").exists()
    assert not list((tmp_path / "new").glob("*.restoring"))


def test_a_database_that_is_no_database_is_reported_not_raised(live, tmp_path):
    take(live, tmp_path / "b1")
    db = tmp_path / "b1" / "arcsec.sqlite3"
    db.write_bytes(b"\0" * 100 + db.read_bytes()[100:])  # the header zeroed
    report = bk.verify(tmp_path / "b1")
    assert not report["ok"] and not report["manifest_ok"] and report["integrity"] != ["ok"]
    summary = bk.read_summary(tmp_path / "b1")
    summary["database_sha256"] = hashlib.sha256(db.read_bytes()).hexdigest()
    (tmp_path / "b1" / "backup.json").write_text(json.dumps(summary))  # past the sha256
    with pytest.raises(bk.Corrupt, match=r"cannot be read|integrity"):
        bk.restore(tmp_path / "b1", tmp_path / "new")
    assert not (tmp_path / "new" / "arcsec.sqlite3").exists()


def test_restore_refuses_a_folder_that_is_not_empty(live, tmp_path):
    take(live, tmp_path / "b1", with_files=True)
    with pytest.raises(bk.NotEmpty, match=r"arcsec\.sqlite3 already exists"):
        bk.restore(tmp_path / "b1", live.root)

    with_a_file = tmp_path / "d2"
    (with_a_file / "files" / "x").mkdir(parents=True)
    (with_a_file / "files" / "x" / "y").write_bytes(b"y")
    with pytest.raises(bk.NotEmpty, match="files/x/y"):
        bk.restore(tmp_path / "b1", with_a_file)

    other_key = tmp_path / "d3"
    other_key.mkdir()
    (other_key / "secret_key").write_text("another")
    with pytest.raises(bk.NotEmpty, match="secret_key"):
        bk.restore(tmp_path / "b1", other_key)
    assert sorted(p.name for p in other_key.iterdir()) == ["secret_key"]

    only_parts = tmp_path / "d4"  # upload parts and empty folders do not count
    (only_parts / "files" / bk.TMP).mkdir(parents=True)
    (only_parts / "files" / bk.TMP / "upload-1.part").write_bytes(b"p")
    assert bk.restore(tmp_path / "b1", only_parts)["ok"]


def test_a_backup_without_files_checks_the_files_the_operator_copied(live, tmp_path):
    summary = take(live, tmp_path / "b1")
    assert not summary["with_files"] and not (tmp_path / "b1" / "files").exists()
    assert summary["files"] == 12 and summary["copied"] == 0

    target = tmp_path / "new"
    shutil.copytree(live.files, target / "files")
    lost, changed = sorted(bk.read_manifest(tmp_path / "b1"))[:2]
    (target / "files" / lost).unlink()
    (target / "files" / changed).write_bytes(b"changed")

    restored = bk.restore(tmp_path / "b1", target)
    assert not restored["ok"] and restored["checked"] == 11
    assert (restored["missing"], restored["mismatched"]) == ([lost], [changed])
    assert (target / "arcsec.sqlite3").is_file()


def test_an_interrupted_backup_leaves_nothing_named_like_a_backup(live, tmp_path):
    def fail(done: int, total: int) -> None:
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        take(live, tmp_path / "backups" / "b1", with_files=True, progress=fail)
    assert list((tmp_path / "backups").iterdir()) == []
    with pytest.raises(bk.NotABackup):
        bk.verify(tmp_path / "backups")
    take(live, tmp_path / "backups" / "b1")
    with pytest.raises(bk.AlreadyExists):
        take(live, tmp_path / "backups" / "b1")
    with pytest.raises(bk.BackupError, match="No database"):
        bk.backup(tmp_path / "nothing.sqlite3", live.files, tmp_path / "b2")


def test_backup_of_a_serving_gunicorn_restores_into_a_second_one(tmp_path):
    """Uploads over HTTP while the backup runs; the restored folder serves the same bytes."""
    from tests.support.servers import start_gunicorn

    header = "X-Arcsecond-API-Authorization"
    first = start_gunicorn(tmp_path / "live", workers=1)
    second = None
    try:
        keys = first.new_user("uma")
        api, upload = ({header: f"Key {keys[k]}"} for k in ("api_key", "upload_key"))
        response = httpx.post(first.url + "datasets/", json={"name": "run"}, headers=api)
        dataset = response.json()["uuid"]
        sent: dict[str, bytes] = {}
        stop = threading.Event()

        def send() -> None:
            with httpx.Client(timeout=30) as client:
                while not stop.is_set() or len(sent) < 6:
                    name, data = f"frame{len(sent)}.dat", os.urandom(50_000)
                    answer = client.post(
                        first.url + "datafiles/",
                        data={"dataset": dataset},
                        files={"file": (name, data)},
                        headers=upload,
                    )
                    assert answer.status_code == 201, answer.text
                    sent[name] = data

        uploader = threading.Thread(target=send)
        uploader.start()
        try:
            while len(sent) < 3:
                threading.Event().wait(0.01)
            summary = take_data_dir(first.data_dir, tmp_path / "b1")
        finally:
            stop.set()
            uploader.join(timeout=30)
        assert summary["ok"] and 3 <= summary["files"] <= len(sent)

        restored = bk.restore(tmp_path / "b1", tmp_path / "restored")
        assert restored["ok"] and restored["restored"] == summary["files"]
        second = start_gunicorn(tmp_path / "restored", workers=1)
        listing = httpx.get(second.url + "datafiles/?page_size=100", headers=api).json()
        assert listing["count"] == summary["files"]
        for item in listing["results"]:
            got = httpx.get(f"{second.url}datafiles/{item['id']}/file/", headers=api)
            assert got.status_code == 200
            assert sha(got.content) == sha(sent[item["name"]])
    finally:
        first.stop()
        if second is not None:
            second.stop()


def take_data_dir(data_dir: Path, dest: Path) -> dict:
    return bk.backup(data_dir / "arcsec.sqlite3", data_dir / "files", dest, with_files=True)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
