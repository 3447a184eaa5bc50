"""`arcsecond telescopes` and `arcsecond datasets`, personal and portal, over several pages."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.servers import start_gunicorn

pytestmark = pytest.mark.client
HEADER = "X-Arcsecond-API-Authorization"


@pytest.fixture
def server(tmp_path):
    # A page of 5 so that a handful of objects spans several pages.
    server = start_gunicorn(tmp_path / "live", extra_env={"ARCSEC_PAGE_SIZE": "5"})
    yield server
    server.stop()


def _user(server, name: str) -> dict:
    return server.new_user(name)


def _create(server, keys: dict, path: str, body: dict) -> dict:
    response = httpx.post(server.url + path, json=body, headers={HEADER: f"Key {keys['api_key']}"})
    assert response.status_code == 201, response.text
    return response.json()


def _login(arcsecond, server, keys: dict):
    assert arcsecond.run("api", "add", "local", server.url).returncode == 0
    assert arcsecond.run("api", "use", "local").returncode == 0
    out = arcsecond.run("login", "--username", keys["username"], "--type", "access",
                        "--key", keys["api_key"]).stdout  # fmt: skip
    assert "Logged in" in out


def _uuids(output: str) -> list[str]:
    return re.findall(r"\(uuid: ([0-9a-f-]{36})\)", output)


def test_listing_every_page_personal_and_portal(server, arcsecond, tmp_path):
    from tests.support.servers import Client

    owner, visitor, stranger = (_user(server, n) for n in ("olga", "vic", "stan"))
    server.admin("orgs", "create", "obs", "--name", "Observatory", "--owner", "olga")
    server.admin("orgs", "add-member", "obs", "vic", "--role", "visitor")
    site = _create(server, owner, "observingsites/", {"name": "Home"})
    personal_t = [_create(server, owner, "telescopes/", {"name": f"P{i}",
                                                        "observing_site": site["uuid"]})["uuid"]
                  for i in range(7)]  # fmt: skip
    portal_t = [_create(server, owner, "obs/telescopes/", {"name": f"O{i}"})["uuid"]
                for i in range(12)]  # fmt: skip
    personal_d = [_create(server, owner, "datasets/", {"name": f"D{i}",
                                                      "telescope": personal_t[0]})["uuid"]
                  for i in range(11)]  # fmt: skip
    portal_d = [_create(server, owner, "obs/datasets/", {"name": f"OD{i}"})["uuid"]
                for i in range(6)]  # fmt: skip

    _login(arcsecond, server, owner)
    telescopes = arcsecond.run("telescopes")
    assert telescopes.returncode == 0, telescopes.stderr
    assert _uuids(telescopes.stdout) == personal_t
    assert "Found 7 telescopes" in telescopes.stdout
    assert f"[ObservingSite UUID: {site['uuid']}]" in telescopes.stdout
    assert _uuids(arcsecond.run("telescopes", "-p", "obs").stdout) == portal_t
    datasets = arcsecond.run("datasets").stdout
    assert _uuids(datasets) == personal_d and f"(telescope: {personal_t[0]})" in datasets
    assert _uuids(arcsecond.run("datasets", "-p", "obs").stdout) == portal_d

    # A visitor of the portal sees the portal's objects, none of the personal ones.
    vic = Client(arcsecond.exe, tmp_path / "vic-home")
    vic.home.mkdir()
    _login(vic, server, visitor)
    assert _uuids(vic.run("telescopes", "-p", "obs").stdout) == portal_t
    assert _uuids(vic.run("datasets", "-p", "obs").stdout) == portal_d
    assert _uuids(vic.run("telescopes").stdout) == []

    # Someone from elsewhere sees none of them.
    stan = Client(arcsecond.exe, tmp_path / "stan-home")
    stan.home.mkdir()
    _login(stan, server, stranger)
    assert _uuids(stan.run("telescopes").stdout) == []
    assert _uuids(stan.run("datasets").stdout) == []
    portal = stan.run("datasets", "-p", "obs")
    assert _uuids(portal.stdout) == []
