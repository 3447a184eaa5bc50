"""The real client's Python module (`arcsecond.ArcsecondAPI`, 4.5.0) against a real gunicorn:
create, read, update, delete, list, find_one and upsert on every resource it has, personal
and in the `local` portal, and upsert of an object read back from the server."""

from __future__ import annotations

import json

import pytest

from tests.support.servers import start_gunicorn

pytestmark = pytest.mark.client

SCRIPT = r"""
import json, sys
from arcsecond import ArcsecondAPI, ArcsecondConfig

out = {}
def ok(label, result):
    value, error = result
    if error:
        out[label] = {"error": str(error), "status": getattr(error, "status", None)}
        return None
    out[label] = value
    return value

for portal in ("", "local"):
    api = ArcsecondAPI(ArcsecondConfig(), portal)
    p = portal or "me"
    site = ok(f"{p}.site", api.observingsites.create(json={
        "name": "OHP", "coordinates": {"longitude": 5.71, "latitude": 43.93, "height": 650}}))
    scope = ok(f"{p}.scope", api.telescopes.create(json={
        "name": "T120", "observing_site": site["uuid"]}))
    ok(f"{p}.scope.read", api.telescopes.read(scope["uuid"]))
    ok(f"{p}.scope.update", api.telescopes.update(scope["uuid"], json={"alias": "t1"}))
    dataset = ok(f"{p}.dataset", api.datasets.create(json={
        "name": "M31 run", "telescope": scope["uuid"], "tags": ["lrgb"]}))
    found = ok(f"{p}.dataset.find_one", api.datasets.find_one(name="M31 run"))
    found["description"] = "Andromeda, second night"
    ok(f"{p}.dataset.upsert_read", api.datasets.upsert(json=found))
    ok(f"{p}.dataset.upsert_new", api.datasets.upsert(json={"name": "M42 run"}))
    ok(f"{p}.datasets.list", api.datasets.list())
    read_site = ok(f"{p}.site.find_one", api.observingsites.find_one(name="OHP"))
    read_site["country"] = "France"
    ok(f"{p}.site.upsert_read", api.observingsites.upsert(json=read_site))
    ok(f"{p}.scope.upsert_read", api.telescopes.upsert(json=api.telescopes.read(scope["uuid"])[0]))
    target = ok(f"{p}.target", api.targets.create(json={
        "name": "M31", "identifier": "NGC 224",
        "coordinates": {"right_ascension": 10.684, "declination": 41.269}}))
    read_target = ok(f"{p}.target.find_one", api.targets.find_one(name="M31"))
    read_target["notes"] = "bright"
    ok(f"{p}.target.upsert_read", api.targets.upsert(json=read_target))
    other = ok(f"{p}.target2", api.targets.upsert(json={"name": "M42"}))
    tlist = ok(f"{p}.targetlist", api.targetlists.create(json={
        "name": "Autumn", "targets": [target["uuid"], other["uuid"]]}))
    ok(f"{p}.targetlist.update", api.targetlists.update(tlist["uuid"], json={
        "targets": [other["uuid"]]}))
    ok(f"{p}.targetlists.list", api.targetlists.list())
    ok(f"{p}.targetlist.delete", api.targetlists.delete(tlist["uuid"]))
    ok(f"{p}.target.delete", api.targets.delete(other["uuid"]))
    ok(f"{p}.targets.list", api.targets.list())
    ok(f"{p}.dataset.delete", api.datasets.delete(dataset["uuid"]))
    ok(f"{p}.datasets.after", api.datasets.list())
    ok(f"{p}.nightlogs.list", api.nightlogs.list())
    ok(f"{p}.observations.list", api.observations.list())
    ok(f"{p}.calibrations.list", api.calibrations.list())

local = ArcsecondAPI(ArcsecondConfig(), "local")
ok("members", local.members.list())
ok("organisations", ArcsecondAPI(ArcsecondConfig()).organisations.list())
print(json.dumps(out))
"""


@pytest.fixture
def server(tmp_path):
    server = start_gunicorn(tmp_path / "live")
    yield server
    server.stop()


def test_every_accessor_of_the_python_module(server, arcsecond):
    owner = server.new_user("observer")  # the first account: it owns `local`
    assert arcsecond.run("api", "add", "local", server.url).returncode == 0
    assert arcsecond.run("api", "use", "local").returncode == 0
    login = arcsecond.run(
        "login", "--username", "observer", "--type", "access", "--key", owner["api_key"]
    )
    assert "Logged in" in login.stdout, login.stdout + login.stderr
    ran = arcsecond.python(SCRIPT)
    assert ran.returncode == 0, ran.stderr
    out = json.loads(ran.stdout)
    errors = {k: v for k, v in out.items() if isinstance(v, dict) and "error" in v}
    assert errors == {}
    for p in ("me", "local"):
        scope = out[f"{p}.scope"]
        assert out[f"{p}.scope.read"] == {**scope, "alias": ""} or out[f"{p}.scope.read"] == scope
        assert out[f"{p}.scope.update"]["alias"] == "t1"
        upserted = out[f"{p}.dataset.upsert_read"]
        assert upserted["uuid"] == out[f"{p}.dataset"]["uuid"]
        assert upserted["description"] == "Andromeda, second night"
        assert out[f"{p}.dataset.upsert_new"]["uuid"] != upserted["uuid"]
        assert [d["name"] for d in out[f"{p}.datasets.list"]] == ["M31 run", "M42 run"]
        assert out[f"{p}.site.upsert_read"]["country"] == "France"
        assert out[f"{p}.site.upsert_read"]["telescopes"] == [scope["uuid"]]
        assert out[f"{p}.scope.upsert_read"]["uuid"] == scope["uuid"]
        assert out[f"{p}.target.upsert_read"]["notes"] == "bright"
        assert out[f"{p}.target.upsert_read"]["uuid"] == out[f"{p}.target"]["uuid"]
        lists = out[f"{p}.targetlist.update"]
        assert [t["name"] for t in lists["targets"]] == ["M42"]
        assert [t["name"] for t in out[f"{p}.targets.list"]] == ["M31"]
        assert [d["name"] for d in out[f"{p}.datasets.after"]] == ["M42 run"]
        assert out[f"{p}.nightlogs.list"] == []
    assert [m["username"] for m in out["members"]] == ["observer"]
    assert out["members"][0]["role"] == "owner"
    assert [o["subdomain"] for o in out["organisations"]] == ["local"]
