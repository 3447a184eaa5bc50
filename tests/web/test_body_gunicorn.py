"""web/body.py under a real gunicorn: bodies read from its socket keep its connection
state right (keep-alive after an upload, an answer to a refused body without waiting)."""

from __future__ import annotations

import hashlib
import socket

import httpx
import pytest

from tests.support.servers import start_gunicorn

HEADER = "X-Arcsecond-API-Authorization"


@pytest.fixture
def server(tmp_path):
    server = start_gunicorn(tmp_path / "live", workers=1)
    keys = server.new_user("uma")
    server.key = {HEADER: f"Key {keys['upload_key']}"}
    yield server
    server.stop()


def _dataset(client: httpx.Client, server) -> str:
    response = client.post(server.url + "datasets/", json={"name": "run"}, headers=server.key)
    assert response.status_code == 201, response.text
    return response.json()["uuid"]


def test_uploads_one_after_another_on_one_connection(server):
    """Three uploads (one past the background writer's threshold) and a list on one
    kept-alive connection: each body read from the socket left it where the next request
    starts."""
    sizes = [1000, 9 * 1024 * 1024 + 7, 70_000]
    with httpx.Client(timeout=60) as client:
        dataset = _dataset(client, server)
        for i, size in enumerate(sizes):
            content = bytes([i + 1]) * size
            response = client.post(
                server.url + "datafiles/",
                data={"dataset": dataset},
                files={"file": (f"f{i}.dat", content)},
                headers=server.key,
            )
            assert response.status_code == 201, response.text
            assert response.json()["checksum"] == hashlib.sha256(content).hexdigest()
        listing = client.get(server.url + "datafiles/", headers=server.key)
        assert listing.json()["count"] == 3
    # One connection for all of it: gunicorn logged no reset, the worker never restarted.
    assert "Traceback" not in server.log.read_text()


def test_a_refused_body_is_answered_while_the_client_waits(server):
    """The whole request in one send (gunicorn reads the body's start with the headers),
    with a boundary the body does not use: the 400 comes back on a connection the
    client keeps open; the body's rest is not waited for twice."""
    host, port = server.url.split("//")[1].rstrip("/").split(":")
    body = b"--other\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--other--\r\n"
    request = (
        f"POST /datafiles/ HTTP/1.1\r\nHost: {host}\r\n{HEADER}: {server.key[HEADER]}\r\n"
        f"Content-Type: multipart/form-data; boundary=bb\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(request + body)  # and no half-close: the client waits for its answer
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"(--bb)" in answer
