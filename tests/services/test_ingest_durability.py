"""`ingest --copy/--link`: every batch's files and directory entries are fsynced before its
rows commit (a committed row always has its file, after a power cut too), the directory
entries grouped: one fsync a folder and batch, not one a file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from arcsec_flask import storage
from arcsec_flask.repo import accounts, datafiles, datasets
from arcsec_flask.repo.sqlite import connect, init_schema
from arcsec_flask.services import ingest
from arcsec_flask.storage import LocalBackend
from arcsec_flask.storage.durability import file_sync_count
from tests.cli.helpers import small_frame

FILES = 7


@pytest.fixture
def target(tmp_path):
    conn = connect(tmp_path / "arcsec.sqlite3")
    init_schema(conn)
    owner = accounts.create(conn, "alice", "alice@example.org", None)["owner_id"]
    made = datasets.create(conn, owner, {"name": "Night"})
    (tmp_path / "files").mkdir()
    yield conn, LocalBackend(tmp_path / "files"), owner, {"id": made["id"], "uuid": made["uuid"]}
    conn.close()


@pytest.fixture
def frames(tmp_path) -> list[Path]:
    night = tmp_path / "night"
    return [small_frame(night / f"f{i}" / f"m31_{i:03d}.fits", i) for i in range(FILES)]


class Commits:
    """The fsync counters as they stood at each COMMIT the connection ran."""

    def __init__(self, conn) -> None:
        self.seen: list[tuple[int, int]] = []  # (directory fsyncs, file fsyncs)
        conn.set_trace_callback(self._trace)

    def _trace(self, statement: str) -> None:
        if statement.strip().upper() == "COMMIT":
            self.seen.append((storage.sync_counts()[0], file_sync_count()))


@pytest.mark.parametrize("mode", ["copy", "link"])
def test_each_batch_is_synced_before_it_commits_one_fsync_a_folder(
    target, frames, mode, monkeypatch
):
    conn, backend, owner, dataset = target
    monkeypatch.setattr(ingest, "BATCH", 3)  # three batches: 3 + 3 + 1 files
    dirs_before, files_before = storage.sync_counts()[0], file_sync_count()
    commits = Commits(conn)
    summary = ingest.ingest_paths(conn, backend, owner, dataset, frames, mode=mode, jobs=2)
    conn.set_trace_callback(None)
    assert summary.imported == FILES
    assert len(commits.seen) == 3
    dirs = [d - dirs_before for d, _f in commits.seen]
    # The first batch made the dataset folder: it and the storage folder, once each; then
    # one fsync of the dataset folder a batch, however many files it placed.
    assert dirs == [2, 3, 4]
    files = [f - files_before for _d, f in commits.seen]
    if mode == "link":  # a link's bytes are flushed (a copy's are by its writer)
        assert files == [3, 6, 7]
    rows = datafiles.list_(conn, owner, {}, 100, 0)[1]
    stored = {r["storage_path"] for r in rows}
    assert stored == storage.stored_paths(backend.files_dir)
    linked = [p for p in map(backend.local_path, stored) if p and os.stat(p).st_nlink > 1]
    assert len(linked) == (FILES if mode == "link" else 0)


def test_a_batch_interrupted_syncs_nothing_and_leaves_nothing(target, frames):
    """A second Ctrl-C in the middle of a batch (KeyboardInterrupt, raised here by the
    progress callback after the third file): the batch is rolled back, the files it had
    placed are removed, and no directory fsync is spent on it."""
    conn, backend, owner, dataset = target

    seen: list[Path] = []

    def interrupt_at_the_third(path: Path, _size: int) -> None:
        seen.append(path)
        if len(seen) == 3:
            raise KeyboardInterrupt

    dirs_before = storage.sync_counts()[0]
    with pytest.raises(KeyboardInterrupt):
        ingest.ingest_paths(
            conn, backend, owner, dataset, frames, mode="link", progress=interrupt_at_the_third
        )
    assert storage.sync_counts()[0] == dirs_before
    assert datafiles.list_(conn, owner, {}, 100, 0)[1] == []
    assert storage.stored_paths(backend.files_dir) == set()
