"""Crash leftovers (issue 11): a real gunicorn worker killed with SIGKILL mid-upload (a slow
body over a raw socket) leaves its part, which `arcsec-flask check` reports at once (no
lock holds it: no age needed) and `check --repair` removes; a server start, a respawned
worker and `init-db` sweep such parts themselves."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.servers import Server, start_gunicorn

from .helpers import run

HEADER = "X-Arcsecond-API-Authorization"
BOUNDARY = "crashBoundary"


def _parts(data_dir: Path) -> list[Path]:
    folder = data_dir / "files" / ".tmp"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _wait_until(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def server(tmp_path):
    server = start_gunicorn(tmp_path / "live", workers=1)
    yield server
    server.stop()


def _start_slow_upload(server: Server) -> socket.socket:
    """An upload whose body stops after 1 MB of a promised 50 MB: its worker holds a part."""
    keys = server.new_user("uma")
    api = {HEADER: f"Key {keys['api_key']}"}
    dataset = httpx.post(server.url + "datasets/", json={"name": "d"}, headers=api).json()
    host, port = server.url.split("//")[1].rstrip("/").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="dataset"\r\n\r\n'
        f"{dataset['uuid']}\r\n--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="big.fits"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    sock.sendall(
        (
            f"POST /datafiles/ HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"{HEADER}: Key {keys['upload_key']}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            "Content-Length: 50000000\r\n\r\n"
        ).encode()
        + head
        + b"\x01" * 1_000_000
    )
    assert _wait_until(lambda: len(_parts(server.data_dir)) == 1), "no part in .tmp/"
    return sock


def _worker(server: Server) -> psutil.Process:
    (worker,) = psutil.Process(server.process.pid).children()
    return worker


def _dead(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _crash_whole_server(server: Server) -> None:
    """SIGKILL the worker, then the master, with the master stopped first so that it
    neither respawns a worker (which would sweep) nor lets the worker exit cleanly."""
    worker = _worker(server)
    os.kill(server.process.pid, signal.SIGSTOP)
    worker.kill()
    # Dead; a zombie until someone reaps it (the stopped master will not).
    assert _wait_until(lambda: _dead(worker))
    server.process.kill()
    server.process.wait(timeout=10)


def test_a_killed_uploads_part_is_reported_at_once_and_removed_by_repair(server):
    sock = _start_slow_upload(server)
    try:
        _crash_whole_server(server)
    finally:
        sock.close()
    (part,) = _parts(server.data_dir)
    done = run(server.data_dir, "check", "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    (stale,) = report["findings"]["stale_parts"]["items"]
    assert stale["key"] == f".tmp/{part.name}" and stale["age_s"] < 120  # not after 24 h
    assert report["problems"] == 1 and part.exists()  # a check changes nothing
    repaired = run(server.data_dir, "check", "--repair", "--json")
    assert json.loads(repaired.stdout)["repaired"]["stale_parts"] == 1
    assert _parts(server.data_dir) == []
    assert run(server.data_dir, "check").returncode == 0


def test_a_respawned_worker_sweeps_the_killed_workers_part(server):
    sock = _start_slow_upload(server)
    try:
        killed = _worker(server)
        killed.kill()  # the master stays and starts a new worker, which sweeps at start
        killed.wait(timeout=10)
    finally:
        sock.close()
    assert _wait_until(lambda: _parts(server.data_dir) == [], timeout=30)
    assert _wait_until(lambda: _worker(server).pid != killed.pid)
    assert httpx.get(server.url + "healthcheck/", timeout=10).status_code == 200
    assert "Removed 1 upload parts left by a crash." in server.log.read_text()


def test_a_server_start_sweeps_what_a_crash_left(server, tmp_path):
    sock = _start_slow_upload(server)
    try:
        _crash_whole_server(server)
    finally:
        sock.close()
    assert len(_parts(server.data_dir)) == 1
    again = start_gunicorn(server.data_dir, workers=1)
    try:
        assert _parts(server.data_dir) == []
        assert "Removed 1 upload parts left by a crash." in again.log.read_text()
    finally:
        again.stop()


def test_init_db_sweeps_what_a_crash_left(server):
    sock = _start_slow_upload(server)
    try:
        _crash_whole_server(server)
    finally:
        sock.close()
    assert len(_parts(server.data_dir)) == 1
    # Other commands leave the part for `check` to report...
    assert run(server.data_dir, "users", "list").returncode == 0
    assert len(_parts(server.data_dir)) == 1
    # ...init-db, which starts a deployment, removes it.
    done = run(server.data_dir, "init-db")
    assert done.returncode == 0, done.stderr
    assert "Removed 1 upload parts left by a crash." in done.stdout
    assert _parts(server.data_dir) == []
