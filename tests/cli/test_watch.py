"""A real `arcsec-flask watch` in a subprocess on a folder that real FITS files land in:
written slowly in pieces, copied in at once, in a new subfolder, under a temporary name
then renamed; restarted after files arrived while it was down; stopped by SIGTERM."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from arcsec_flask import storage
from arcsec_flask.repo import accounts, datafiles
from arcsec_flask.repo.sqlite import connect

from .helpers import make_user, run, small_frame, start

STABLE = "1"  # --stable-seconds: short, so that the file runs in seconds
OBSERVERS = pytest.mark.parametrize("observer", ["native", "poll"])


@pytest.fixture
def data_dir(tmp_path) -> Path:
    folder = tmp_path / "data"
    make_user(folder)
    return folder


@pytest.fixture
def incoming(tmp_path) -> Path:
    folder = tmp_path / "incoming"
    folder.mkdir()
    return folder


class Watch:
    """One `arcsec-flask watch` process and its log (stdout and stderr)."""

    def __init__(self, data_dir: Path, incoming: Path, log: Path, *options: str) -> None:
        self.log = log
        args = ["watch", incoming, "--dataset", "Night", "--user", "alice"]
        self.process = start(data_dir, *args, "--stable-seconds", STABLE, *options, log=log)
        self.wait_for("then watching for new ones")

    def text(self) -> str:
        return self.log.read_text()

    def wait_for(self, line: str, count: int = 1, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.text()
            if text.count(line) >= count:
                return text
            assert self.process.poll() is None, text
            time.sleep(0.05)
        raise AssertionError(f"no {count} x {line!r} in:\n{self.text()}")

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def watchers():
    started: list[Watch] = []
    yield started
    for watch in started:
        if watch.process.poll() is None:
            watch.process.kill()
            watch.process.wait()


def rows(data_dir: Path) -> dict[str, dict]:
    """The dataset's data files by name, after checking each appears once and that stored
    files and rows match exactly (no orphan, no half-written part)."""
    conn = connect(data_dir / "arcsec.sqlite3")
    try:
        owner = accounts.get_by_username(conn, "alice")["owner_id"]
        _count, found = datafiles.list_(conn, owner, {}, 1000, 0)
    finally:
        conn.close()
    files_dir = data_dir / "files"
    assert storage.stored_paths(files_dir) == {r["storage_path"] for r in found}
    assert storage.stale_parts(files_dir) == []
    by_name = {r["name"]: r for r in found}
    assert len(by_name) == len(found), [r["name"] for r in found]
    return by_name


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_sha256(data_dir: Path, row: dict) -> str:
    return sha256(data_dir / "files" / row["storage_path"])


def write_slowly(source: bytes, target: Path, pieces: int = 12, pause: float = 0.25) -> None:
    """As a camera does: the file grows for pieces x pause seconds, each gap far shorter
    than the stable time."""
    step = -(-len(source) // pieces)
    with target.open("wb") as out:
        for i in range(0, len(source), step):
            out.write(source[i : i + step])
            out.flush()
            os.fsync(out.fileno())
            time.sleep(pause)


@OBSERVERS
def test_files_are_filed_once_complete_whatever_way_they_arrive(
    tmp_path, data_dir, incoming, watchers, observer
):
    made = tmp_path / "made"
    frames = {n: small_frame(made / n, i) for i, n in enumerate(["slow", "copied", "deep", "tmp"])}
    slow_bytes = frames["slow"].read_bytes()  # 5760 bytes: 12 pieces of 480, over 3 s
    options = ["--poll"] if observer == "poll" else []
    watch = Watch(data_dir, incoming, tmp_path / "watch.log", *options)
    watchers.append(watch)
    assert ("PollingObserver" in watch.text()) is (observer == "poll")

    writer = threading.Thread(target=write_slowly, args=(slow_bytes, incoming / "slow.fits"))
    writer.start()
    shutil.copy(frames["copied"], incoming / "copied.fits")
    small_frame(made / "night2" / "moved.fits", 7)
    os.rename(made / "night2", incoming / "night2")  # a whole folder moved in
    (incoming / "2024-03-01" / "M31").mkdir(parents=True)
    shutil.copy(frames["deep"], incoming / "2024-03-01" / "M31" / "deep.fits")
    shutil.copy(frames["tmp"], incoming / "renamed.fits.part")
    (incoming / "left.fits.tmp").write_bytes(frames["tmp"].read_bytes())
    (incoming / ".hidden.fits").write_bytes(frames["tmp"].read_bytes())
    (incoming / "gone.fits").write_bytes(frames["tmp"].read_bytes()[:2880])
    time.sleep(0.3)
    (incoming / "gone.fits").unlink()  # vanished before it was complete: forgotten
    os.rename(incoming / "renamed.fits.part", incoming / "renamed.fits")
    writer.join()

    text = watch.wait_for("imported: ", count=5)
    time.sleep(2.5)  # two more stable times: nothing else may come
    filed = rows(data_dir)
    assert sorted(filed) == ["copied.fits", "deep.fits", "moved.fits", "renamed.fits", "slow.fits"]
    assert stored_sha256(data_dir, filed["slow.fits"]) == sha256(incoming / "slow.fits")
    assert filed["slow.fits"]["size"] == len(slow_bytes)
    assert filed["slow.fits"]["header_status"] == "read"
    for name, frame in [("copied", "copied"), ("deep", "deep"), ("renamed", "tmp")]:
        assert stored_sha256(data_dir, filed[f"{name}.fits"]) == sha256(frames[frame])
    text = watch.text()
    assert text.count("imported: slow.fits") == 1
    assert "imported: 2024-03-01/M31/deep.fits" in text
    assert "imported: night2/moved.fits" in text
    assert "left.fits.tmp" not in text and ".hidden" not in text and ".part" not in text
    assert watch.terminate() == 0
    assert "Traceback" not in watch.text()


def test_a_restart_catches_up_on_what_arrived_meanwhile_and_files_nothing_twice(
    tmp_path, data_dir, incoming, watchers
):
    small_frame(incoming / "before.fits", 1)
    first = Watch(data_dir, incoming, tmp_path / "first.log")
    watchers.append(first)
    first.wait_for("imported: before.fits")
    assert first.terminate() == 0

    small_frame(incoming / "while-down.fits", 2)
    small_frame(incoming / "new-night" / "while-down-2.fits", 3)
    second = Watch(data_dir, incoming, tmp_path / "second.log")
    watchers.append(second)
    text = second.wait_for("imported: ", count=2)
    second.wait_for("skipped, already present: before.fits")
    assert "imported: while-down.fits" in text
    assert "imported: new-night/while-down-2.fits" in text
    assert sorted(rows(data_dir)) == ["before.fits", "while-down-2.fits", "while-down.fits"]
    assert second.terminate() == 0


def test_refused_and_unreadable_files_are_reported_once_and_retried_when_changed(
    tmp_path, data_dir, incoming, watchers
):
    watch = Watch(data_dir, incoming, tmp_path / "watch.log")
    watchers.append(watch)
    small_frame(incoming / "a" / "frame.fits", 1)
    watch.wait_for("imported: a/frame.fits")
    # The same name in another folder, other bytes: the dataset holds a frame.fits already.
    small_frame(incoming / "b" / "frame.fits", 2)
    (incoming / "broken.fits").write_bytes(b"SIMPLE  = not a FITS header at all")
    watch.wait_for("refused: b/frame.fits: the dataset already holds another file")
    watch.wait_for("imported, flagged unreadable: broken.fits")
    time.sleep(3)  # three stable times: not tried again while unchanged
    assert watch.text().count("refused: b/frame.fits") == 1
    assert watch.text().count("broken.fits") == 1
    # The same bytes as the one filed: now it is a copy of it, skipped as present.
    shutil.copy(incoming / "a" / "frame.fits", incoming / "b" / "frame.fits")
    watch.wait_for("skipped, already present: b/frame.fits")
    assert sorted(rows(data_dir)) == ["broken.fits", "frame.fits"]
    assert watch.terminate() == 0


def test_sigterm_during_the_catch_up_finishes_the_file_in_hand_and_exits_0(
    tmp_path, data_dir, incoming, watchers
):
    count = 200  # four passes of 50: SIGTERM lands in the second
    for i in range(count):
        small_frame(incoming / f"frame_{i:04d}.fits", i)
    log = tmp_path / "watch.log"
    watch = Watch(data_dir, incoming, log, "--jobs", "1")
    watchers.append(watch)
    watch.wait_for("imported: ", count=1)  # filing has begun (a batch is in hand)
    assert watch.terminate() == 0
    text = watch.text()
    assert "Traceback" not in text and "Stopped." in text
    filed = rows(data_dir)
    assert 0 < len(filed) < count, "it should have stopped part-way"
    assert text.count("imported: ") == len(filed)  # a line for each, and only those

    again = Watch(data_dir, incoming, tmp_path / "again.log")
    watchers.append(again)
    again.wait_for("imported: ", count=count - len(filed), timeout=120)
    again.wait_for("skipped, already present: ", count=len(filed))
    assert len(rows(data_dir)) == count
    assert again.terminate() == 0


def test_the_folder_must_exist_and_the_owner_be_known(tmp_path, data_dir, incoming):
    missing = run(data_dir, "watch", tmp_path / "nope", "--dataset", "N", "--user", "alice")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    nobody = run(data_dir, "watch", incoming, "--dataset", "N", "--user", "bob")
    assert nobody.returncode == 1 and "No user 'bob'" in nobody.stderr


def test_the_watched_folder_vanishing_stops_the_watcher_with_an_error(
    tmp_path, data_dir, incoming, watchers
):
    watch = Watch(data_dir, incoming, tmp_path / "watch.log")
    watchers.append(watch)
    shutil.rmtree(incoming)
    assert watch.process.wait(timeout=30) == 1  # a failure: Restart=on-failure restarts it
    assert f"The watched folder {incoming} is gone" in watch.text()
    assert "Traceback" not in watch.text()


def test_a_restart_reads_no_filed_file_unless_verify(tmp_path, data_dir, incoming, watchers):
    """A frame replaced while the watcher was down by other bytes of the same size, its old
    mtime kept (`cp -p`): a plain restart takes it for the filed one without reading it
    (same name, size, not modified since); `--verify` compares checksums and refuses it."""
    small_frame(incoming / "kept.fits", 1)
    small_frame(incoming / "replaced.fits", 2)
    first = Watch(data_dir, incoming, tmp_path / "first.log")
    watchers.append(first)
    first.wait_for("imported: ", count=2)
    assert first.terminate() == 0
    filed = rows(data_dir)["replaced.fits"]
    old = (incoming / "replaced.fits").stat().st_mtime
    small_frame(incoming / "replaced.fits", 3)
    os.utime(incoming / "replaced.fits", (old, old))
    assert (incoming / "replaced.fits").stat().st_size == filed["size"]

    plain = Watch(data_dir, incoming, tmp_path / "plain.log")
    watchers.append(plain)
    plain.wait_for("skipped, already present: ", count=2)
    assert plain.terminate() == 0

    verified = Watch(data_dir, incoming, tmp_path / "verified.log", "--verify")
    watchers.append(verified)
    verified.wait_for("refused: replaced.fits: the dataset already holds another file")
    verified.wait_for("skipped, already present: kept.fits")
    assert verified.terminate() == 0
    assert rows(data_dir)["replaced.fits"]["checksum"] == filed["checksum"]
