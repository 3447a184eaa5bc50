"""The checksum progress bar of `arcsec-flask check --verify-checksums`: shown on a
terminal (a real pseudo-terminal), absent when stderr is a pipe or a file."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
import time

from .helpers import BIN, env_for, make_user, run, small_frame


def _store(tmp_path):
    data_dir = tmp_path / "data"
    for i in range(3):
        small_frame(tmp_path / "night" / f"f{i}.fits", i)
    make_user(data_dir)
    done = run(data_dir, "ingest", tmp_path / "night", "--dataset", "D", "--user", "alice")
    assert done.returncode == 0, done.stderr
    return data_dir


def test_a_bar_on_a_terminal_none_in_a_pipe(tmp_path):
    data_dir = _store(tmp_path)
    piped = run(data_dir, "check", "--verify-checksums")
    assert piped.returncode == 0 and piped.stderr == ""
    leader, follower = pty.openpty()
    # 24 x 100, as a real terminal has (a new pty is 0 x 0: the bar would be empty).
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        process = subprocess.Popen(
            [BIN, "check", "--verify-checksums"],
            env=env_for(data_dir),
            stdout=subprocess.DEVNULL,
            stderr=follower,
        )
        os.close(follower)
        shown = b""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                piece = os.read(leader, 4096)
            except OSError:  # the terminal closed: the command ended
                break
            if not piece:
                break
            shown += piece
        assert process.wait(timeout=60) == 0
    finally:
        os.close(leader)
    text = shown.decode(errors="replace")
    assert "sha256" in text and "100%" in text, text
