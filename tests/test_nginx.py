"""A real gunicorn behind a real nginx running deploy/nginx.conf.example, under /api/.

URLs built from X-Forwarded-*, uploads read whole by nginx then stored, downloads handed to
nginx with X-Accel-Redirect (Range included), and the internal location closed from outside.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.factories import write_fits
from tests.support.nginx import SKIP_REASON, Nginx, nginx_binary, start_nginx
from tests.support.servers import Server, start_gunicorn

pytestmark = [pytest.mark.nginx, pytest.mark.skipif(nginx_binary() is None, reason=SKIP_REASON)]

HEADER = "X-Arcsecond-API-Authorization"
BEHIND_NGINX = {"ARCSEC_PROXY_FIX": "1", "ARCSEC_X_ACCEL_REDIRECT": "/protected/"}
LIGHT = {"IMAGETYP": "LIGHT", "OBJECT": "M31", "DATE-OBS": "2024-03-01T21:00:00"}
MB = 1024 * 1024


@dataclass
class Stack:
    app: Server  # gunicorn, reached directly only to show what nginx hides
    nginx: Nginx

    @property
    def files_dir(self) -> Path:
        return self.app.data_dir / "files"

    def user(self, username: str) -> dict:
        return self.app.new_user(username)


def _run_stack(tmp: Path, user: str | None = None):
    app = start_gunicorn(tmp / "live", extra_env=BEHIND_NGINX)
    try:
        proxy = start_nginx(tmp / "nginx", app.url, tmp / "live" / "files", user=user)
        try:
            yield Stack(app, proxy)
        finally:
            proxy.stop()
    finally:
        app.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # One gunicorn and one nginx for the module: starting them is most of the runtime.
    # Each test makes its own user, so the tests stay independent.
    yield from _run_stack(tmp_path_factory.mktemp("nginx"))


def key(keys: dict, kind: str = "api_key") -> dict[str, str]:
    return {HEADER: f"Key {keys[kind]}"}


def _dataset(stack: Stack, keys: dict, name: str) -> dict:
    response = httpx.post(
        stack.nginx.url + "datasets/", json={"name": name}, headers=key(keys, "upload_key")
    )
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def uploaded(stack, tmp_path, request):
    """A FITS frame uploaded through nginx with the upload key, and its owner's keys."""
    keys = stack.user(request.node.name.replace("_", "-")[:40])
    dataset = _dataset(stack, keys, "M31")
    path = write_fits(tmp_path / "m31.fits", LIGHT)
    with path.open("rb") as handle:
        response = httpx.post(
            stack.nginx.url + "datafiles/",
            data={"dataset": dataset["uuid"], "is_raw": "True"},
            files={"file": ("m31.fits", handle)},
            headers=key(keys, "upload_key"),
        )
    return {"keys": keys, "response": response, "content": path.read_bytes()}


def _accel_path(stack: Stack, keys: dict, file_url: str) -> str:
    """What gunicorn answers nginx for a download: no body, an X-Accel-Redirect path."""
    direct = httpx.get(file_url.replace(stack.nginx.url, stack.app.url), headers=key(keys))
    assert direct.status_code == 200 and direct.content == b""
    return direct.headers["X-Accel-Redirect"]


def test_root_lists_urls_under_the_prefix_and_healthcheck_answers(stack):
    links = httpx.get(stack.nginx.url).json()
    assert links["datasets"] == stack.nginx.url + "datasets/"
    assert links and all(url.startswith(stack.nginx.url) for url in links.values()), links
    assert httpx.get(stack.nginx.url + "healthcheck/").status_code == 200
    # The same server also mounts the API at its root (no prefix) ...
    root = httpx.get(stack.nginx.root_url).json()
    assert root["datasets"] == stack.nginx.root_url + "datasets/"
    # A prefix or host sent by the client is replaced by nginx's own, not trusted.
    spoof = {"X-Forwarded-Prefix": "/evil", "X-Forwarded-Host": "evil.example"}
    assert httpx.get(stack.nginx.root_url, headers=spoof).json() == root
    assert httpx.get(stack.nginx.url, headers=spoof).json() == links
    # ... while gunicorn reached directly names itself: the URLs come from X-Forwarded-*.
    assert httpx.get(stack.app.url).json()["datasets"] == stack.app.url + "datasets/"


def test_next_and_previous_carry_the_prefix_and_the_nginx_address(stack):
    keys = stack.user("pager")
    for name in ("D1", "D2", "D3"):
        _dataset(stack, keys, name)
    first = httpx.get(stack.nginx.url + "datasets/?page_size=2", headers=key(keys)).json()
    assert first["count"] == 3 and len(first["results"]) == 2
    next_url = urlsplit(first["next"])
    assert first["next"].startswith(stack.nginx.url + "datasets/?")
    assert parse_qs(next_url.query) == {"page_size": ["2"], "page": ["2"]}
    second = httpx.get(first["next"], headers=key(keys)).json()
    assert [d["name"] for d in second["results"]] == ["D3"] and second["next"] is None
    assert second["previous"].startswith(stack.nginx.url + "datasets/?")


def test_upload_through_nginx_answers_a_file_url_under_the_prefix(stack, uploaded):
    response = uploaded["response"]
    assert response.status_code == 201, response.text
    datafile = response.json()
    assert datafile["file"] == f"{stack.nginx.url}datafiles/{datafile['id']}/file/"
    assert datafile["checksum"] == hashlib.sha256(uploaded["content"]).hexdigest()
    assert datafile["format"] == "fits" and datafile["observation"]


