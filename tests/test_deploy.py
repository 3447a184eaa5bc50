"""deploy/: the systemd units pass `systemd-analyze verify`, gunicorn.conf.py is a config
gunicorn accepts and serves with, and the units' promises (paths, timeouts, no writable
executable memory) hold."""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import runpy
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.factories import write_fits
from tests.support.servers import BIN, ROOT, Server, free_port, wait_healthy

DEPLOY = ROOT / "deploy"
CONFIG = DEPLOY / "gunicorn.conf.py"
INSTALL = "/opt/arcsec-flask"
UNITS = ["arcsec-flask.service", "arcsec-flask-watch.service"]
HEADER = "X-Arcsecond-API-Authorization"
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1


def unit(name: str) -> dict[str, list[str]]:
    """The unit's settings, every value of a repeated key kept in order."""
    settings: dict[str, list[str]] = {}
    for line in (DEPLOY / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


@pytest.mark.parametrize("name", UNITS)
def test_units_pass_systemd_analyze_verify(name, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is missing (Debian: apt-get install systemd)")
    # verify checks that each Exec*= program exists: point the install folder at this
    # checkout, whose venv has gunicorn and arcsec-flask. Nothing else is changed.
    copy = tmp_path / name
    copy.write_text((DEPLOY / name).read_text().replace(INSTALL, str(ROOT)))
    done = subprocess.run(
        [analyze, "verify", "--man=no", str(copy)], capture_output=True, text=True, timeout=60
    )
    # verify exits 0 on an unknown key or a value it cannot parse, only warning about it:
    # any output about the unit is a failure.
    assert done.returncode == 0, done.stderr
    assert name not in done.stderr + done.stdout, done.stderr + done.stdout


def test_the_nightly_backup_units_of_the_docs_pass_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is missing (Debian: apt-get install systemd)")
    doc = (ROOT / "docs" / "operations.md").read_text()
    service, timer = re.findall(r"```ini\n(.*?)```", doc, re.S)
    # The script the service runs is the operator's: any existing program stands for it.
    script = "/usr/local/sbin/arcsec-flask-backup"
    assert f"ExecStart={script}" in service and f"`{script}`" in doc
    (tmp_path / "arcsec-flask-backup.service").write_text(service.replace(script, "/bin/true"))
    (tmp_path / "arcsec-flask-backup.timer").write_text(timer)
    done = subprocess.run(
        [analyze, "verify", "--man=no", *map(str, sorted(tmp_path.iterdir()))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "arcsec" not in done.stderr + done.stdout, done.stderr


def test_units_agree_with_each_other_and_with_the_gunicorn_config():
    server, watch = unit(UNITS[0]), unit(UNITS[1])
    for settings in (server, watch):
        data_dir = next(v for v in settings["Environment"] if v.startswith("ARCSEC_DATA_DIR="))
        assert settings["ReadWritePaths"] == [data_dir.split("=", 1)[1]]
        assert settings["User"] == ["arcsec"] and settings["UMask"] == ["0027"]
        assert settings["ExecStartPre"] == [f"{INSTALL}/.venv/bin/arcsec-flask init-db"]
        # Migrations may outlast systemd's 90 s default start timeout on a large archive.
        assert settings["TimeoutStartSec"] == ["infinity"]
        assert settings["WorkingDirectory"] == [INSTALL]
    gunicorn, option, config = shlex.split(server["ExecStart"][0])
    assert (gunicorn, option) == (f"{INSTALL}/.venv/bin/gunicorn", "-c")
    assert ROOT / Path(config).relative_to(INSTALL) == CONFIG
    # The unit waits longer on stop than gunicorn lets requests finish.
    graceful = runpy.run_path(str(CONFIG))["graceful_timeout"]
    assert int(server["TimeoutStopSec"][0].removesuffix("s")) > graceful
    command = shlex.split(watch["ExecStart"][0])
    assert command[:2] == [f"{INSTALL}/.venv/bin/arcsec-flask", "watch"]
    assert command[3::2] == ["--dataset", "--user"] and len(command) == 7
    assert watch["ReadOnlyPaths"] == [command[2]]


def test_gunicorn_accepts_the_config(tmp_path):
    done = subprocess.run(
        [str(BIN / "gunicorn"), "--check-config", "-c", str(CONFIG), "wsgi:app"],
        cwd=ROOT,
        env={**os.environ, "ARCSEC_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_gunicorn_serves_with_the_config_and_tells_systemd_it_is_ready(tmp_path):
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(30)
    runtime = tmp_path / "run"  # what RuntimeDirectory= makes and announces
    runtime.mkdir()
    server = start(
        tmp_path, {"NOTIFY_SOCKET": str(tmp_path / "notify"), "RUNTIME_DIRECTORY": str(runtime)}
    )
    try:
        assert httpx.get(server.url + "healthcheck/").status_code == 200
        assert b"READY=1" in notify.recv(4096)  # Type=notify
        assert (runtime / "gunicorn.ctl").is_socket()
        deadline = time.monotonic() + 10
        while b"/healthcheck/" not in server.log.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        line = next(x for x in server.log.read_text().splitlines() if "/healthcheck/" in x)
        assert '"GET /healthcheck/ HTTP/1.1" 200' in line
        assert line.endswith("s") and float(line.rsplit(" ", 1)[1][:-1]) < 10  # request time
    finally:
        server.stop()
        notify.close()
    assert server.process.returncode == 0  # SIGTERM: a graceful stop, not a failure


def mdwe_supported() -> bool:
    done = subprocess.run(
        [sys.executable, "-c", "import sys"], preexec_fn=deny_write_execute, capture_output=True
    )
    return done.returncode == 0


def deny_write_execute() -> None:
    """The kernel's switch behind MemoryDenyWriteExecute= (prctl PR_SET_MDWE, Linux 6.3),
    kept across fork and exec: no mapping may be writable and executable, ever."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_MDWE)")


def test_the_server_and_the_watcher_run_without_writable_executable_memory(tmp_path):
    if not mdwe_supported():
        pytest.skip("the kernel has no PR_SET_MDWE (Linux >= 6.3)")
    probe = "import mmap; mmap.mmap(-1, 4096, prot=7)"  # PROT_READ | WRITE | EXEC
    refused = subprocess.run([sys.executable, "-c", probe], preexec_fn=deny_write_execute)
    assert refused.returncode != 0  # the switch is on: the rest of the test means something

    # The watcher's stack: watchdog's inotify through ctypes.
    watcher = (
        "import sys, time, pathlib\n"
        "from watchdog.observers import Observer\n"
        "from watchdog.events import FileSystemEventHandler\n"
        "seen = []\n"
        "class H(FileSystemEventHandler):\n"
        "    def on_closed(self, e): seen.append(e.src_path)\n"
        "o = Observer(); o.schedule(H(), sys.argv[1]); o.start()\n"
        "pathlib.Path(sys.argv[1], 'frame.fits').write_bytes(b'x')\n"
        "t = time.monotonic() + 10\n"
        "while not seen and time.monotonic() < t: time.sleep(0.05)\n"
        "o.stop(); o.join(); assert seen, 'no event'\n"
    )
    (tmp_path / "incoming").mkdir()
    watched = subprocess.run(
        [sys.executable, "-c", watcher, str(tmp_path / "incoming")],
        preexec_fn=deny_write_execute,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert watched.returncode == 0, watched.stderr

    # The server's: gunicorn, the app, astropy reading an uploaded frame's header.
    server = start(tmp_path, {}, preexec_fn=deny_write_execute)
    try:
        keys = server.new_user("uma")
        api, upload = ({HEADER: f"Key {keys[k]}"} for k in ("api_key", "upload_key"))
        dataset = httpx.post(server.url + "datasets/", json={"name": "n"}, headers=api).json()
        frame = write_fits(tmp_path / "m31.fits", {"IMAGETYP": "LIGHT", "OBJECT": "M31"})
        sent = httpx.post(
            server.url + "datafiles/",
            data={"dataset": dataset["uuid"]},
            files={"file": (frame.name, frame.read_bytes())},
            headers=upload,
            timeout=30,
        )
        assert sent.status_code == 201, sent.text
        assert sent.json()["header_status"] == "read", sent.json()  # by astropy, in the worker
        header = httpx.get(f"{server.url}datafiles/{sent.json()['id']}/header/", headers=api)
        assert "M31" in header.text
        got = httpx.get(f"{server.url}datafiles/{sent.json()['id']}/file/", headers=api)
        assert hashlib.sha256(got.content).digest() == hashlib.sha256(frame.read_bytes()).digest()
    finally:
        server.stop()
    assert "Permission denied" not in server.log.read_text()


def start(tmp_path: Path, extra_env: dict[str, str], preexec_fn=None) -> Server:
    """gunicorn started as the unit starts it: `gunicorn -c deploy/gunicorn.conf.py`, from
    another folder (the config finds wsgi.py itself), settings from the environment."""
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "ARCSEC_DATA_DIR": str(data_dir),
        "GUNICORN_BIND": f"127.0.0.1:{free_port()}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_GRACEFUL_TIMEOUT": "5",
        **extra_env,
    }
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", str(CONFIG)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec_fn,
        )
    url = f"http://{env['GUNICORN_BIND']}/"
    server = Server(url, process, data_dir, log, env)
    if not wait_healthy(url, process, time.monotonic() + 30, log.read_text):
        server.stop()
        raise RuntimeError(f"gunicorn did not answer in 30 s:\n{log.read_text()}")
    return server
