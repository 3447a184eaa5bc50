"""The watcher's loop in-process (services/watch.py), where a subprocess cannot reach:
file events that cannot start (the inotify limits of a big tree) fall back to polling."""

from __future__ import annotations

import errno
import logging
import threading
import time

import pytest
from watchdog.observers.inotify import InotifyObserver

from arcsec_flask.repo import accounts, datafiles, datasets
from arcsec_flask.repo.sqlite import connect, init_schema
from arcsec_flask.services.watch import Watcher, WatchTarget
from tests.cli.helpers import small_frame


class InotifyAtItsLimit(InotifyObserver):
    """inotify as it answers once fs.inotify.max_user_watches is reached."""

    def start(self) -> None:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")


@pytest.fixture
def target(tmp_path):
    conn = connect(tmp_path / "arcsec.sqlite3")
    init_schema(conn)
    owner = accounts.create(conn, "alice", "alice@example.org", None)["owner_id"]
    made = datasets.create(conn, owner, {"name": "Night"})
    (tmp_path / "files").mkdir()
    yield conn, WatchTarget(tmp_path / "files", owner, {"id": made["id"], "uuid": made["uuid"]})
    conn.close()


def test_without_file_events_the_watcher_polls_and_still_files(tmp_path, target, caplog):
    conn, where = target
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    stop = threading.Event()
    watcher = Watcher(conn, where, incoming, stable_seconds=0.2, stop=stop)
    watcher.observers[0] = InotifyAtItsLimit
    caplog.set_level(logging.INFO, logger="arcsec_flask.watch")
    # The loop runs in this thread (the connection is this thread's); another stops it.
    writer = threading.Timer(0.5, small_frame, args=(incoming / "night" / "late.fits", 1))
    writer.start()
    deadline = time.monotonic() + 20

    def stop_once_filed() -> None:
        while time.monotonic() < deadline and not stop.is_set():
            if "imported: night/late.fits" in caplog.text:
                break
            time.sleep(0.05)
        stop.set()

    stopper = threading.Thread(target=stop_once_filed)
    stopper.start()
    watcher.run()
    stopper.join()
    writer.join()
    assert "inotify watch limit reached" in caplog.text
    assert "polling the folder instead" in caplog.text
    assert "watching with PollingObserver" in caplog.text
    assert datafiles.by_name(conn, where.dataset["id"], "late.fits") is not None