def test_download_is_sent_by_nginx_with_range(stack, uploaded):
    keys, content = uploaded["keys"], uploaded["content"]
    file_url = uploaded["response"].json()["file"]
    assert _accel_path(stack, keys, file_url).startswith("/protected/")

    whole = httpx.get(file_url, headers=key(keys))
    assert whole.status_code == 200 and whole.content == content
    assert "X-Accel-Redirect" not in whole.headers
    assert whole.headers["Server"].startswith("nginx")
    assert whole.headers["Content-Type"] == "image/fits"
    assert 'filename="m31.fits"' in whole.headers["Content-Disposition"]
    assert whole.headers["Accept-Ranges"] == "bytes"

    part = httpx.get(file_url, headers={**key(keys), "Range": "bytes=10-99"})
    assert part.status_code == 206 and part.content == content[10:100]
    assert part.headers["Content-Range"] == f"bytes 10-99/{len(content)}"


def test_upload_key_cannot_download_through_nginx(stack, uploaded):
    file_url = uploaded["response"].json()["file"]
    refused = httpx.get(file_url, headers=key(uploaded["keys"], "upload_key"))
    assert refused.status_code == 403
    assert "detail" in refused.json()  # the app's answer: nginx sent no file


def test_protected_location_is_internal(stack, uploaded):
    accel = _accel_path(stack, uploaded["keys"], uploaded["response"].json()["file"])
    outside = httpx.get(stack.nginx.root_url + accel.lstrip("/"))
    assert outside.status_code == 404 and uploaded["content"] not in outside.content
    # Under the prefix the path goes to the app, which has no such route.
    assert httpx.get(stack.nginx.url + accel.lstrip("/")).status_code == 404


class PausingReader:
    """A file handle that stops halfway for a while, looking for the app's part file.

    With proxy_request_buffering on (the example's), nginx holds the whole body before
    calling gunicorn, so no part file may appear while the client is still sending.
    """

    def __init__(self, handle, parts_dir: Path, pause_at: int) -> None:
        self.handle, self.parts_dir, self.pause_at = handle, parts_dir, pause_at
        self.paused = False
        self.app_had_bytes_midway = False

    def read(self, size: int = -1) -> bytes:
        if not self.paused and self.handle.tell() >= self.pause_at:
            self.paused = True
            self.app_had_bytes_midway = self._wait_for_part_file(timeout=2)
        return self.handle.read(size)

    def _wait_for_part_file(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sizes = [p.stat().st_size for p in self.parts_dir.glob("upload-*.part")]
            if any(size >= MB for size in sizes):
                return True
            time.sleep(0.05)
        return False

    def fileno(self) -> int:
        return self.handle.fileno()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()


def test_large_upload_is_buffered_by_nginx_then_stored_whole(stack, tmp_path):
    keys = stack.user("big")
    dataset = _dataset(stack, keys, "Big")
    path = tmp_path / "big.bin"
    with path.open("wb") as out:
        for _ in range(20):
            out.write(os.urandom(MB))
    checksum = hashlib.sha256(path.read_bytes()).hexdigest()
    with path.open("rb") as handle:
        reader = PausingReader(handle, stack.files_dir / ".tmp", pause_at=10 * MB)
        response = httpx.post(
            stack.nginx.url + "datafiles/",
            data={"dataset": dataset["uuid"]},
            files={"file": ("big.bin", reader)},
            headers=key(keys, "upload_key"),
            timeout=60,
        )
    assert response.status_code == 201, response.text
    assert not reader.app_had_bytes_midway, "nginx streamed the upload instead of buffering it"
    datafile = response.json()
    assert datafile["size"] == 20 * MB and datafile["checksum"] == checksum
    digest = hashlib.sha256()
    with httpx.stream("GET", datafile["file"], headers=key(keys), timeout=60) as download:
        assert download.status_code == 200 and "X-Accel-Redirect" not in download.headers
        for chunk in download.iter_bytes():
            digest.update(chunk)
    assert digest.hexdigest() == checksum


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.mark.skipif(
    os.geteuid() != 0 or not _has_user("www-data"),
    reason="needs root and a www-data user to run nginx's workers as www-data",
)
def test_nginx_workers_of_another_user_can_read_stored_files():
    # Debian's nginx runs its workers as www-data, not as gunicorn's user: stored files
    # must be readable by others (storage.FILE_MODE), or every download is nginx's 403.
    # A folder outside pytest's 0700 tree, so that only the files' own modes matter.
    tmp = Path(tempfile.mkdtemp(prefix="arcsec-nginx-"))
    try:
        tmp.chmod(0o755)
        stacks = _run_stack(tmp, user="www-data")
        stack = next(stacks)
        try:
            keys = stack.user("wwwdata")
            dataset = _dataset(stack, keys, "D")
            created = httpx.post(
                stack.nginx.url + "datafiles/",
                data={"dataset": dataset["uuid"]},
                files={"file": ("notes.txt", b"clear skies")},
                headers=key(keys, "upload_key"),
            )
            assert created.status_code == 201, created.text
            download = httpx.get(created.json()["file"], headers=key(keys))
            assert download.status_code == 200, stack.nginx.error_log()
            assert download.content == b"clear skies"
        finally:
            stacks.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
