"""One contract for both storage backends: the local folder and an S3 bucket (a real
SeaweedFS). Every test here runs against each; S3-only behaviour is in test_s3.py."""

from __future__ import annotations

import hashlib
import os
import time

import numpy as np
import pytest

from arcsec_flask.headers import read_header, read_header_file
from arcsec_flask.storage import (
    MIN_PART_SIZE,
    Backend,
    LocalBackend,
    Writer,
    backend_from_config,
    new_relative_path,
)
from tests.support.factories import light_frame_cards, write_fits, write_xisf

DATASET = "d5b0f6a4-0000-4000-8000-000000000000"
# Over one S3 part, so that S3 runs a real multipart upload of two parts.
BIG = os.urandom(MIN_PART_SIZE + 123_457)


@pytest.fixture(params=["file", "s3"])
def backend(request, tmp_path) -> Backend:
    if request.param == "file":
        return backend_from_config({"STORAGE": "file", "FILES_DIR": str(tmp_path / "files")})
    bucket = request.getfixturevalue("s3_bucket")
    return backend_from_config({**bucket.settings, "S3_PART_SIZE": MIN_PART_SIZE})


def store(backend: Backend, payload: bytes, chunk: int = 256 * 1024) -> str:
    relative = new_relative_path(DATASET)
    with backend.writer() as writer:
        for at in range(0, len(payload), chunk):
            writer.write(payload[at : at + chunk])
        writer.finish()
        writer.place(relative)
    return relative


def read_all(backend: Backend, relative: str) -> bytes:
    with backend.open(relative) as reader:
        return reader.read()


def leftovers(backend: Backend) -> tuple[set[str], list]:
    time.sleep(0.01)  # age 0 means "started before now"
    return backend.stored_paths(), backend.stray_uploads(older_than_s=0)


def test_the_backend_is_chosen_by_the_settings(tmp_path):
    local = backend_from_config({"STORAGE": "file", "FILES_DIR": str(tmp_path)})
    assert isinstance(local, LocalBackend) and local.files_dir == tmp_path
    with pytest.raises(ValueError, match="'file' or 's3'"):
        backend_from_config({"STORAGE": "ftp", "FILES_DIR": str(tmp_path)})


@pytest.mark.parametrize("payload", [b"", b"small frame", BIG], ids=["empty", "small", "big"])
def test_a_written_file_is_hashed_and_invisible_until_placed(backend, payload):
    relative = new_relative_path(DATASET)
    with backend.writer() as writer:
        assert isinstance(writer, Writer)
        for at in range(0, len(payload), 100_000):
            writer.write(payload[at : at + 100_000])
        writer.finish()
        assert writer.size == len(payload)
        assert writer.checksum == hashlib.sha256(payload).hexdigest()
        assert not backend.exists(relative) and backend.stored_paths() == set()
        writer.place(relative)
        assert writer.placed
    assert backend.exists(relative) and backend.size(relative) == len(payload)
    assert backend.stored_paths() == {relative}
    assert read_all(backend, relative) == payload
    assert backend.stray_uploads(older_than_s=0) == []


def test_a_writer_told_its_path_up_front_places_there(backend):
    relative = new_relative_path(DATASET)
    with backend.writer(relative) as writer:
        writer.write(BIG)
        assert not backend.exists(relative)
        writer.place(relative)
    assert read_all(backend, relative) == BIG and backend.stored_paths() == {relative}


def test_a_writer_placed_elsewhere_than_announced_still_places_once(backend):
    announced, final = new_relative_path(DATASET), new_relative_path(DATASET)
    with backend.writer(announced) as writer:
        writer.write(BIG)
        writer.place(final)
    assert backend.stored_paths() == {final} and read_all(backend, final) == BIG
    assert backend.stray_uploads(older_than_s=0) == []


def test_discard_leaves_nothing(backend):
    writer = backend.writer()
    writer.write(BIG)
    writer.discard()
    writer.discard()  # twice is harmless
    assert leftovers(backend) == (set(), [])


def test_an_exception_mid_stream_leaves_nothing(backend):
    with pytest.raises(ConnectionResetError), backend.writer() as writer:
        writer.write(BIG)
        raise ConnectionResetError("the client went away")
    assert leftovers(backend) == (set(), [])


def test_an_abandoned_upload_is_a_stray_until_removed(backend):
    writer = backend.writer()
    writer.write(BIG)  # S3: one part sent, a multipart upload open
    writer.write(b"never finished")
    if isinstance(backend, LocalBackend):
        writer.flush()  # its writer thread done (a killed worker's threads die with it)
        writer.file.close()  # as a killed worker: its lock is gone
    strays = backend.stray_uploads(older_than_s=0)
    assert len(strays) == 1 and strays[0].started <= time.time()
    assert backend.stray_uploads(older_than_s=3600) == ([] if backend.kind == "s3" else strays)
    assert backend.remove_strays(strays) == 1
    assert leftovers(backend) == (set(), [])


