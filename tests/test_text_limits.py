"""Length limits on free text (issue 11): names, descriptions, notes, tags, ... each has
one, in the schema and in the OpenAPI document; at the limit a value is kept, past it the
body is a 400 naming the field, and nothing is written.

The fields and their limits are read from /openapi.json (the PATCH schema of each
resource), so the document and the behaviour are checked together; FREE_TEXT lists the
fields that must have a limit, so a new unlimited one fails here.
"""

from __future__ import annotations

import io

import httpx
import pytest

from tests.support.servers import start_gunicorn
from tests.test_permission_matrix import _seed

FREE_TEXT = {"name", "description", "notes", "alias", "country", "identifier", "mode", "tags"}
# Path word -> the PATCH schema's component name in the document.
PATCHED = {
    "observingsites": "PatchObservingSite",
    "telescopes": "PatchTelescope",
    "datasets": "PatchDataset",
    "datafiles": "PatchDataFile",
    "nightlogs": "PatchNightLog",
    "observations": "PatchObservation",
    "calibrations": "PatchCalibration",
    "datapackages": "PatchDataPackage",
    "targets": "PatchTarget",
    "targetlists": "PatchTargetList",
}


def _limits(doc: dict, component: str) -> list[tuple[str, str, int]]:
    """(field, kind, limit) for each limited writable field: kind "text" (maxLength),
    "list" (maxItems) or "item" (maxLength of each element)."""
    found = []
    for name, prop in doc["components"]["schemas"][component]["properties"].items():
        if prop.get("readOnly"):
            continue
        if prop.get("type") == "string" and "maxLength" in prop:
            found.append((name, "text", prop["maxLength"]))
        if prop.get("type") == "array":
            if "maxItems" in prop:
                found.append((name, "list", prop["maxItems"]))
            if "maxLength" in prop.get("items", {}):
                found.append((name, "item", prop["items"]["maxLength"]))
    return found


def _value(kind: str, size: int):
    if kind == "text":
        return "x" * size
    if kind == "item":
        return ["t" * size]
    return [f"t{i}" for i in range(size)]


def test_every_free_text_field_has_a_limit(client):
    doc = client.get("/openapi.json").json
    for word, component in PATCHED.items():
        properties = doc["components"]["schemas"][component]["properties"]
        limited = {name for name, _kind, _limit in _limits(doc, component)}
        writable = {n for n, p in properties.items() if not p.get("readOnly")}
        unlimited = (writable & FREE_TEXT) - limited
        assert not unlimited, f"{word}: no maxLength/maxItems for {sorted(unlimited)}"
        if "tags" in writable:
            kinds = {kind for name, kind, _ in _limits(doc, component) if name == "tags"}
            assert kinds == {"list", "item"}, word


def test_at_the_limit_kept_past_it_a_400_naming_the_field(client, alice, tmp_path):
    doc = client.get("/openapi.json").json
    ids = _seed(client, alice.api, tmp_path, spaces=("",))
    tried = 0
    for word, component in PATCHED.items():
        url = f"/{word}/{ids[word]}/"
        for field, kind, limit in _limits(doc, component):
            if field not in FREE_TEXT:
                continue  # lists of references: ids, not text
            before = client.get(url, headers=alice.api).json
            over = client.patch(url, json={field: _value(kind, limit + 1)}, headers=alice.api)
            assert over.status_code == 400, (url, field, over.json)
            assert field in over.json["errors"], (url, field, over.json)
            assert client.get(url, headers=alice.api).json == before  # nothing written
            at = client.patch(url, json={field: _value(kind, limit)}, headers=alice.api)
            assert at.status_code == 200, (url, field, at.json)
            if kind == "text":
                assert at.json[field] == _value(kind, limit)
            tried += 1
    assert tried >= 20  # 23 today: names, descriptions, notes, tags, ...


def test_upload_tags_are_limited_too(client, alice):
    dataset = client.post("/datasets/", json={"name": "d"}, headers=alice.api).json

    def upload(tags: str, name: str):
        data = {"dataset": dataset["uuid"], "tags": tags, "file": (io.BytesIO(b"x"), name)}
        return client.post("/datafiles/", data=data, headers=alice.upload)

    too_long = upload("a," + "b" * 101, "one.txt")
    assert too_long.status_code == 400 and "tags" in too_long.json["errors"]
    too_many = upload(",".join(f"t{i}" for i in range(1001)), "two.txt")
    assert too_many.status_code == 400 and "tags" in too_many.json["errors"]
    at_limit = upload(",".join(["c" * 100, *(f"t{i}" for i in range(999))]), "three.txt")
    assert at_limit.status_code == 201 and len(at_limit.json["tags"]) == 1000
    assert client.get("/datafiles/", headers=alice.api).json["count"] == 1


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = start_gunicorn(tmp_path_factory.mktemp("limits") / "live", workers=1)
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"name": "\\ud800"}', "not valid Unicode"),
        (b'{"name": "ok", "description": "\\udc00x"}', "not valid Unicode"),
        (b'{"name": "ok", "tags": ["\\ud83d"]}', "not valid Unicode"),
        (b'{"name": ' + b"9" * 5000 + b"}", "could not be read"),
        (b'{"name": "ok", "telescope": -' + b"1" * 5000 + b"}", "could not be read"),
        (b'{"name": "\xed\xa0\x80"}', "could not be read"),  # a surrogate's UTF-8 bytes
    ],
)
def test_lone_surrogates_and_huge_integers_are_400s_from_a_real_server(server, body, says):
    keys = server.new_user(f"u{abs(hash(body)) % 10**8}")
    api = {"X-Arcsecond-API-Authorization": f"Key {keys['api_key']}"}
    headers = {**api, "Content-Type": "application/json"}
    for path in ("datasets/", "datapackages/", "auth/key/verify/"):
        answer = httpx.post(server.url + path, content=body, headers=headers)
        assert answer.status_code == 400, (path, answer.text)
        assert says in answer.json()["detail"], (path, answer.text)
    assert httpx.get(server.url + "datasets/", headers=api).json()["count"] == 0
