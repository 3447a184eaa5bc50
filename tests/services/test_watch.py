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
