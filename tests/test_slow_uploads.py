"""Slow request bodies behind nginx (issue 11, the body half; tests/test_slow_clients.py is
the header half): 40 uploads sending their body one byte every 0.5 s while a normal
request is made. nginx reads every body whole before handing it to gunicorn
(proxy_request_buffering on, deploy/nginx.conf.example), so a trickling body holds an
nginx connection and a temporary file, never a gunicorn thread.

- From 40 addresses, ten times gunicorn's threads: none reaches gunicorn while it
  trickles, everybody else is answered at once.
- From one address, limit_conn lets 16 in (the rest are 503s at once).
- What buffering must keep: an upload is stored whole (sha256), a cut one leaves nothing,
  and a disk too full for nginx's temporary file is the API's 507, not nginx's 500.

gunicorn runs with deploy/gunicorn.conf.py (worker_connections = threads, keepalive 0)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import psutil
import pytest

from tests.support.factories import LIGHT_CARDS, write_fits
from tests.support.nginx import EXAMPLE, SKIP_REASON, nginx_binary, start_nginx
from tests.support.servers import ROOT, start_gunicorn

pytestmark = [pytest.mark.nginx, pytest.mark.skipif(nginx_binary() is None, reason=SKIP_REASON)]

SLOW_UPLOADS = 40
BEHIND_NGINX = {"ARCSEC_PROXY_FIX": "1", "ARCSEC_X_ACCEL_REDIRECT": "/protected/"}
HEADER = "X-Arcsecond-API-Authorization"
BOUNDARY = "slowslowslow"
MB = 1_000_000


def per_address_limit() -> int:
    """limit_conn of the example: requests one address may have in progress."""
    return int(re.search(r"limit_conn arcsec_per_address (\d+);", EXAMPLE.read_text())[1])


def run_stack(tmp_path, workers: int, files_dir: Path | None = None, body_temp=None):
    """gunicorn as production runs it (deploy/gunicorn.conf.py, 4 threads a worker) behind
    nginx running the example."""
    env = {**BEHIND_NGINX, "GUNICORN_THREADS": "4", "GUNICORN_ACCESS_LOG": ""}
    if files_dir is not None:
        env["ARCSEC_FILES_DIR"] = str(files_dir)
    config = ("-c", str(ROOT / "deploy" / "gunicorn.conf.py"))
    app = start_gunicorn(tmp_path / "live", workers=workers, extra_env=env, extra_args=config)
    files_dir = files_dir or tmp_path / "live" / "files"
    try:
        proxy = start_nginx(tmp_path / "nginx", app.url, files_dir, body_temp=body_temp)
        try:
            yield app, proxy
        finally:
            proxy.stop()
    finally:
        app.stop()


@pytest.fixture
def small_stack(tmp_path):
    # One worker of 4 threads: a tenth of the slow uploaders.
    yield from run_stack(tmp_path, 1)


@pytest.fixture
def stack_above_the_limit(tmp_path):
    # 5 x 4 threads: more than one address may hold (limit_conn), as in `make run` (4 x 8).
    assert per_address_limit() < 5 * 4
    yield from run_stack(tmp_path, 5)


def connections_per_worker(app) -> list[int]:
    """Connections each gunicorn worker holds on its port (a request in a thread, or
    queued for one)."""
    port = urlsplit(app.url).port
    counts = []
    for worker in psutil.Process(app.process.pid).children():
        connections = worker.net_connections(kind="tcp")
        counts.append(
            sum(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port for c in connections)
        )
    return counts


def gunicorn_connections(app) -> int:
    return sum(connections_per_worker(app))


class SlowBodies:
    """Requests whose headers are sent at once and whose body then trickles, one byte
    every `interval` seconds; each from its own loopback address (127.0.0.2, .3, ...), or
    with `spread` False all from 127.0.0.2."""

    def __init__(self, url, head: bytes, body: bytes, count, spread=True, interval=0.5) -> None:
        host, port = re.match(r"http://([^:/]+):(\d+)", url).groups()
        self.body = body
        self.sockets = []
        for i in range(count):
            sock = socket.socket()
            sock.bind((f"127.0.0.{2 + i}" if spread else "127.0.0.2", 0))
            sock.connect((host, int(port)))
            sock.sendall(head)
            self.sockets.append(sock)
        self.interval = interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        sent, open_ = 0, set(range(len(self.sockets)))
        while not self.stop.is_set() and open_:
            for i in list(open_):
                try:
                    self.sockets[i].sendall(self.body[sent : sent + 1])
                except OSError:
                    open_.discard(i)
            sent += 1
            self.stop.wait(self.interval)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


def multipart_upload(
    dataset: str,
    key: str,
    content: bytes = b"\0" * 100_000,
    missing: int = 100,
    prefix: str = "/api",
) -> tuple[bytes, bytes]:
    """Head and body of an upload of `content` to `prefix`/datafiles/, as the arcsecond
    client sends it; the Content-Length says `missing` bytes more than the body has (a
    body never complete)."""
    body = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="dataset"\r\n\r\n'
        f'{dataset}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="file";'
        ' filename="slow.fits"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode() + content
    head = (
        f"POST {prefix}/datafiles/ HTTP/1.1\r\nHost: localhost\r\n{HEADER}: Key {key}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(body) + missing}\r\n\r\n"
    ).encode()
    return head, body


def json_dataset(key: str) -> tuple[bytes, bytes]:
    """Head and body of a dataset creation: any request body may trickle, not just files."""
    body = json.dumps({"name": "Slow " + "x" * 1000}).encode()
    head = (
        f"POST /api/datasets/ HTTP/1.1\r\nHost: localhost\r\n{HEADER}: Key {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head, body


def _user(stack) -> tuple[dict, dict, str]:
    app, proxy = stack
    keys = app.new_user("alice")
    auth = {HEADER: f"Key {keys['upload_key']}"}
    dataset = httpx.post(proxy.url + "datasets/", json={"name": "Fast"}, headers=auth).json()
    return keys, auth, dataset["uuid"]


def _answered_at_once(proxy, auth) -> None:
    for _ in range(3):
        started = time.monotonic()
        answer = httpx.get(proxy.url + "healthcheck/", timeout=5)
        assert answer.status_code == 200
        assert time.monotonic() - started < 3, "queued behind the slow uploads"
    assert httpx.get(proxy.url + "datasets/", headers=auth, timeout=5).status_code == 200


@pytest.mark.parametrize("kind", ["upload", "json"])
def test_slow_bodies_from_many_addresses_do_not_block_a_normal_request(small_stack, kind):
    app, proxy = small_stack
    keys, auth, dataset = _user(small_stack)
    if kind == "upload":
        head, body = multipart_upload(dataset, keys["upload_key"])
    else:
        head, body = json_dataset(keys["upload_key"])
    slow = SlowBodies(proxy.root_url, head, body, SLOW_UPLOADS, spread=True)
    try:
        time.sleep(3)  # every slow request is in, its body trickling
        assert gunicorn_connections(app) == 0, "a trickling body reached gunicorn"
        _answered_at_once(proxy, auth)
        # Still trickling, held by nginx: none was refused or cut.
        for sock in slow.sockets:
            sock.settimeout(0.05)
            with pytest.raises(TimeoutError):
                sock.recv(64)
    finally:
        slow.close()
    listed = httpx.get(proxy.url + "datasets/", headers=auth).json()["results"]
    names = [d["name"] for d in listed]
    assert names == ["Fast"]  # nothing of the cut-off requests was made


@pytest.mark.client
def test_the_real_client_uploads_a_night_while_slow_bodies_trickle(
    small_stack, arcsecond, tmp_path
):
    """Honest uploads are not starved either: with 40 slow uploads from 40 addresses held
    by nginx, the arcsecond client sends a night's frames through the same nginx."""
    app, proxy = small_stack
    keys, _, dataset = _user(small_stack)
    api = {HEADER: f"Key {keys['api_key']}"}
    site = httpx.post(
        proxy.url + "observingsites/",
        headers=api,
        json={"name": "La Silla", "coordinates": {"longitude": -70.73, "latitude": -29.26}},
    ).json()
    telescope = httpx.post(
        proxy.url + "telescopes/", headers=api, json={"name": "RC8", "observing_site": site["uuid"]}
    ).json()
    folder = tmp_path / "night"
    folder.mkdir()
    frames = {}
    for i in range(5):
        cards = {**LIGHT_CARDS, "DATE-OBS": f"2024-03-02T01:0{i}:00"}
        path = write_fits(folder / f"light_{i}.fits", cards, data=np.full((256, 256), i, ">i4"))
        frames[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    head, body = multipart_upload(dataset, keys["upload_key"])
    slow = SlowBodies(proxy.root_url, head, body, SLOW_UPLOADS, spread=True)
    try:
        time.sleep(3)
        assert arcsecond.run("api", "add", "local", proxy.url).returncode == 0
        assert arcsecond.run("api", "use", "local").returncode == 0
        login = arcsecond.run(
            "login", "--username", "alice", "--type", "upload", "--key", keys["upload_key"]
        )
        assert "Logged in" in login.stdout, login.stdout + login.stderr
        run = arcsecond.run(
            "upload", str(folder), "-d", "Night", "-t", telescope["uuid"], stdin="\n", timeout=120
        )
        output = run.stdout + run.stderr
        assert "uploads succeeded: 5, skipped: 0, failed: 0" in output, output[-3000:]
        assert gunicorn_connections(app) == 0  # the slow ones are still in nginx
    finally:
        slow.close()
    stored = httpx.get(proxy.url + "datafiles/", headers=api).json()["results"]
    assert {f["name"]: f["checksum"] for f in stored} == frames


def test_slow_upload_bodies_from_one_address_hold_at_most_its_limit(stack_above_the_limit):
    """limit_conn: 16 of the 40 are let in (and keep trickling, in nginx), the others are
    503s at once; everybody else is answered."""
    keys, auth, dataset = _user(stack_above_the_limit)
    head, body = multipart_upload(dataset, keys["upload_key"])
    slow = SlowBodies(stack_above_the_limit[1].root_url, head, body, SLOW_UPLOADS, spread=False)
    try:
        time.sleep(3)
        _answered_at_once(stack_above_the_limit[1], auth)
        refused = 0
        for sock in slow.sockets:
            sock.settimeout(0.2)
            try:
                refused += sock.recv(64).startswith(b"HTTP/1.1 503")
            except TimeoutError:
                continue
        assert refused == SLOW_UPLOADS - per_address_limit()
    finally:
        slow.close()


def _stored_files(files_dir: Path) -> list[Path]:
    return [p for p in files_dir.rglob("*") if p.is_file()] if files_dir.exists() else []


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_an_upload_through_nginx_is_stored_whole(small_stack, tmp_path, framing):
    """As the arcsecond client sends it (Content-Length), or chunked (nginx reads the
    chunks whole and hands gunicorn a Content-Length)."""
    app, proxy = small_stack
    keys, auth, dataset = _user(small_stack)
    content = os.urandom(20 * MB)
    if framing == "content-length":
        response = httpx.post(
            proxy.url + "datafiles/",
            data={"dataset": dataset},
            files={"file": ("frame.dat", content)},
            headers=auth,
            timeout=60,
        )
    else:
        _, body = multipart_upload(dataset, keys["upload_key"], content)
        body += f"\r\n--{BOUNDARY}--\r\n".encode()
        pieces = (body[i : i + MB] for i in range(0, len(body), MB))
        response = httpx.post(
            proxy.url + "datafiles/",
            content=pieces,  # an iterator: httpx sends it chunked
            headers={**auth, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
            timeout=60,
        )
    assert response.status_code == 201, response.text
    assert response.json()["checksum"] == hashlib.sha256(content).hexdigest()
    (stored,) = _stored_files(app.data_dir / "files")
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == response.json()["checksum"]
    assert list((tmp_path / "nginx" / "client_body_temp").rglob("*")) == []  # nginx's copy


def test_a_cut_upload_through_nginx_stores_nothing(small_stack, tmp_path):
    app, proxy = small_stack
    keys, _, dataset = _user(small_stack)
    head, body = multipart_upload(dataset, keys["upload_key"], os.urandom(5 * MB), missing=0)
    with socket.create_connection((urlsplit(proxy.url).hostname, urlsplit(proxy.url).port)) as s:
        s.sendall(head + body[: len(body) // 2])
        time.sleep(0.5)
    time.sleep(0.5)  # nginx notices the close
    listed = httpx.get(proxy.url + "datafiles/", headers={HEADER: f"Key {keys['api_key']}"})
    assert listed.json()["count"] == 0
    assert _stored_files(app.data_dir / "files") == []
    assert list((tmp_path / "nginx" / "client_body_temp").rglob("*")) == []


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


@pytest.mark.parametrize("size", [3 * MB, 40 * MB])
@pytest.mark.parametrize("full", ["nginx-temp", "app-files"])
def test_a_full_disk_through_nginx_answers_507_and_keeps_nothing(tmp_path, small_disk, full, size):
    """Whichever fills up, nginx's temporary folder or the app's files, the client gets
    the API's 507 (its retry stops the night's upload, as it should), nothing is kept, and
    the next upload that fits is stored."""
    if full == "nginx-temp":
        stack = run_stack(tmp_path, 1, body_temp=small_disk / "body")
        spool = small_disk / "body"
    else:
        stack = run_stack(tmp_path, 1, files_dir=small_disk / "files")
        spool = tmp_path / "nginx" / "client_body_temp"
    app, proxy = next(stack)
    try:
        _, auth, dataset = _user((app, proxy))
        for mount in (proxy.url, proxy.root_url):  # the example's two locations
            response = httpx.post(
                mount + "datafiles/",
                data={"dataset": dataset},
                files={"file": ("big.dat", b"\x07" * size)},
                headers=auth,
                timeout=60,
            )
            assert response.status_code == 507, response.text
            assert "storage is full" in response.json()["detail"]
            # nginx cut reading the body: it closes the connection. The app's 507 comes
            # once nginx has read the whole body, and nginx keeps its connection alive.
            closes = "close" if full == "nginx-temp" else "keep-alive"
            assert response.headers["Connection"] == closes
            assert _stored_files(spool) == []
            stored = _stored_files(app.data_dir / "files") + _stored_files(small_disk / "files")
            assert stored == []
        small = httpx.post(
            proxy.url + "datafiles/",
            data={"dataset": dataset},
            files={"file": ("small.dat", b"\x07" * 300_000)},
            headers=auth,
            timeout=60,
        )
        assert small.status_code == 201, small.text
        assert "Traceback" not in app.log.read_text()
    finally:
        stack.close()


def test_a_worker_whose_threads_are_busy_takes_no_more_requests(tmp_path):
    """deploy/gunicorn.conf.py's worker_connections = threads, straight at gunicorn: 3 slow
    uploads for 2 workers x 2 threads. A worker takes no more than its 2, the third goes
    to the other one, and so does every request after them. With gunicorn's default (1000)
    one worker may take all 3 (seen here in one run of two), the third waiting behind
    the slow ones though the other worker is idle."""
    env = {"GUNICORN_THREADS": "2", "GUNICORN_ACCESS_LOG": ""}
    config = ("-c", str(ROOT / "deploy" / "gunicorn.conf.py"))
    app = start_gunicorn(tmp_path / "live", workers=2, extra_env=env, extra_args=config)
    try:
        keys = app.new_user("alice")
        auth = {HEADER: f"Key {keys['upload_key']}"}
        dataset = httpx.post(app.url + "datasets/", json={"name": "Fast"}, headers=auth).json()
        head, body = multipart_upload(dataset["uuid"], keys["upload_key"], prefix="")
        slow = SlowBodies(app.url, head, body, 3, spread=False)
        try:
            time.sleep(2)
            assert sorted(connections_per_worker(app)) == [1, 2]
            for _ in range(10):
                started = time.monotonic()
                assert httpx.get(app.url + "healthcheck/", timeout=5).status_code == 200
                assert time.monotonic() - started < 3, "queued behind the slow uploads"
        finally:
            slow.close()
        # keepalive 0 pairs with it: gunicorn has no room for idle connections to keep.
        assert "No keepalived connections" not in app.log.read_text()
    finally:
        app.stop()
