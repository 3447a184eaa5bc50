"""What `check` needs of a backend, against each (the local folder and a real SeaweedFS):
the inventory (sizes and change times from one listing) and move_aside (lost+found)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from arcsec_flask.storage import (
    LOST_FOUND,
    MIN_PART_SIZE,
    Backend,
    LocalBackend,
    backend_from_config,
)
from tests.storage.test_backends import BIG, read_all, store


@pytest.fixture(params=["file", "s3"])
def backend(request, tmp_path) -> Backend:
    if request.param == "file":
        settings = {"STORAGE": "file", "DATA_DIR": str(tmp_path), "FILES_DIR": str(tmp_path / "f")}
        return backend_from_config(settings)
    bucket = request.getfixturevalue("s3_bucket")
    return backend_from_config({**bucket.settings, "S3_PART_SIZE": MIN_PART_SIZE})


def test_inventory_lists_placed_files_with_sizes_and_change_times(backend):
    before = time.time() - 2  # S3 servers round LastModified to the second
    small, big = store(backend, b"tiny"), store(backend, BIG)
    with backend.writer() as unplaced:  # in flight: not listed
        unplaced.write(b"x" * 10)
        found = backend.inventory()
    assert set(found) == {small, big} == backend.stored_paths()
    assert (found[small].size, found[big].size) == (4, len(BIG))
    assert all(before <= entry.changed <= time.time() + 2 for entry in found.values())


def test_move_aside_keeps_the_bytes_under_lost_found(backend):
    relative = store(backend, BIG)
    kept = store(backend, b"kept")
    where = backend.move_aside(relative, "2026-12-03")
    assert where.endswith(f"{LOST_FOUND}/2026-12-03/{relative}")
    assert not backend.exists(relative)
    # No longer a stored file, so a second check finds nothing to move.
    assert backend.stored_paths() == {kept} and set(backend.inventory()) == {kept}
    if isinstance(backend, LocalBackend):
        assert Path(where).read_bytes() == BIG
    else:
        assert read_all(backend, where) == BIG
    with pytest.raises(FileNotFoundError):
        backend.move_aside(relative, "2026-12-03")


def test_move_aside_never_overwrites_what_lost_found_holds(backend):
    relative = store(backend, b"first")
    first = backend.move_aside(relative, "day")
    # The same storage path again (a second crash, the same random token: contrived).
    if isinstance(backend, LocalBackend):
        (backend.files_dir / relative).write_bytes(b"second")
    else:
        backend.client.put_object(Bucket=backend.bucket, Key=relative, Body=b"second")
    second = backend.move_aside(relative, "day")
    assert second == f"{first}.1"
    if isinstance(backend, LocalBackend):
        assert (Path(first).read_bytes(), Path(second).read_bytes()) == (b"first", b"second")
    else:
        assert (read_all(backend, first), read_all(backend, second)) == (b"first", b"second")


def test_lost_found_is_in_the_data_folder_beside_the_files(tmp_path):
    backend = backend_from_config(
        {"STORAGE": "file", "DATA_DIR": str(tmp_path / "data"), "FILES_DIR": str(tmp_path / "x")}
    )
    assert isinstance(backend, LocalBackend)
    assert backend.lost_found == tmp_path / "data" / LOST_FOUND
    # Without a data folder named (older callers): beside the storage folder.
    assert LocalBackend(tmp_path / "files").lost_found == tmp_path / LOST_FOUND


def test_a_lost_found_inside_the_storage_folder_is_not_listed(tmp_path):
    files = tmp_path / "files"
    backend = LocalBackend(files, files / LOST_FOUND)
    relative = store(backend, b"orphan")
    backend.move_aside(relative, "day")
    assert backend.stored_paths() == set() and backend.inventory() == {}


SHM = Path("/dev/shm")


@pytest.mark.skipif(
    not (SHM.is_dir() and os.access(SHM, os.W_OK)), reason="no writable /dev/shm (tmpfs)"
)
def test_move_aside_copies_across_file_systems(tmp_path):
    """lost+found on tmpfs, the files on tmp_path's disk: no hard link possible."""
    import tempfile

    with tempfile.TemporaryDirectory(dir=SHM) as other:
        if os.stat(other).st_dev == os.stat(tmp_path).st_dev:
            pytest.skip("/dev/shm is on the same file system as the tests' folder")
        backend = LocalBackend(tmp_path / "files", Path(other) / LOST_FOUND)
        relative = store(backend, BIG)
        where = Path(backend.move_aside(relative, "day"))
        assert where.read_bytes() == BIG and not backend.exists(relative)
        assert where.stat().st_nlink == 1  # a copy, not a link
