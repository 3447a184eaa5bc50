"""Storage: streaming temporary files, placement, a full disk."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from arcsec_flask.storage import StorageFull, StreamingFile, new_relative_path, remove


def test_streaming_file_hashes_and_places(tmp_path):
    stream = StreamingFile(tmp_path)
    for chunk in (b"abc", b"def" * 1000):
        stream.write(chunk)
    stream.finish()
    assert stream.size == 3003
    assert stream.checksum == hashlib.sha256(b"abc" + b"def" * 1000).hexdigest()
    assert stream.path.parent == tmp_path / ".tmp"
    relative = new_relative_path("d5b0f6a4-0000-4000-8000-000000000000")
    target = stream.place(tmp_path, relative)
    stream.discard()  # placed: kept
    assert target.read_bytes().startswith(b"abcdef") and list((tmp_path / ".tmp").iterdir()) == []
    assert target.stat().st_mode & 0o777 == 0o644  # nginx's workers may send it


def test_unplaced_file_is_discarded(tmp_path):
    stream = StreamingFile(tmp_path)
    stream.write(b"half an upload")
    stream.discard()
    assert list((tmp_path / ".tmp").iterdir()) == []


def test_relative_paths_never_come_from_client_text():
    first, second = new_relative_path("p"), new_relative_path("p")
    assert first != second and first.startswith("p/") and len(first) == 34


def test_large_files_are_hashed_and_written_in_the_background_in_order(tmp_path):
    pieces = [bytes([i]) * (1024 * 1024 - i) for i in range(12)]  # past BACKGROUND_AFTER
    stream = StreamingFile(tmp_path)
    for piece in pieces:
        stream.write(memoryview(piece))
    stream.write(memoryview(bytearray(b"tail")))  # a buffer its owner may reuse
    stream.finish()
    whole = b"".join(pieces) + b"tail"
    assert stream._writer is not None  # the background path was taken
    assert stream.size == len(whole) and stream.checksum == hashlib.sha256(whole).hexdigest()
    assert stream.path.read_bytes() == whole
    stream.discard()


@pytest.mark.parametrize("piece", [4096, 1024 * 1024], ids=["in-thread", "background"])
def test_a_full_disk_is_a_clear_507(tmp_path, piece):
    if not Path("/dev/full").exists():
        pytest.skip("/dev/full is not available on this system")
    stream = StreamingFile(tmp_path)
    temporary = stream.path
    stream.file.close()
    stream.file = open("/dev/full", "wb", buffering=0)  # noqa: SIM115 - real ENOSPC from the OS
    with pytest.raises(StorageFull) as raised:
        for _ in range(16):  # in the background, a later call raises it
            stream.write(b"x" * piece)
        stream.finish()
    assert raised.value.status == 507 and "storage is full" in raised.value.detail
    assert not temporary.exists()  # removed at once, before the teardown
    stream.path = temporary
    stream.discard()
    assert not temporary.exists()


def test_remove_ignores_missing_files(tmp_path):
    (tmp_path / "a").write_bytes(b"1")
    remove(tmp_path, ["a", "never-there"])
    assert not (tmp_path / "a").exists()


def test_concurrent_placements_share_directory_fsyncs(tmp_path):
    """Eight uploads finishing together in one dataset folder: every one is placed, and
    the folder is fsynced fewer times than there are files (one fsync covers those
    renamed before it started)."""
    import threading

    from arcsec_flask.storage import sync_counts

    prefix = "d5b0f6a4-0000-4000-8000-00000000000c"
    first = StreamingFile(tmp_path)  # makes the dataset folder, alone
    first.write(b"0")
    first.finish()
    first.place(tmp_path, new_relative_path(prefix))
    first.discard()
    streams = [StreamingFile(tmp_path) for _ in range(8)]
    for i, stream in enumerate(streams):
        stream.write(b"frame %d" % i)
        stream.finish()
    fsyncs_before, callers_before = sync_counts()
    barrier = threading.Barrier(len(streams))
    placed: list[Path] = []

    def place(stream):
        barrier.wait()
        placed.append(stream.place(tmp_path, new_relative_path(prefix)))

    threads = [threading.Thread(target=place, args=(s,)) for s in streams]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for stream in streams:
        stream.discard()  # placed: closed, kept
    fsyncs, callers = sync_counts()
    assert callers - callers_before == 8
    assert 1 <= fsyncs - fsyncs_before < 8
    assert sorted(p.read_bytes() for p in placed) == [b"frame %d" % i for i in range(8)]


def test_place_takes_the_storage_path_alone_or_with_its_own_folder(tmp_path):
    prefix = "d5b0f6a4-0000-4000-8000-00000000000d"
    with StreamingFile(tmp_path, destination=f"{prefix}/aimed") as stream:
        assert stream.destination == f"{prefix}/aimed"  # recorded, not binding
        stream.write(b"one")
        stream.finish()
        assert stream.place(f"{prefix}/a") == tmp_path / prefix / "a"
    assert (tmp_path / prefix / "a").read_bytes() == b"one"
    with StreamingFile(tmp_path) as stream:
        stream.write(b"two")
        with pytest.raises(ValueError, match="storage folder"):
            stream.place(tmp_path / "elsewhere", f"{prefix}/b")
        assert stream.place(tmp_path, f"{prefix}/b").read_bytes() == b"two"  # the older form
    assert sorted(p.name for p in (tmp_path / prefix).iterdir()) == ["a", "b"]


def test_an_interrupted_part_is_removed_by_the_context_manager(tmp_path):
    with pytest.raises(KeyboardInterrupt), StreamingFile(tmp_path) as stream:
        stream.write(b"half")
        raise KeyboardInterrupt
    assert list((tmp_path / ".tmp").iterdir()) == []


def test_a_command_removes_the_parts_an_interrupt_left_unfinished(tmp_path):
    """A second Ctrl-C may land between a part's creation and the `with` that would discard
    it: the command removes its own unfinished parts, never a placed file."""
    from arcsec_flask.storage import StreamingFile, remove_unfinished

    remove_unfinished()  # whatever another test of this process left
    left = StreamingFile(tmp_path)  # interrupted before anyone could discard it
    left.write(b"half")
    placed = StreamingFile(tmp_path)
    placed.write(b"whole")
    placed.finish()
    kept = placed.place("d/kept")
    done = StreamingFile(tmp_path)
    done.discard()
    assert left.path.exists()
    assert remove_unfinished() == 1
    assert not left.path.exists() and kept.read_bytes() == b"whole"
    assert remove_unfinished() == 0
    left.file.close()
    placed.discard()


def test_a_part_is_known_unfinished_from_the_moment_it_exists(tmp_path):
    """An interrupt landing right after the part file was created, before StreamingFile
    had its name (the window mkstemp left: a second Ctrl-C left a part in CI), still
    leaves nothing behind; a part is made 0600, then given the stored files' mode."""
    from arcsec_flask.storage import StreamingFile, local, remove_unfinished

    remove_unfinished()
    fd, name = local._new_part(tmp_path / "not-yet" / ".tmp")  # interrupted here
    os.close(fd)
    assert Path(name).exists() and Path(name).name.startswith("upload-")
    assert stat.S_IMODE(os.stat(name).st_mode) == 0o600
    assert remove_unfinished() == 1
    assert not Path(name).exists()
    made = StreamingFile(tmp_path)
    assert stat.S_IMODE(os.stat(made.path).st_mode) == local.FILE_MODE
    made.discard()


def test_a_large_file_is_handed_to_the_disk_while_it_is_written(tmp_path):
    """Every WRITEBACK_EVERY bytes written, their writeback is started (the final fsync
    then has only the tail left); the file is unchanged by it."""
    from arcsec_flask.storage import durability

    before = durability.writeback_count()
    piece = bytes(range(256)) * 4096  # 1 MiB
    stream = StreamingFile(tmp_path)
    for _ in range(20):
        stream.write(piece)
    stream.finish()
    assert durability.writeback_count() - before == 20 * len(piece) // durability.WRITEBACK_EVERY
    assert stream.path.read_bytes() == piece * 20
    stream.discard()


def test_start_writeback_is_a_real_system_call_on_linux(tmp_path):
    import os
    import sys

    from arcsec_flask.storage import durability

    path = tmp_path / "f"
    path.write_bytes(b"x" * 100_000)
    fd = os.open(path, os.O_RDWR)
    try:
        started = durability.start_writeback(fd, 0, 100_000)
    finally:
        os.close(fd)
    assert started is sys.platform.startswith("linux")
