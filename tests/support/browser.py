"""A real headless Chromium driven through its DevTools protocol, for the browser tests.

Over --remote-debugging-pipe (JSON messages ending in NUL on file descriptors 3 and 4): no
browser hub, no websocket package, no debugging port open on the machine. Chromium resolves
no host name but 127.0.0.1 (--host-resolver-rules): a page that needs the internet breaks.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium")
SKIP_REASON = "needs Chromium (Debian package `chromium`, which .ci/run installs)"
TIMEOUT = 20.0  # seconds for any one browser step

# Runs in the child: puts the pipe ends on fds 3 and 4, where Chromium expects them.
# (A shell cannot do it reliably: dash only knows fds 0-9.)
_ON_FDS_3_AND_4 = (
    "import os, sys\n"
    "r, w = int(sys.argv[1]), int(sys.argv[2])\n"
    "os.dup2(r, 3); os.dup2(w, 4); os.close(r); os.close(w)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


class Chromium:
    """Just enough of the DevTools protocol for one page."""

    def __init__(self, folder: Path, extra_args: Sequence[str] = ()) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # Above 9 so that the child's dup2 onto 3 and 4 never overwrites one of them.
        child_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD_CLOEXEC, 10)
        for fd in (to_chrome_r, from_chrome_w):
            os.close(fd)
        command = [
            str(CHROMIUM),
            "--headless=new",
            "--no-sandbox",  # the tests may run as root in a container
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--no-proxy-server",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1200,900",
            # Offline: any host but the test server fails to resolve.
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            *extra_args,
            f"--user-data-dir={folder / 'profile'}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self._log = (folder / "chromium.log").open("wb")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _ON_FDS_3_AND_4, str(child_r), str(child_w), *command],
                pass_fds=(child_r, child_w),
                env={**os.environ, "HOME": str(folder)},
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=self._log,
                start_new_session=True,  # its own process group: we can stop all its children
            )
        finally:
            os.close(child_r)
            os.close(child_w)
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self._next_id = 0
        self.session: str | None = None

    def call(self, method: str, params: dict | None = None, browser: bool = False) -> dict:
        """Send one command (to the page unless `browser`) and wait for its answer."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session and not browser:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        answer = self._receive(lambda m: m.get("id") == self._next_id, f"an answer to {method}")
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def wait_for(self, event: str) -> dict:
        for index, message in enumerate(self._events):
            if message["method"] == event:
                return self._events.pop(index)
        return self._receive(lambda m: m.get("method") == event, event)

    def forget(self, event: str) -> None:
        self._events = [m for m in self._events if m["method"] != event]

    def events(self, *methods: str) -> list[dict[str, Any]]:
        """The params of the events of these kinds received so far (taken out of the
        buffer), after a round trip so that those sent before it have arrived."""
        self.evaluate("0")
        found = [m["params"] for m in self._events if m["method"] in methods]
        self._events = [m for m in self._events if m["method"] not in methods]
        return found

    def _receive(self, wanted, what: str) -> dict:
        deadline = time.monotonic() + TIMEOUT
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if wanted(message):
                    return message
                if "method" in message:
                    self._events.append(message)
            left = deadline - time.monotonic()
            readable, _, _ = select.select([self._from_chrome], [], [], max(left, 0))
            if not readable:
                raise TimeoutError(f"Chromium sent no {what} within {TIMEOUT} s")
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError(f"Chromium closed the pipe (exit {self.process.poll()})")
            self._buffer += chunk

    def open_page(self) -> None:
        target = self.call("Target.createTarget", {"url": "about:blank"}, browser=True)
        attached = self.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, True
        )
        self.session = attached["sessionId"]
        self.call("Page.enable")

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def load(self, action: str, **params: Any) -> None:
        """Run a navigating command or script, then wait until the new page has loaded."""
        self.forget("Page.loadEventFired")
        if action.startswith("Page."):
            self.call(action, params)
        else:
            self.evaluate(action)
        self.wait_for("Page.loadEventFired")

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                self.call("Browser.close", browser=True)
                self.process.wait(timeout=10)
        except (OSError, RuntimeError, TimeoutError, subprocess.TimeoutExpired):
            pass
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            for fd in (self._to_chrome, self._from_chrome):
                os.close(fd)
            self._log.close()


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", data[16:24])


def screenshot(browser: Chromium, path: Path) -> bytes:
    """The page as a PNG, saved at `path`."""
    shot = base64.b64decode(browser.call("Page.captureScreenshot", {"format": "png"})["data"])
    path.write_bytes(shot)
    return shot


def log_in(browser: Chromium, url: str, username: str, password: str) -> None:
    """Through the login page, as a person would: fill in the form and submit it."""
    browser.load("Page.navigate", url=url + "auth/login/")
    assert browser.evaluate("document.title").startswith("Log in")
    browser.load(
        f"document.querySelector('#username').value = {json.dumps(username)};"
        f"document.querySelector('#password').value = {json.dumps(password)};"
        "document.querySelector('main button[type=submit]').click();"
    )
    assert browser.evaluate("location.href") == url


@contextmanager
def started(folder: Path) -> Iterator[Chromium]:
    """A Chromium with one page open, closed (all its processes) on the way out."""
    browser = Chromium(folder)
    try:
        browser.open_page()
        yield browser
    finally:
        browser.close()
