"""Slow clients behind nginx (issue 11): 40 connections sending their headers one byte
every 0.5 s do not hold up anyone else, and nginx closes them once client_header_timeout
has passed. nginx runs deploy/nginx.conf.example itself (tests/support/nginx.py)."""

from __future__ import annotations

import re
import socket
import threading
import time

import httpx
import pytest

from tests.support.nginx import EXAMPLE, SKIP_REASON, nginx_binary, start_nginx
from tests.support.servers import start_gunicorn

pytestmark = [pytest.mark.nginx, pytest.mark.skipif(nginx_binary() is None, reason=SKIP_REASON)]

SLOW_CONNECTIONS = 40
BEHIND_NGINX = {"ARCSEC_PROXY_FIX": "1", "ARCSEC_X_ACCEL_REDIRECT": "/protected/"}


def header_timeout() -> int:
    """client_header_timeout of the example, in seconds."""
    return int(re.search(r"client_header_timeout (\d+)s;", EXAMPLE.read_text())[1])


@pytest.fixture
def stack(tmp_path):
    # One worker with two threads: fewer than the slow connections, so if any of them
    # reached gunicorn before its headers were whole, everybody else would wait.
    app = start_gunicorn(tmp_path / "live", workers=1, extra_env=BEHIND_NGINX)
    try:
        proxy = start_nginx(tmp_path / "nginx", app.url, tmp_path / "live" / "files")
        try:
            yield proxy
        finally:
            proxy.stop()
    finally:
        app.stop()


class SlowHeaders:
    """Connections that send a request's headers one byte every `interval` seconds."""

    def __init__(self, url: str, count: int, interval: float = 0.5):
        host, port = re.match(r"http://([^:/]+):(\d+)", url).groups()
        self.sockets = [socket.create_connection((host, int(port))) for _ in range(count)]
        self.request = (
            b"GET /api/healthcheck/ HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"z" * 10_000
        )
        self.interval = interval
        self.closed = [False] * count
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        sent = 0
        while not self.stop.is_set() and sent < len(self.request):
            for i, sock in enumerate(self.sockets):
                if self.closed[i]:
                    continue
                try:
                    sock.sendall(self.request[sent : sent + 1])
                except OSError:
                    self.closed[i] = True  # nginx closed it
            sent += 1
            self.stop.wait(self.interval)

    def dropped_by_server(self) -> int:
        """How many of the connections nginx has closed (EOF, or a 408 then EOF)."""
        count = 0
        for sock in self.sockets:
            sock.settimeout(0.05)
            try:
                data = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                count += 1
                continue
            if data == b"" or data.startswith(b"HTTP/1.1 408"):
                count += 1
        return count

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


def test_slow_headers_do_not_block_other_requests(stack):
    slow = SlowHeaders(stack.root_url, SLOW_CONNECTIONS)
    try:
        time.sleep(2)  # every slow connection is open and half-way through a header
        assert slow.dropped_by_server() == 0
        for _ in range(5):
            started = time.monotonic()
            answer = httpx.get(stack.url + "healthcheck/", timeout=10)
            assert answer.status_code == 200
            assert time.monotonic() - started < 3  # not queued behind the slow ones
        datasets = httpx.get(stack.url + "datasets/", timeout=10)
        assert datasets.status_code == 401  # a real request of the app, answered
        # nginx closes them once the header timeout has passed; nobody was let through.
        time.sleep(header_timeout() + 3)
        assert slow.dropped_by_server() == SLOW_CONNECTIONS
    finally:
        slow.close()


def test_the_example_limits_what_one_address_holds():
    text = EXAMPLE.read_text()
    assert re.search(r"limit_conn_zone \$binary_remote_addr zone=(\w+):", text)
    limit = int(re.search(r"limit_conn arcsec_per_address (\d+);", text)[1])
    # Below `make run`'s 4 workers x 8 threads: one address never holds every thread.
    assert limit < 4 * 8
    assert header_timeout() <= 30
