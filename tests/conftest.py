"""Shared fixtures: an app on a real SQLite file in tmp_path, clients, accounts with keys."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from arcsec_flask import create_app
from arcsec_flask.repo import accounts, organisations
from arcsec_flask.repo.sqlite import connect

HEADER = "X-Arcsecond-API-Authorization"


@pytest.fixture
def app(tmp_path):
    app = create_app({"DATA_DIR": str(tmp_path / "data"), "TESTING": True})
    yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    conn = connect(app.config["DATABASE"])
    yield conn
    conn.close()


@dataclass
class User:
    username: str
    api_key: str
    upload_key: str
    account: dict

    @property
    def api(self) -> dict[str, str]:
        return {HEADER: f"Key {self.api_key}"}

    @property
    def upload(self) -> dict[str, str]:
        return {HEADER: f"Key {self.upload_key}"}


@pytest.fixture
def make_user(db):
    def make(username: str = "alice", email: str = "", password_hash: str | None = None) -> User:
        created = accounts.create(db, username, email or f"{username}@example.org", password_hash)
        return User(username, created["api_key"], created["upload_key"], created)

    return make


@pytest.fixture
def alice(make_user) -> User:
    return make_user("alice")


@pytest.fixture
def bob(make_user) -> User:
    return make_user("bob")


@pytest.fixture
def make_org(db):
    def make(subdomain: str, owner: User, members: dict[str, str] | None = None) -> dict:
        org = organisations.create(db, subdomain, subdomain.title(), owner.username)
        for username, role in (members or {}).items():
            organisations.add_member(db, subdomain, username, role)
        return org

    return make


@pytest.fixture
def live_server(tmp_path):
    from tests.support.servers import start_gunicorn

    server = start_gunicorn(tmp_path / "live")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def arcsecond_exe():
    from tests.support.servers import install_client

    return install_client()


@pytest.fixture
def arcsecond(arcsecond_exe, tmp_path):
    """The real client, pointed at nothing yet, with a private HOME."""
    from tests.support.servers import Client

    home = tmp_path / "home"
    home.mkdir()
    return Client(arcsecond_exe, home)
