"""What holds secrets is private (issue 11): the SQLite file (key and password hashes),
its -wal and -shm, backups and the data folder are readable by their owner only; and a
password is not put on the command line of `users create`."""

from __future__ import annotations

import json
import os
import pty
import select
import stat
import subprocess
import time
from pathlib import Path

import pytest
from werkzeug.security import check_password_hash

from arcsec_flask import create_app
from arcsec_flask.repo import accounts
from arcsec_flask.repo.sqlite import connect
from tests.support.servers import BIN


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask():
    """The usual umask of a server account (022): what SQLite and mkdir would then give."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_database_its_wal_and_shm_and_the_data_folder_are_private(tmp_path, loose_umask):
    data = tmp_path / "data"
    app = create_app({"DATA_DIR": str(data)})
    database = Path(app.config["DATABASE"])
    conn = connect(database)  # as a worker does: WAL, with a write in flight
    accounts.create(conn, "alice", "a@example.org", None)
    assert Path(f"{database}-wal").exists() and Path(f"{database}-shm").exists()
    assert mode(database) == 0o600
    assert mode(Path(f"{database}-wal")) == 0o600
    assert mode(Path(f"{database}-shm")) == 0o600
    assert mode(data) == 0o700
    assert mode(data / "secret_key") == 0o600
    conn.close()


def test_an_old_world_readable_database_is_made_private(tmp_path, loose_umask):
    database = tmp_path / "old.sqlite3"
    import sqlite3

    sqlite3.connect(database).execute("CREATE TABLE t (x)").connection.close()
    os.chmod(database, 0o644)
    connect(database).close()
    assert mode(database) == 0o600


def test_with_x_accel_redirect_nginx_may_pass_through_the_data_folder(tmp_path, loose_umask):
    data = tmp_path / "data"
    create_app({"DATA_DIR": str(data), "X_ACCEL_REDIRECT": "/protected/"})
    assert mode(data) == 0o711  # entered on the way to files/, never listed


def test_backups_are_private(tmp_path, loose_umask):
    data = tmp_path / "data"
    env = {**os.environ, "ARCSEC_DATA_DIR": str(data)}
    run = [str(BIN / "arcsec-flask")]
    subprocess.run([*run, "users", "create", "alice", "--json"], env=env, check=True, timeout=60)
    dest = tmp_path / "backups" / "b1"
    done = subprocess.run(
        [*run, "backup", str(dest)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert mode(dest) == 0o700
    assert mode(dest / "arcsec.sqlite3") == 0o600  # key and password hashes
    assert mode(dest / "secret_key") == 0o600


def _admin(data: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "ARCSEC_DATA_DIR": str(data)}
    return subprocess.run(
        [str(BIN / "arcsec-flask"), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _password_hash(data: Path, username: str) -> str | None:
    conn = connect(data / "arcsec.sqlite3")
    try:
        return accounts.get_by_username(conn, username)["password_hash"]
    finally:
        conn.close()


def test_password_option_still_works_but_warns(tmp_path):
    done = _admin(tmp_path, "users", "create", "alice", "--password", "s3cret", "--json")
    assert done.returncode == 0, done.stderr
    assert "shell history" in done.stderr
    assert json.loads(done.stdout)["username"] == "alice"  # the JSON stays clean
    assert check_password_hash(_password_hash(tmp_path, "alice"), "s3cret")


def test_password_from_a_file_or_stdin(tmp_path):
    secret = tmp_path / "pw.txt"
    secret.write_text("from a file\n")
    secret.chmod(0o600)
    done = _admin(tmp_path, "users", "create", "alice", "--password-file", str(secret))
    assert done.returncode == 0 and "shell history" not in done.stderr, done.stderr
    assert check_password_hash(_password_hash(tmp_path, "alice"), "from a file")
    piped = _admin(tmp_path, "users", "create", "bob", "--password-file", "-", stdin="piped\n")
    assert piped.returncode == 0, piped.stderr
    assert check_password_hash(_password_hash(tmp_path, "bob"), "piped")
    both = _admin(tmp_path, "users", "create", "eve", "--password", "x", "--password-file", "-")
    assert both.returncode != 0 and "not both" in both.stderr


def test_without_a_terminal_no_password_is_asked_for(tmp_path):
    done = _admin(tmp_path, "users", "create", "alice", "--json", stdin="")
    assert done.returncode == 0, done.stderr
    assert _password_hash(tmp_path, "alice") is None


def _converse(command: list[str], env: dict, answers: list[tuple[bytes, bytes]]) -> bytes:
    """Run `command` on a pseudo-terminal; for each (prompt, answer), wait for the prompt
    and type the answer. Returns everything the terminal showed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        command, stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True
    )
    os.close(follower)
    seen = b""
    pending = list(answers)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break  # the command ended
            if not chunk:
                break
            seen += chunk
        if pending and pending[0][0] in seen.split(b"\n")[-1]:
            os.write(leader, pending.pop(0)[1])
        if process.poll() is not None and not ready:
            break
    process.wait(timeout=10)
    os.close(leader)
    assert not pending, seen
    return seen


def test_on_a_terminal_the_password_is_asked_for_hidden_and_twice(tmp_path):
    env = {**os.environ, "ARCSEC_DATA_DIR": str(tmp_path)}
    command = [str(BIN / "arcsec-flask"), "users", "create", "alice"]
    seen = _converse(
        command,
        env,
        [
            (b"Password (empty for none):", b"typed pw\n"),
            (b"Repeat for confirmation:", b"typed pw\n"),
        ],
    )
    assert b"typed pw" not in seen  # hidden: never echoed
    assert b"API key:" in seen
    assert check_password_hash(_password_hash(tmp_path, "alice"), "typed pw")


def test_on_a_terminal_two_different_answers_are_asked_again(tmp_path):
    env = {**os.environ, "ARCSEC_DATA_DIR": str(tmp_path)}
    command = [str(BIN / "arcsec-flask"), "users", "create", "alice"]
    seen = _converse(
        command,
        env,
        [
            (b"Password (empty for none):", b"one\n"),
            (b"Repeat for confirmation:", b"two\n"),
            (b"Password (empty for none):", b"three\n"),
            (b"Repeat for confirmation:", b"three\n"),
        ],
    )
    assert b"do not match" in seen
    assert check_password_hash(_password_hash(tmp_path, "alice"), "three")
