"""Real servers for tests: gunicorn on a free loopback port, and the arcsecond client."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CLIENT_VERSION = "4.5.0"
CLIENT_VENV = ROOT / ".cache" / f"arcsecond-{CLIENT_VERSION}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    data_dir: Path
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def new_user(self, username: str) -> dict[str, str]:
        """A new account: {"username", "api_key", "upload_key"}, from the real CLI."""
        return json.loads(self.admin("users", "create", username, "--json"))

    def admin(self, *args: str) -> str:
        """Run an `arcsec-flask` command against this server's data folder."""
        return subprocess.run(
            [str(BIN / "arcsec-flask"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout


LISTENING = re.compile(rb"Listening at: http://127\.0\.0\.1:(\d+)")


def start_gunicorn(
    data_dir: Path,
    workers: int = 2,
    extra_env: dict | None = None,
    app: str = "wsgi:app",
    extra_args: tuple[str, ...] = (),
) -> Server:
    """gunicorn on a port the kernel picks (bound to :0, read back from the log): no race
    with another process for a port probed free a moment before. `app`: another WSGI
    app to serve the same way (a benchmark's baseline); `extra_args`: more options."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ARCSEC_DATA_DIR": str(data_dir), **(extra_env or {})}
    log = Path(tempfile.mkstemp(dir=data_dir.parent, prefix="gunicorn-", suffix=".log")[1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--bind",
                "127.0.0.1:0",
                "--workers",
                str(workers),
                # As `make run`: threads, so a slow upload does not hold a whole worker.
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "--timeout",
                "120",
                "--graceful-timeout",
                "5",
                # Tests run several servers: none may take another's control socket.
                "--no-control-socket",
                *extra_args,
                app,
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    found = None
    while found is None and time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{log.read_text()}")
        found = LISTENING.search(log.read_bytes())
        time.sleep(0.05)
    if found is None:
        process.kill()
        raise RuntimeError(f"gunicorn did not listen in 30 s:\n{log.read_text()}")
    server = Server(f"http://127.0.0.1:{int(found[1])}/", process, data_dir, log, env)
    if wait_healthy(server.url, process, deadline, log.read_text):
        return server
    server.stop()
    raise RuntimeError(f"gunicorn did not answer in 30 s:\n{log.read_text()}")


def wait_healthy(url: str, process: subprocess.Popen, deadline: float, output) -> bool:
    """Poll `url`healthcheck/ until it answers 200 (True) or `deadline` passes (False).
    A process that exits meanwhile is an error showing `output()`."""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{Path(process.args[0]).name} exited:\n{output()}")
        try:
            if httpx.get(url + "healthcheck/", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return False


def install_client() -> Path:
    """The real `arcsecond` client in its own venv, installed once and kept in .cache/.

    The package declares Python 3.12 but runs on 3.11, hence --ignore-requires-python.
    """
    exe = CLIENT_VENV / "bin" / "arcsecond"
    if exe.exists():
        return exe
    subprocess.run([sys.executable, "-m", "venv", str(CLIENT_VENV)], check=True, timeout=120)
    subprocess.run(
        [
            str(CLIENT_VENV / "bin" / "pip"),
            "install",
            "--quiet",
            "--ignore-requires-python",
            f"arcsecond=={CLIENT_VERSION}",
        ],
        check=True,
        timeout=600,
    )
    return exe


@dataclass
class Client:
    """The arcsecond CLI with its own HOME, so its config stays in the test's folder."""

    exe: Path
    home: Path

    def run(self, *args: str, stdin: str = "", timeout: float = 300) -> subprocess.CompletedProcess:
        env = {
            "HOME": str(self.home),
            "PATH": f"{self.exe.parent}:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "NO_COLOR": "1",
        }
        return subprocess.run(
            [str(self.exe), *args],
            input=stdin,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def python(self, script: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run `script` with the client's own Python (its `arcsecond` module), same HOME."""
        env = {"HOME": str(self.home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        return subprocess.run(
            [str(self.exe.parent / "python"), "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def config_text(self) -> str:
        files = list(self.home.rglob("config.ini"))
        return "".join(f.read_text() for f in files)
