"""Ctrl-C during a real `arcsec-flask ingest`: it stops cleanly, and a re-run resumes,
importing nothing twice; stored files and rows always match (no half file, no orphan)."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from arcsec_flask import storage

from .helpers import make_user, run, small_frame, start

FILES = 800


@pytest.fixture
def night(tmp_path) -> Path:
    folder = tmp_path / "night"
    for i in range(FILES):
        small_frame(folder / f"frame_{i:04d}.fits", i)
    return folder


def _consistent(data_dir: Path) -> list[str]:
    """The names of the filed files, after checking rows and stored files match exactly."""
    conn = sqlite3.connect(data_dir / "arcsec.sqlite3")
    try:
        rows = dict(conn.execute("SELECT storage_path, name FROM datafiles").fetchall())
    finally:
        conn.close()
    files_dir = data_dir / "files"
    assert storage.stored_paths(files_dir) == set(rows)  # no orphan, no row without file
    assert storage.stale_parts(files_dir) == []  # no half-written part left
    return sorted(rows.values())


def _interrupt(data_dir: Path, folder: Path, log: Path, signals: int) -> tuple[int, int]:
    """Start an ingest, send `signals` SIGINTs once some files are placed; (exit code,
    files placed when the first signal went)."""
    process = start(
        data_dir, "ingest", folder, "--dataset", "Night", "--user", "alice", "--jobs", "1", log=log
    )
    try:
        deadline = time.monotonic() + 120
        placed = 0
        while time.monotonic() < deadline and process.poll() is None:
            placed = len(storage.stored_paths(data_dir / "files"))
            if placed >= 30:
                break
            time.sleep(0.01)
        assert process.poll() is None, "the ingest ended before it could be interrupted"
        for _ in range(signals):
            process.send_signal(signal.SIGINT)
            time.sleep(0.05)
        return process.wait(timeout=120), placed
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("signals", [1, 2], ids=["ctrl-c", "ctrl-c-twice"])
def test_ctrl_c_stops_cleanly_and_a_rerun_resumes(tmp_path, night, signals):
    data_dir = tmp_path / "data"
    make_user(data_dir)
    log = tmp_path / "ingest.log"
    code, placed_then = _interrupt(data_dir, night, log, signals)
    output = log.read_text()
    assert code == 130, output
    assert "Interrupted" in output and "Traceback" not in output
    filed = _consistent(data_dir)
    assert len(filed) < FILES  # it really stopped early
    if signals == 1:  # stops after the current file: what was placed is kept
        assert len(filed) >= placed_then > 0
        assert f"imported: {len(filed)}," in output
    again = run(data_dir, "ingest", night, "--dataset", "Night", "--user", "alice")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"imported: {FILES - len(filed)}, already present: {len(filed)}," in again.stdout
    names = _consistent(data_dir)
    assert names == sorted(p.name for p in night.iterdir())  # each exactly once
