"""The arcsec-flask administration commands and their failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from arcsec_flask.domain.keys import hash_key
from arcsec_flask.repo import accounts, organisations


@pytest.fixture
def runner(app):
    return (
        app.test_cli_runner(mix_stderr=False) if _mix_stderr_supported() else app.test_cli_runner()
    )


def _mix_stderr_supported() -> bool:
    import inspect

    from click.testing import CliRunner

    return "mix_stderr" in inspect.signature(CliRunner.__init__).parameters


def test_users_create_json_prints_only_the_keys(runner, db):
    result = runner.invoke(args=["users", "create", "alice", "--email", "a@x.org", "--json"])
    assert result.exit_code == 0, result.output
    keys = json.loads(result.stdout)
    assert set(keys) == {"username", "api_key", "upload_key"}
    assert len(keys["api_key"]) >= 32 and len(keys["upload_key"]) >= 32
    assert accounts.find_by_key(db, keys["api_key"])["scope"] == "api"
    assert accounts.find_by_key(db, keys["upload_key"])["scope"] == "upload"
    # Only hashes are stored.
    stored = [r[0] for r in db.execute("SELECT key_hash FROM api_keys")]
    assert keys["api_key"] not in stored and hash_key(keys["api_key"]) in stored


def test_users_create_with_password_hashes_it(runner, db):
    result = runner.invoke(args=["users", "create", "alice", "--password", "s3cret"])
    assert result.exit_code == 0
    assert "API key:" in result.output and "Upload key:" in result.output
    stored = accounts.get_by_username(db, "alice")["password_hash"]
    assert stored and "s3cret" not in stored


def test_duplicate_username_fails_and_creates_nothing(runner, db, alice):
    result = runner.invoke(args=["users", "create", "ALICE"])
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert accounts.count(db) == 1


@pytest.mark.parametrize("name", ["", "_x", "a b", "é"])
def test_bad_username_fails(runner, db, name):
    result = runner.invoke(args=["users", "create", name])
    assert result.exit_code == 1 and accounts.count(db) == 0


def test_rotate_keys_replaces_both(runner, db, alice):
    result = runner.invoke(args=["users", "rotate-keys", "alice", "--json"])
    assert result.exit_code == 0
    keys = json.loads(result.stdout)
    assert accounts.find_by_key(db, alice.api_key) is None
    assert accounts.find_by_key(db, alice.upload_key) is None
    assert accounts.find_by_key(db, keys["api_key"])["username"] == "alice"


def test_rotate_keys_of_unknown_user(runner):
    result = runner.invoke(args=["users", "rotate-keys", "nobody"])
    assert result.exit_code == 1 and "No user 'nobody'" in result.output


def test_users_list(runner, alice, bob):
    result = runner.invoke(args=["users", "list"])
    assert result.exit_code == 0
    assert [line.split("\t")[0] for line in result.output.splitlines()] == ["alice", "bob"]


def test_orgs_create_and_add_member(runner, db, alice, bob):
    result = runner.invoke(args=["orgs", "create", "obs", "--name", "Obs", "--owner", "alice"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["orgs", "add-member", "obs", "bob", "--role", "visitor"])
    assert result.exit_code == 0
    org = organisations.get(db, "obs")
    assert organisations.role_of(db, org["id"], alice.account["id"]) == "owner"
    assert organisations.role_of(db, org["id"], bob.account["id"]) == "visitor"


@pytest.mark.parametrize(
    "args, message",
    [
        (["orgs", "create", "obs", "--name", "Obs", "--owner", "nobody"], "No user 'nobody'"),
        (["orgs", "create", "Bad Name", "--name", "X", "--owner", "alice"], "not a valid"),
        (["orgs", "create", "datasets", "--name", "X", "--owner", "alice"], "reserved"),
        (["orgs", "add-member", "nowhere", "alice", "--role", "member"], "No organisation"),
        (["orgs", "add-member", "obs", "nobody", "--role", "member"], "No user 'nobody'"),
        (["orgs", "add-member", "obs", "alice", "--role", "king"], "Unknown role 'king'"),
    ],
)
def test_org_command_failures(runner, db, alice, args, message):
    runner.invoke(args=["orgs", "create", "obs", "--name", "Obs", "--owner", "alice"])
    before = db.execute(
        "SELECT (SELECT COUNT(*) FROM organisations), (SELECT COUNT(*) FROM memberships)"
    ).fetchone()
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert message in result.output
    after = db.execute(
        "SELECT (SELECT COUNT(*) FROM organisations), (SELECT COUNT(*) FROM memberships)"
    ).fetchone()
    assert tuple(before) == tuple(after)


def test_duplicate_organisation(runner, alice):
    runner.invoke(args=["orgs", "create", "obs", "--name", "Obs", "--owner", "alice"])
    result = runner.invoke(args=["orgs", "create", "obs", "--name", "Obs", "--owner", "alice"])
    assert result.exit_code == 1 and "already exists" in result.output


def test_console_script_and_flask_app_option(tmp_path):
    """The installed console script, and `flask --app wsgi`, in real processes."""
    env = {**os.environ, "ARCSEC_DATA_DIR": str(tmp_path)}
    bin_dir = Path(sys.executable).parent
    out = subprocess.run(
        [bin_dir / "arcsec-flask", "users", "create", "zed", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert set(json.loads(out)) == {"username", "api_key", "upload_key"}
    root = Path(__file__).resolve().parents[1]
    listed = subprocess.run(
        [bin_dir / "flask", "--app", "wsgi", "users", "list"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    ).stdout
    assert listed.startswith("zed\t")


def test_storage_check_finds_and_sweeps_crash_leftovers(app, runner, client, alice):
    import io
    import os
    import time
    from pathlib import Path

    from arcsec_flask.storage import StreamingFile

    dataset = client.post("/datasets/", json={"name": "d"}, headers=alice.api).json
    kept = client.post(
        "/datafiles/",
        headers=alice.upload,
        data={"dataset": dataset["uuid"], "file": (io.BytesIO(b"kept"), "kept.txt")},
    ).json
    gone = client.post(
        "/datafiles/",
        headers=alice.upload,
        data={"dataset": dataset["uuid"], "file": (io.BytesIO(b"gone"), "gone.txt")},
    ).json
    files_dir = Path(app.config["FILES_DIR"])
    # A crash after the rename, before the commit: a placed file with no row.
    orphan = StreamingFile(files_dir)
    orphan.write(b"orphan")
    orphan.finish()
    orphan.place(files_dir, f"{dataset['uuid']}/0123456789abcdef0123456789abcdef")
    orphan.discard()  # closes it; placed files stay
    # A crash mid-body: a temporary part, two days old, and one being written now.
    old_part = StreamingFile(files_dir)
    os.utime(old_part.path, (time.time() - 2 * 86400,) * 2)
    fresh_part = StreamingFile(files_dir)
    # A row whose file vanished (a disk fault, a hand-deleted file).
    from arcsec_flask.repo.sqlite import connect

    conn = connect(app.config["DATABASE"])
    lost = conn.execute(
        "SELECT storage_path FROM datafiles WHERE id = ?", (gone["id"],)
    ).fetchone()[0]
    conn.close()
    (files_dir / lost).unlink()

    report = runner.invoke(args=["storage", "check"])
    assert report.exit_code == 1
    assert "2 rows, 2 stored files, 1 unreferenced, 1 stale parts, 1 missing" in report.output
    assert f"missing: {lost}" in report.output and "unreferenced: " in report.output
    assert orphan.path.exists() and old_part.path.exists()  # a check changes nothing

    swept = runner.invoke(args=["storage", "check", "--delete"])
    assert "removed 1 unreferenced files and 1 stale parts" in swept.output
    assert not orphan.path.exists() and not old_part.path.exists()
    assert fresh_part.path.exists()  # an upload in progress is left alone
    assert client.get(f"/datafiles/{kept['id']}/", headers=alice.api).status_code == 200
    for stream in (old_part, fresh_part):
        stream.discard()