def test_range_reads(backend):
    relative = store(backend, BIG)

    def ranged(start: int, length: int) -> bytes:
        with backend.open_range(relative, start, length) as reader:
            return reader.read()

    assert ranged(0, 10) == BIG[:10]
    assert ranged(MIN_PART_SIZE - 5, 10) == BIG[MIN_PART_SIZE - 5 : MIN_PART_SIZE + 5]
    assert ranged(len(BIG) - 4, 100) == BIG[-4:]  # clipped at the end
    assert ranged(len(BIG), 10) == b"" and ranged(len(BIG) + 99, 10) == b""
    assert ranged(5, 0) == b""
    with pytest.raises(ValueError):
        ranged(-1, 10)


def test_a_missing_file_is_file_not_found(backend):
    missing = new_relative_path(DATASET)
    assert not backend.exists(missing)
    for call in (
        lambda: backend.size(missing),
        lambda: backend.open(missing),
        lambda: backend.open_range(missing, 0, 10),
        lambda: backend.open_range(missing, 0, 0),
    ):
        with pytest.raises(FileNotFoundError):
            call()


def test_remove_ignores_missing_files(backend):
    kept, gone = store(backend, b"kept"), store(backend, b"gone")
    backend.remove([gone, new_relative_path(DATASET)])
    assert backend.stored_paths() == {kept}
    backend.remove([])


def test_the_ranged_file_reads_and_seeks_like_the_bytes(backend):
    relative = store(backend, BIG)
    reader = backend.ranged(relative, block_size=64 * 1024)
    rng = np.random.default_rng(7)
    for _ in range(50):
        start = int(rng.integers(0, len(BIG) + 10))
        length = int(rng.integers(0, 300_000))
        assert reader.seek(start) == start
        assert reader.read(length) == BIG[start : start + length]
        assert reader.tell() == min(start + length, len(BIG)) or start > len(BIG)
    reader.seek(-3, os.SEEK_END)
    assert reader.read() == BIG[-3:] and reader.read(10) == b""
    assert reader.seekable() and reader.readable()
    reader.close()


def frames(folder):
    light = light_frame_cards()
    noise = np.random.default_rng(1).integers(0, 65535, (1024, 1024), dtype=np.uint16)
    return {
        # 2 MiB of noise: the header is the first 2880-byte blocks of the gzip stream.
        "m31.fits.gz": write_fits(folder / "m31.fits.gz", light, noise, compress="gzip"),
        "m31.fits.zip": write_fits(folder / "m31.fits.zip", light, noise, compress="zip"),
        "m31.fits": write_fits(folder / "m31.fits", light, noise),
        "m31.xisf": write_xisf(folder / "m31.xisf", {"OBJECT": "M31", "EXPTIME": 60.0}),
    }


@pytest.mark.parametrize("name", ["m31.fits.gz", "m31.fits.zip", "m31.fits", "m31.xisf"])
def test_headers_read_through_ranges_are_those_of_the_local_file(backend, tmp_path, name):
    path = frames(tmp_path)[name]
    relative = store(backend, path.read_bytes())
    reader = backend.ranged(relative)
    found = read_header_file(reader, reader.size, name)
    assert found == read_header(path, name) and found.format in ("fits", "xisf")
    assert found.target_name == "M31"
    # The size lookup and a few ranges (a zip: its tail first), never the whole object.
    assert reader.requests <= 4, reader.requests
    if path.stat().st_size > 1024 * 1024:
        assert reader.fetched < path.stat().st_size / 2


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"STORAGE": "ftp"}, "'file' or 's3'"),
        ({"STORAGE": "s3"}, "ARCSEC_S3_BUCKET"),
        ({"STORAGE": "s3", "S3_BUCKET": "b", "S3_PART_SIZE": 1024}, "at least 5 MiB"),
        ({"STORAGE": "s3", "S3_BUCKET": "b", "S3_PRESIGN_SECONDS": -1}, "from 0 .no redirect. to"),
    ],
)
def test_a_wrong_storage_setting_stops_the_start(tmp_path, settings, message):
    from arcsec_flask import create_app

    with pytest.raises(ValueError, match=message):
        create_app({"DATA_DIR": str(tmp_path), **settings})


def test_the_app_starts_without_contacting_the_bucket(tmp_path, monkeypatch):
    from arcsec_flask import create_app

    monkeypatch.setenv("ARCSEC_STORAGE", "s3")
    monkeypatch.setenv("ARCSEC_S3_PART_SIZE", str(16 * 1024 * 1024))
    # Nothing listens there: a start that contacted it would fail.
    settings = {
        "DATA_DIR": str(tmp_path),
        "S3_ENDPOINT_URL": "http://127.0.0.1:9",
        "S3_BUCKET": "b",
    }
    app = create_app(settings)
    assert app.config["STORAGE"] == "s3" and app.config["S3_PART_SIZE"] == 16 * 1024 * 1024
    monkeypatch.delenv("ARCSEC_STORAGE")
    assert create_app({"DATA_DIR": str(tmp_path / "other")}).config["STORAGE"] == "file"
