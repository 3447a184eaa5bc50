"""Uploads against a real gunicorn: interrupted bodies, memory, concurrency."""

from __future__ import annotations

import contextlib
import io
import json
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest
from astropy.io import fits

from tests.support.factories import write_fits
from tests.support.servers import start_gunicorn

HEADER = "X-Arcsecond-API-Authorization"


@pytest.fixture
def server(tmp_path):
    server = start_gunicorn(tmp_path / "live", workers=2)
    keys = server.new_user("uma")
    server.api = {HEADER: f"Key {keys['api_key']}"}
    server.upload = {HEADER: f"Key {keys['upload_key']}"}
    yield server
    server.stop()


def _dataset(server, telescope: str | None = None) -> str:
    body = {"name": "run", "telescope": telescope}
    response = httpx.post(server.url + "datasets/", json=body, headers=server.api)
    assert response.status_code == 201, response.text
    return response.json()["uuid"]


def _stored(server) -> list[Path]:
    return [p for p in (server.data_dir / "files").rglob("*") if p.is_file()]


def _wait_until(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def _multipart_head(dataset: str, name: str, boundary: str) -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="dataset"\r\n\r\n{dataset}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


@pytest.mark.parametrize("chunked", [False, True])
def test_interrupted_upload_leaves_nothing(server, chunked):
    dataset = _dataset(server)
    boundary = "xYzBoundary"
    head = _multipart_head(dataset, "big.dat", boundary)
    host, port = server.url.split("//")[1].rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {50_000_000}"
        request = (
            f"POST /datafiles/ HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"{HEADER}: {server.upload[HEADER]}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n{framing}\r\n\r\n"
        ).encode()
        sock.sendall(request)
        payload = head + b"\x01" * 3_000_000
        if chunked:
            payload = f"{len(payload):x}\r\n".encode() + payload + b"\r\n"
        sock.sendall(payload)
        # The part has reached the storage folder's temporary file.
        assert _wait_until(lambda: any(".tmp" in str(p) for p in _stored(server)), 10)
    # The client is gone mid-body: no row, no file, not even the temporary one.
    assert _wait_until(lambda: _stored(server) == [])
    listing = httpx.get(server.url + "datafiles/", headers=server.api).json()
    assert listing["count"] == 0
    assert httpx.get(server.url + "healthcheck/").status_code == 200
    assert "Traceback" not in server.log.read_text()  # a 400 for a client gone, not a 500


def _big_fits(path: Path, size_mb: int) -> Path:
    """A FITS file of about `size_mb` MB, header written by astropy, data left sparse."""
    side = int((size_mb * 1024 * 1024 / 4) ** 0.5)
    header = fits.PrimaryHDU(data=np.zeros((1, 1), dtype=np.int32)).header
    header["NAXIS1"], header["NAXIS2"] = side, side
    header["IMAGETYP"], header["OBJECT"] = "LIGHT", "NGC 7000"
    header["DATE-OBS"] = "2024-07-01T22:00:00"
    with path.open("wb") as out:
        out.write(header.tostring().encode())
        data = side * side * 4
        out.truncate(out.tell() + data + (-data % 2880))
    return path


def _workers(server) -> list[psutil.Process]:
    return psutil.Process(server.process.pid).children()


def _upload_measuring_rss(server, path: Path, dataset: str) -> tuple[httpx.Response, int]:
    workers = _workers(server)
    before = {w.pid: w.memory_info().rss for w in workers}
    peak = dict(before)
    done = threading.Event()

    def sample():
        while not done.is_set():
            for w in workers:
                with contextlib.suppress(psutil.NoSuchProcess):
                    peak[w.pid] = max(peak[w.pid], w.memory_info().rss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with path.open("rb") as handle:
            response = httpx.post(
                server.url + "datafiles/",
                data={"dataset": dataset},
                files={"file": (path.name, handle, "application/octet-stream")},
                headers=server.upload,
                timeout=300,
            )
    finally:
        done.set()
        sampler.join()
    return response, max(peak[pid] - before[pid] for pid in before)


@pytest.mark.parametrize("size_mb", [100, pytest.param(1024, marks=pytest.mark.slow, id="1GiB")])
def test_large_upload_keeps_server_memory_flat(server, tmp_path, size_mb):
    path = _big_fits(tmp_path / "ngc7000.fits", size_mb)
    # Warm the workers up (imports, first request) so the measure is the upload itself.
    dataset = _dataset(server)
    for i in range(4):
        httpx.post(
            server.url + "datafiles/",
            data={"dataset": dataset},
            files={"file": (f"warm{i}.fits", write_fits(tmp_path / "w.fits").read_bytes())},
            headers=server.upload,
        )
    response, growth = _upload_measuring_rss(server, path, dataset)
    assert response.status_code == 201, response.text
    assert response.json()["size"] == path.stat().st_size
    assert response.json()["format"] == "fits"
    # 1 MiB reads, up to 4 pieces queued for the background writer, and its thread's
    # malloc arena: about 10 MB whatever the file's size (the 1 GiB variant checks that).
    assert growth < 16 * 1024 * 1024, f"worker RSS grew by {growth / 1e6:.1f} MB"


def test_concurrent_uploads_into_one_new_night(tmp_path):
    server = start_gunicorn(tmp_path / "live", workers=4)
    try:
        keys = server.new_user("uma")
        api = {HEADER: f"Key {keys['api_key']}"}
        site = httpx.post(
            server.url + "observingsites/",
            json={"name": "S", "time_zone": "Europe/Paris"},
            headers=api,
        ).json()
        scope = httpx.post(
            server.url + "telescopes/",
            json={"name": "T", "observing_site": site["uuid"]},
            headers=api,
        ).json()
        dataset = httpx.post(
            server.url + "datasets/", json={"name": "D", "telescope": scope["uuid"]}, headers=api
        ).json()
        blobs = [
            write_fits(
                tmp_path / f"f{i}.fits",
                {"IMAGETYP": "LIGHT", "OBJECT": "M13", "DATE-OBS": f"2024-06-01T22:{i:02d}:00"},
            ).read_bytes()
            for i in range(16)
        ]
        statuses = []
        barrier = threading.Barrier(8)

        def send(indices):
            with httpx.Client(timeout=60) as client:
                barrier.wait()
                for i in indices:
                    response = client.post(
                        server.url + "datafiles/",
                        data={"dataset": dataset["uuid"]},
                        files={"file": (f"f{i}.fits", io.BytesIO(blobs[i]))},
                        headers={HEADER: f"Key {keys['upload_key']}"},
                    )
                    statuses.append(response.status_code)

        threads = [threading.Thread(target=send, args=([i, i + 8],)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert statuses == [201] * 16
        logs = httpx.get(server.url + "nightlogs/", headers=api).json()
        assert logs["count"] == 1 and logs["results"][0]["date"] == "2024-06-01"
        observations = httpx.get(server.url + "observations/", headers=api).json()
        assert observations["count"] == 1
        assert observations["results"][0]["data_files_count"] == 16
    finally:
        server.stop()


def test_concurrent_duplicates_store_one_file(server, tmp_path):
    dataset = _dataset(server)
    barrier = threading.Barrier(6)
    statuses = []

    def send():
        barrier.wait()
        response = httpx.post(
            server.url + "datafiles/",
            data={"dataset": dataset},
            files={"file": ("same.txt", b"x" * 100_000)},
            headers=server.upload,
            timeout=60,
        )
        statuses.append((response.status_code, response.text))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(s for s, _ in statuses) == [201] + [400] * 5
    assert all("already exists in dataset" in text for s, text in statuses if s == 400)
    assert _wait_until(lambda: len(_stored(server)) == 1)


def test_a_slow_upload_does_not_hold_up_the_api(tmp_path):
    """One worker: while an upload trickles in, other requests are still answered."""
    server = start_gunicorn(tmp_path / "live", workers=1)
    try:
        keys = server.new_user("uma")
        api = {HEADER: f"Key {keys['api_key']}"}
        dataset = httpx.post(server.url + "datasets/", json={"name": "d"}, headers=api).json()
        host, port = server.url.split("//")[1].rstrip("/").split(":")
        boundary = "slowBoundary"
        with socket.create_connection((host, int(port)), timeout=10) as slow:
            slow.sendall(
                (
                    f"POST /datafiles/ HTTP/1.1\r\nHost: {host}:{port}\r\n"
                    f"{HEADER}: Key {keys['upload_key']}\r\n"
                    f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                    f"Content-Length: 10000000\r\n\r\n"
                ).encode()
                + _multipart_head(dataset["uuid"], "slow.dat", boundary)
                + b"\x00" * 1_000_000
            )
            assert _wait_until(lambda: any(".tmp" in str(p) for p in _stored(server)), 10)
            # The upload is mid-body and holds its thread; the worker answers others.
            for path in ("healthcheck/", "datasets/", "datafiles/"):
                response = httpx.get(server.url + path, headers=api, timeout=10)
                assert response.status_code == 200
    finally:
        server.stop()


@pytest.mark.parametrize(
    "chunks",
    [
        b"zz\r\n",  # a chunk size that is not hexadecimal
        b"5\r\nhelloXX",  # a chunk without its CRLF
        b"5;ext=\x01\r\nhello\r\n0\r\n\r\n",  # a control character in a chunk extension
    ],
)
@pytest.mark.parametrize("kind", ["upload", "json"])
def test_malformed_chunked_bodies_are_the_clients_error(server, chunks, kind):
    """gunicorn's parse errors on a chunked body reach the app mid-read: a 400, not a 500."""
    host, port = server.url.split("//")[1].rstrip("/").split(":")
    if kind == "upload":
        path, content_type = "datafiles/", "multipart/form-data; boundary=b"
        key = server.upload[HEADER]
        chunks = f"{len(b'--b'):x}\r\n--b\r\n".encode() + chunks
    else:
        path, content_type, key = "datasets/", "application/json", server.api[HEADER]
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            (
                f"POST /{path} HTTP/1.1\r\nHost: {host}:{port}\r\n{HEADER}: {key}\r\n"
                f"Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
            ).encode()
            + chunks
        )
        answer = sock.recv(65536).decode("latin-1")
    status = int(answer.split(" ", 2)[1]) if answer else 0
    assert status == 400 or answer == "", answer[:200]  # refused, or closed by gunicorn
    assert _wait_until(lambda: _stored(server) == [])
    assert httpx.get(server.url + "healthcheck/").status_code == 200
    assert "Traceback" not in server.log.read_text()


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs: a real file system that fills up (ENOSPC), mounted for the test."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.mark.parametrize("size", [3_000_000, 40_000_000])
def test_a_full_disk_answers_507_and_keeps_nothing(tmp_path, small_disk, size):
    files_dir = small_disk / "files"
    server = start_gunicorn(tmp_path / "live", extra_env={"ARCSEC_FILES_DIR": str(files_dir)})
    try:
        keys = server.new_user("uma")
        upload = {HEADER: f"Key {keys['upload_key']}"}
        dataset = httpx.post(
            server.url + "datasets/", json={"name": "d"}, headers={HEADER: f"Key {keys['api_key']}"}
        ).json()["uuid"]
        response = httpx.post(
            server.url + "datafiles/",
            data={"dataset": dataset},
            files={"file": ("big.dat", b"\x07" * size)},
            headers=upload,
            timeout=60,
        )
        assert response.status_code == 507, response.text
        assert "storage is full" in response.json()["detail"]
        assert response.headers["Connection"] == "close"
        assert _wait_until(lambda: [p for p in files_dir.rglob("*") if p.is_file()] == [])
        # The space is back: the next upload is stored.
        small = httpx.post(
            server.url + "datafiles/",
            data={"dataset": dataset},
            files={"file": ("small.dat", b"\x07" * 1000)},
            headers=upload,
        )
        assert small.status_code == 201, small.text
        assert "Traceback" not in server.log.read_text()
    finally:
        server.stop()


def _raw_upload(server, body: bytes, content_type: str, content_length: int | None = None) -> str:
    """POST `body` as it is to /datafiles/, then half-close: the answer's raw text."""
    host, port = server.url.split("//")[1].rstrip("/").split(":")
    length = len(body) if content_length is None else content_length
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(
            (
                f"POST /datafiles/ HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"{HEADER}: {server.upload[HEADER]}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {length}\r\n\r\n"
            ).encode()
            + body
        )
        sock.shutdown(socket.SHUT_WR)  # the client sent all it will send
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer.decode("latin-1")


def _complete_body(dataset: str, boundary: str, name: str = "m31.fits") -> bytes:
    return _multipart_head(dataset, name, boundary) + b"SIMPLE" + f"\r\n--{boundary}--\r\n".encode()


@pytest.mark.parametrize(
    ("content_type", "make_body", "missing", "message"),
    [
        # A complete multipart, but fewer bytes than its Content-Length: cut short.
        (
            "multipart/form-data; boundary=bb",
            lambda d: _complete_body(d, "bb"),
            5000,
            "Content-Length",
        ),
        ("multipart/form-data", lambda d: _complete_body(d, "bb"), 0, "names no boundary"),
        ("multipart/form-data; boundary=zz", lambda d: _complete_body(d, "bb"), 0, "(--zz)"),
        (
            "multipart/form-data; boundary=bb",
            lambda d: _complete_body(d, "bb", "m31.fits").replace(b"m31", b"m\xe931"),
            0,
            "not valid UTF-8",
        ),
        (
            "multipart/form-data; boundary=bb",
            lambda d: _complete_body(d, "bb")[:-8],
            0,
            "closing boundary",
        ),
    ],
    ids=["short-of-content-length", "no-boundary", "wrong-boundary", "latin-1-name", "unclosed"],
)
def test_a_broken_body_is_a_clear_400_and_stores_nothing(
    server, content_type, make_body, missing, message
):
    dataset = _dataset(server)
    body = make_body(dataset)
    answer = _raw_upload(server, body, content_type, len(body) + missing)
    head, _, text = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 400"), answer[:300]
    assert message in json.loads(text)["detail"]
    assert "dataset: Missing data" not in text
    assert _wait_until(lambda: _stored(server) == [])
    listing = httpx.get(server.url + "datafiles/", headers=server.api).json()
    assert listing["count"] == 0
    assert "Traceback" not in server.log.read_text()


def test_the_same_body_whole_is_stored(server):
    """The control for the test above: its well-formed body is a 201."""
    dataset = _dataset(server)
    answer = _raw_upload(server, _complete_body(dataset, "bb"), "multipart/form-data; boundary=bb")
    assert answer.startswith("HTTP/1.1 201"), answer[:300]
