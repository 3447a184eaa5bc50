"""A re-run of `ingest` (a watcher's catch-up after a restart) over files filed already reads
none of them: same name, same size and not modified since filed is "already present"
unread. Anything else of a taken name is compared by checksum, as is everything with
`verify`: a different file of the same size with an old mtime is only found that way."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from arcsec_flask.repo import accounts, datafiles, datasets
from arcsec_flask.repo.sqlite import connect, init_schema
from arcsec_flask.services import ingest
from arcsec_flask.storage import LocalBackend
from tests.cli.helpers import small_frame

FILES = 30
TAKEN = "the dataset already holds another file named"


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
def night(tmp_path) -> Path:
    for i in range(FILES):
        small_frame(tmp_path / "night" / f"m31_{i:03d}.fits", i)
    return tmp_path / "night"


def _ingest(target, folder: Path, **options) -> ingest.Summary:
    conn, backend, owner, dataset = target
    return ingest.ingest_folder(conn, backend, owner, dataset, folder, **options)


def _replace_keeping_size(path: Path, index: int, mtime: float | None = None) -> None:
    """Other bytes of the same length (another frame number) under the same name; with
    `mtime`, the old modification time put back (as `cp -p` or `rsync -t` do)."""
    before = path.stat().st_size
    small_frame(path, index)
    assert path.stat().st_size == before
    if mtime is not None:
        os.utime(path, (mtime, mtime))


@pytest.mark.parametrize("mode", ["copy", "link", "in-place"])
def test_a_rerun_over_filed_files_reads_none_of_them(target, night, mode):
    first = _ingest(target, night, mode=mode)
    assert (first.imported, first.headers_read, first.compared) == (FILES, FILES, 0)
    again = _ingest(target, night, mode=mode)
    assert (again.imported, again.present, again.refused) == (0, FILES, [])
    assert (again.headers_read, again.compared) == (0, 0)
    verified = _ingest(target, night, mode=mode, verify=True)
    assert (verified.imported, verified.present, verified.refused) == (0, FILES, [])
    assert (verified.headers_read, verified.compared) == (FILES, FILES)


def test_a_file_changed_since_it_was_filed_is_compared_and_refused(target, night):
    _ingest(target, night)
    _replace_keeping_size(night / "m31_004.fits", 99)  # a new mtime: read and compared
    again = _ingest(target, night)
    assert again.present == FILES - 1 and (again.headers_read, again.compared) == (1, 1)
    assert again.refused == [(str(night / "m31_004.fits"), f"{TAKEN} 'm31_004.fits'")]


def test_a_different_file_with_an_old_mtime_is_found_only_with_verify(target, night):
    _ingest(target, night)
    old = (night / "m31_007.fits").stat().st_mtime
    _replace_keeping_size(night / "m31_007.fits", 77, mtime=old)
    trusting = _ingest(target, night)  # the documented cost of not reading
    assert (trusting.present, trusting.refused, trusting.compared) == (FILES, [], 0)
    verified = _ingest(target, night, verify=True)
    assert verified.present == FILES - 1 and verified.compared == FILES
    assert verified.refused == [(str(night / "m31_007.fits"), f"{TAKEN} 'm31_007.fits'")]
    conn, _backend, _owner, dataset = target
    row = datafiles.by_name(conn, dataset["id"], "m31_007.fits")
    assert row is not None and row["size"] == (night / "m31_007.fits").stat().st_size


def test_a_file_of_a_taken_name_and_another_size_is_refused_without_hashing(target, night):
    _ingest(target, night)
    (night / "m31_001.fits").write_bytes(b"not the frame that was filed")
    again = _ingest(target, night, verify=True)
    assert again.present == FILES - 1 and again.compared == FILES - 1
    assert again.refused == [(str(night / "m31_001.fits"), f"{TAKEN} 'm31_001.fits'")]


def test_two_files_of_one_name_in_one_run_are_still_told_apart(target, tmp_path):
    """Neither is filed when the run starts: the second is compared with the first."""
    small_frame(tmp_path / "a" / "1" / "frame.fits", 1)
    small_frame(tmp_path / "a" / "2" / "frame.fits", 2)  # same size, other bytes
    summary = _ingest(target, tmp_path / "a")
    assert (summary.imported, summary.compared) == (1, 1)
    assert summary.refused == [(str(tmp_path / "a" / "2" / "frame.fits"), f"{TAKEN} 'frame.fits'")]
