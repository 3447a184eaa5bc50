"""The real arcsecond 4.5.0 client against a real gunicorn: api add/use and login."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.client


@pytest.fixture
def pointed(arcsecond, live_server):
    added = arcsecond.run("api", "add", "local", live_server.url)
    assert added.returncode == 0, added.stdout + added.stderr
    used = arcsecond.run("api", "use", "local")
    assert used.returncode == 0, used.stdout + used.stderr
    return arcsecond


@pytest.fixture
def keys(live_server):
    return live_server.new_user("ursula")


@pytest.mark.parametrize("kind, key_name", [("upload", "upload_key"), ("access", "api_key")])
def test_login_with_either_key(pointed, keys, kind, key_name):
    result = pointed.run("login", "--username", "ursula", "--type", kind, "--key", keys[key_name])
    assert "Logged in" in result.stdout, result.stdout + result.stderr
    assert keys[key_name] in pointed.config_text()


def test_login_with_a_wrong_key_stores_nothing(pointed, keys):
    result = pointed.run("login", "--username", "ursula", "--type", "upload", "--key", "x" * 43)
    assert "Logged in" not in result.stdout
    assert "Invalid username or key" in result.stdout + result.stderr
    assert "x" * 43 not in pointed.config_text()
    assert "ursula" not in pointed.config_text()


def test_login_as_an_unknown_user(pointed, keys):
    result = pointed.run(
        "login", "--username", "nobody", "--type", "upload", "--key", keys["upload_key"]
    )
    assert "Logged in" not in result.stdout
    assert keys["upload_key"] not in pointed.config_text()
