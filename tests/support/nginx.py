"""A real nginx for tests, running deploy/nginx.conf.example in front of a gunicorn.

The site file is the documented example itself, with its gunicorn address, data folder,
listen address and log paths substituted, so the tests check what the deployment notes
promise. Everything nginx writes (pid, logs, temporary bodies) stays in the test's folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.servers import ROOT, free_port, wait_healthy

EXAMPLE = ROOT / "deploy" / "nginx.conf.example"


def nginx_binary() -> str | None:
    """nginx on PATH, else Debian's /usr/sbin/nginx (not on a non-root user's PATH)."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


SKIP_REASON = "nginx is not installed (apt-get install nginx; .ci/run installs it)"

MAIN_CONF = """\
{user}daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;

events {{
    # Each proxied request takes two (client and gunicorn): room for 40 slow uploads and
    # more (Debian's nginx.conf has 768).
    worker_connections 256;
}}

http {{
    default_type application/octet-stream;
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body_temp;
    proxy_temp_path {tmp}/proxy_temp;
    fastcgi_temp_path {tmp}/fastcgi_temp;
    uwsgi_temp_path {tmp}/uwsgi_temp;
    scgi_temp_path {tmp}/scgi_temp;

    include {tmp}/site.conf;
}}
"""


@dataclass
class Nginx:
    url: str  # e.g. http://127.0.0.1:PORT/api/
    root_url: str  # the same server, http://127.0.0.1:PORT/
    process: subprocess.Popen
    tmp_dir: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGTERM: the master stops its workers, then exits.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def error_log(self) -> str:
        path = self.tmp_dir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


def site_config(
    upstream: str, listen_port: int, files_dir: Path, logs: Path, prefix: str, body_temp: Path
) -> str:
    """The example site, pointed at `upstream` (host:port), `files_dir` and `body_temp`
    (the folder where nginx spools request bodies)."""
    text = EXAMPLE.read_text()
    substitutions = [
        ("server 127.0.0.1:8000;", f"server {upstream};"),
        ("listen 80;", f"listen 127.0.0.1:{listen_port};"),
        ("alias /srv/arcsec/instance/files/;", f"alias {files_dir}/;"),
        (
            "client_body_temp_path /srv/arcsec/instance/nginx-body;",
            f"client_body_temp_path {body_temp};",
        ),
        ("/var/log/nginx/arcsec.access.log", str(logs / "access.log")),
        ("/var/log/nginx/arcsec.error.log", str(logs / "error.log")),
        ("location /api/ {", f"location {prefix}/ {{"),
        ("X-Forwarded-Prefix /api;", f"X-Forwarded-Prefix {prefix};"),
    ]
    for old, new in substitutions:
        # Exactly once: if the example changes shape, this says where, not the tests.
        assert text.count(old) == 1, f"{EXAMPLE.name}: expected one {old!r}"
        text = text.replace(old, new)
    return text


def start_nginx(
    tmp_dir: Path,
    upstream_url: str,
    files_dir: Path,
    prefix: str = "/api",
    user: str | None = None,
    body_temp: Path | None = None,
    request_buffering: bool = True,
) -> Nginx:
    """nginx on a free loopback port, proxying to `upstream_url`; `.url` ends in `prefix`/.

    `body_temp`: where nginx spools request bodies (default: in `tmp_dir`); nginx makes
    the folder itself, its parent must exist (a small tmpfs, to fill it up).
    `request_buffering` False: the example's streaming variant (`proxy_request_buffering
    off` in its locations), which bench/upload_nginx.py compares.

    `user`: the workers' user when started as root (default root itself: as `nobody` they
    could not enter pytest's 0700 folders). Ignored otherwise.
    """
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError(SKIP_REASON)
    prefix = "/" + prefix.strip("/")
    assert prefix != "/", "the example mounts the root already; give a prefix such as /api"
    tmp_dir = Path(tmp_dir).absolute()
    tmp_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    upstream = urlsplit(upstream_url).netloc
    body_temp = Path(body_temp or tmp_dir / "client_body_temp").absolute()
    site = site_config(upstream, port, Path(files_dir).absolute(), tmp_dir, prefix, body_temp)
    if not request_buffering:
        assert site.count("proxy_request_buffering on;") == 2, "one in each location"
        site = site.replace("proxy_request_buffering on;", "proxy_request_buffering off;")
    (tmp_dir / "site.conf").write_text(site)
    user_line = f"user {user or 'root'};\n" if os.geteuid() == 0 else ""
    conf = tmp_dir / "nginx.conf"
    conf.write_text(MAIN_CONF.format(user=user_line, tmp=tmp_dir))
    command = [binary, "-p", f"{tmp_dir}/", "-c", str(conf), "-e", str(tmp_dir / "error.log")]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t refused the configuration:\n{check.stderr}")
    out = tmp_dir / "nginx.out"
    with out.open("wb") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
    root_url = f"http://127.0.0.1:{port}/"
    nginx = Nginx(f"http://127.0.0.1:{port}{prefix}/", root_url, process, tmp_dir)
    deadline = time.monotonic() + 15
    if wait_healthy(nginx.url, process, deadline, lambda: out.read_text() + nginx.error_log()):
        return nginx
    nginx.stop()
    raise RuntimeError(f"nginx did not answer in 15 s:\n{nginx.error_log()}")
