"""The watcher's loop in-process (services/watch.py), where a subprocess cannot reach:
file events that cannot start (the inotify limits of a big tree) fall back to polling;
events that never come (lost in an overflow) are made up for by the periodic rescan."""

from __future__ import annotations

import errno
import logging
import threading
import time

import pytest
from watchdog.observers.inotify import InotifyObserver
from watchdog.observers.polling import PollingObserver

from arcsec_flask.repo import accounts, datafiles, datasets
from arcsec_flask.repo.sqlite import connect, init_schema
from arcsec_flask.services.watch import Watcher, WatchTarget
from arcsec_flask.storage import LocalBackend
from tests.cli.helpers import small_frame


class InotifyAtItsLimit(InotifyObserver):
    """inotify as it answers once fs.inotify.max_user_watches is reached."""

    def start(self) -> None:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")


class Deaf(PollingObserver):
    """An observer that runs but reports nothing: every event lost."""

    def schedule(self, *args, **kwargs):
        return None


@pytest.fixture
def target(tmp_path):
    conn = connect(tmp_path / "arcsec.sqlite3")
    init_schema(conn)
    owner = accounts.create(conn, "alice", "alice@example.org", None)["owner_id"]
    made = datasets.create(conn, owner, {"name": "Night"})
    (tmp_path / "files").mkdir()
    yield (
        conn,
        WatchTarget(
            LocalBackend(tmp_path / "files"), owner, {"id": made["id"], "uuid": made["uuid"]}
        ),
    )
    conn.close()


def run_until(watcher: Watcher, stop: threading.Event, done, timeout: float = 20) -> None:
    """Run the loop in this thread (the connection is this thread's) until `done()`."""
    deadline = time.monotonic() + timeout

    def stop_when_done() -> None:
        while time.monotonic() < deadline and not stop.is_set() and not done():
            time.sleep(0.05)
        stop.set()

    stopper = threading.Thread(target=stop_when_done)
    stopper.start()
    watcher.run()
    stopper.join()


def test_without_file_events_the_watcher_polls_and_still_files(tmp_path, target, caplog):
    conn, where = target
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    stop = threading.Event()
    watcher = Watcher(conn, where, incoming, stable_seconds=0.2, stop=stop)
    watcher.observers[0] = InotifyAtItsLimit
    caplog.set_level(logging.INFO, logger="arcsec_flask.watch")
    writer = threading.Timer(0.5, small_frame, args=(incoming / "night" / "late.fits", 1))
    writer.start()
    run_until(watcher, stop, lambda: "imported: night/late.fits" in caplog.text)
    writer.join()
    assert "inotify watch limit reached" in caplog.text
    assert "polling the folder instead" in caplog.text
    assert "watching with PollingObserver" in caplog.text
    assert datafiles.by_name(conn, where.dataset["id"], "late.fits") is not None


def test_files_whose_events_were_lost_are_found_by_the_rescan(tmp_path, target, caplog):
    conn, where = target
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    stop = threading.Event()
    watcher = Watcher(conn, where, incoming, stable_seconds=0.2, stop=stop, rescan_seconds=1)
    watcher.observers = [Deaf]
    caplog.set_level(logging.INFO, logger="arcsec_flask.watch")
    writer = threading.Timer(0.5, small_frame, args=(incoming / "unheard.fits", 1))
    writer.start()
    run_until(watcher, stop, lambda: "imported: unheard.fits" in caplog.text)
    writer.join()
    assert "imported: unheard.fits" in caplog.text
    assert datafiles.by_name(conn, where.dataset["id"], "unheard.fits") is not None


def run_scenario(watcher: Watcher, stop: threading.Event, scenario, timeout: float = 60) -> None:
    """Run the loop in this thread while `scenario()` acts in another; stop when it ends."""
    failure: list[BaseException] = []

    def act() -> None:
        try:
            scenario()
        except BaseException as error:  # re-raised in the test's thread
            failure.append(error)
        finally:
            stop.set()

    actor = threading.Thread(target=act)
    actor.start()
    threading.Timer(timeout, stop.set).start()
    watcher.run()
    actor.join()
    if failure:
        raise failure[0]


def wait_for(caplog, line: str, count: int = 1, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while caplog.text.count(line) < count:
        assert time.monotonic() < deadline, f"no {count} x {line!r} in:\n{caplog.text}"
        time.sleep(0.05)


def test_filed_files_are_not_remembered_and_rescans_leave_them_alone(tmp_path, target, caplog):
    """Only what the database cannot say is kept: the refused file, until it is gone.
    Without file events, only the rescans (every 0.2 s) find the late files: each one
    found proves the filed files were looked at again, and left alone without a line."""
    conn, where = target
    incoming = tmp_path / "incoming"
    for i in range(5):
        small_frame(incoming / f"f{i}.fits", i)
    stop = threading.Event()
    watcher = Watcher(conn, where, incoming, stable_seconds=0.1, stop=stop, rescan_seconds=0.2)
    watcher.observers = [Deaf]
    caplog.set_level(logging.INFO, logger="arcsec_flask.watch")
    taken = incoming / "again" / "f0.fits"

    def scenario() -> None:
        wait_for(caplog, "imported: ", count=5)
        small_frame(taken, 99)  # the name is taken by other bytes: refused
        wait_for(caplog, "refused: again/f0.fits")
        small_frame(incoming / "late.fits", 6)
        wait_for(caplog, "imported: late.fits")
        assert watcher.tracker.remembered() == [str(taken)]
        assert len(watcher.tracker) == 0
        taken.unlink()
        small_frame(incoming / "later.fits", 7)
        wait_for(caplog, "imported: later.fits")
        assert watcher.tracker.remembered() == []
        time.sleep(0.2)  # gives a rescan the time to remember the taken one wrongly
        small_frame(incoming / "f1.fits", 8)  # rewritten after it was filed: taken again
        wait_for(caplog, "refused: f1.fits: the dataset already holds another file")

    run_scenario(watcher, stop, scenario)
    text = caplog.text
    assert text.count("imported: ") == 7 and text.count("refused: ") == 2
    assert "skipped" not in text
    assert watcher.tracker.remembered() == [str(incoming / "f1.fits")]
    assert len(datafiles.list_(conn, where.owner_id, {}, 100, 0)[1]) == 7


def test_with_verify_every_file_dealt_with_is_remembered(tmp_path, target, caplog):
    """`verify` does not trust the name-size-mtime rule, so the watcher does not lean on
    it: the filed files stay remembered, and the rescans read none of them again."""
    conn, where = target
    incoming = tmp_path / "incoming"
    for i in range(3):
        small_frame(incoming / f"f{i}.fits", i)
    stop = threading.Event()
    verifying = WatchTarget(where.backend, where.owner_id, where.dataset, verify=True)
    watcher = Watcher(conn, verifying, incoming, stable_seconds=0.1, stop=stop, rescan_seconds=0.2)
    watcher.observers = [Deaf]
    caplog.set_level(logging.INFO, logger="arcsec_flask.watch")

    def scenario() -> None:
        wait_for(caplog, "imported: ", count=3)
        small_frame(incoming / "late.fits", 6)
        wait_for(caplog, "imported: late.fits")

    run_scenario(watcher, stop, scenario)
    assert sorted(watcher.tracker.remembered()) == sorted(
        str(incoming / name) for name in ("f0.fits", "f1.fits", "f2.fits", "late.fits")
    )
    assert caplog.text.count("imported: ") == 4 and "skipped" not in caplog.text
