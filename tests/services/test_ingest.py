"""`arcsec-flask ingest`: a folder tree already on disk, through the upload's own code."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.support.factories import write_fits

LIGHT = {"IMAGETYP": "LIGHT", "OBJECT": "M31", "DATE-OBS": "2024-03-01T21:00:00"}


@pytest.fixture
def archive(tmp_path):
    """Two nights in sub-folders, a calibration, a plain file, a cut FITS, a clash."""
    root = tmp_path / "archive"
    (root / "2024-03-01").mkdir(parents=True)
    (root / "2024-03-02").mkdir()
    write_fits(root / "2024-03-01" / "m31_001.fits", LIGHT)
    write_fits(
        root / "2024-03-01" / "bias_001.fits",
        {"IMAGETYP": "BIAS", **{"DATE-OBS": "2024-03-01T20:00:00"}},
    )
    write_fits(root / "2024-03-02" / "m31_002.fits", {**LIGHT, "DATE-OBS": "2024-03-02T22:00:00"})
    (root / "2024-03-02" / "log.txt").write_text("clear")
    (root / "2024-03-02" / "cut.fits").write_bytes(b"SIMPLE  =                    T" + b" " * 50)
    (root / "2024-03-02" / "m31_001.fits").write_bytes(b"another file, same name")
    (root / ".hidden").write_text("not a frame")
    return root


def _ingest(app, *args):
    return app.test_cli_runner().invoke(args=["ingest", *map(str, args)])


def _files(client, alice):
    return {f["name"]: f for f in client.get("/datafiles/", headers=alice.api).json["results"]}


@pytest.mark.parametrize("mode", ["--copy", "--link"])
def test_ingest_then_resume(app, client, alice, archive, mode):
    site = client.post(
        "/observingsites/", json={"name": "OHP", "time_zone": "Europe/Paris"}, headers=alice.api
    ).json
    scope = client.post(
        "/telescopes/", json={"name": "T", "observing_site": site["uuid"]}, headers=alice.api
    ).json
    run = _ingest(
        app, archive, "--dataset", "Archive", "--telescope", scope["uuid"], "--user", "alice", mode
    )
    assert run.exit_code == 1, run.output  # one file refused: the clash
    assert "imported: 5, already present: 0, flagged unreadable: 1, refused: 1" in run.output
    assert "another file named 'm31_001.fits'" in run.output
    files = _files(client, alice)
    assert set(files) == {"m31_001.fits", "bias_001.fits", "m31_002.fits", "log.txt", "cut.fits"}
    for name in ("m31_001.fits", "bias_001.fits"):
        source = archive / "2024-03-01" / name
        assert files[name]["checksum"] == hashlib.sha256(source.read_bytes()).hexdigest()
        assert files[name]["night_log"]
    assert files["cut.fits"]["header_status"] == "unreadable"
    assert files["log.txt"]["header_status"] == "none"
    nights = {n["date"] for n in client.get("/nightlogs/", headers=alice.api).json["results"]}
    assert nights == {"2024-03-01", "2024-03-02"}
    stored = [p for p in Path(app.config["FILES_DIR"]).rglob("*") if p.is_file()]
    linked = [p for p in stored if os.stat(p).st_nlink > 1]
    assert (len(linked) == 5) == (mode == "--link")
    again = _ingest(app, archive, "--dataset", "Archive", "--user", "alice", mode)
    assert "imported: 0, already present: 5, flagged unreadable: 0, refused: 1" in again.output
    assert len(_files(client, alice)) == 5


def test_owner_and_arguments_are_checked(app, alice, archive, make_org):
    assert _ingest(app, archive, "--dataset", "A").exit_code != 0  # no owner
    both = _ingest(app, archive, "--dataset", "A", "--user", "alice", "--org", "x")
    assert both.exit_code != 0
    nobody = _ingest(app, archive, "--dataset", "A", "--user", "nobody")
    assert nobody.exit_code != 0 and "No user" in nobody.output
    make_org("obs", alice)
    into_portal = _ingest(app, archive, "--dataset", "P", "--org", "obs")
    assert "imported: 5" in into_portal.output


def test_verify_compares_the_files_a_rerun_would_take_unread(app, alice, archive):
    """`--verify`: a frame replaced by other bytes of its size with its old mtime kept is
    refused; without it, the re-run takes it for the filed one (the documented rule)."""
    first = _ingest(app, archive, "--dataset", "Archive", "--user", "alice")
    assert "imported: 5," in first.output
    frame = archive / "2024-03-01" / "bias_001.fits"
    old = frame.stat().st_mtime
    size = frame.stat().st_size
    write_fits(frame, {"IMAGETYP": "BIAS", "DATE-OBS": "2024-03-01T20:09:00"})
    os.utime(frame, (old, old))
    assert frame.stat().st_size == size
    plain = _ingest(app, archive, "--dataset", "Archive", "--user", "alice")
    assert "imported: 0, already present: 5, flagged unreadable: 0, refused: 1" in plain.output
    verified = _ingest(app, archive, "--dataset", "Archive", "--user", "alice", "--verify")
    assert "imported: 0, already present: 4, flagged unreadable: 0, refused: 2" in verified.output
    assert f"refused: {frame}: the dataset already holds another file" in verified.output
