"""Bodies as Django REST framework reads them, and query parameters that are range-checked
(docs/API.md §4 and §4a): an object read back is accepted as it is; typos are not."""

from __future__ import annotations

import io

import pytest


@pytest.fixture
def objects(client, alice):
    api = alice.api
    site = client.post(
        "/observingsites/",
        json={"name": "OHP", "coordinates": {"longitude": 5.7, "latitude": 43.9, "height": 650}},
        headers=api,
    ).json
    scope = client.post(
        "/telescopes/", json={"name": "T120", "observing_site": site["uuid"]}, headers=api
    ).json
    dataset = client.post(
        "/datasets/", json={"name": "M31", "telescope": scope["uuid"], "tags": ["a"]}, headers=api
    ).json
    data = {"dataset": dataset["uuid"], "tags": "x,y", "file": (io.BytesIO(b"log"), "n.txt")}
    datafile = client.post("/datafiles/", data=data, headers=api).json
    log = client.post(
        "/nightlogs/", json={"telescope": scope["uuid"], "date": "2024-01-05"}, headers=api
    ).json
    return {
        "observingsites": site,
        "telescopes": scope,
        "datasets": dataset,
        "datafiles": datafile,
        "nightlogs": log,
    }


def _key(obj: dict) -> str:
    return str(obj.get("uuid") or obj["id"])


@pytest.mark.parametrize(
    "resource", ["observingsites", "telescopes", "datasets", "datafiles", "nightlogs"]
)
def test_patch_of_an_object_as_read_changes_nothing(client, alice, objects, resource):
    url = f"/{resource}/{_key(objects[resource])}/"
    read = client.get(url, headers=alice.api).json
    patched = client.patch(url, json=read, headers=alice.api)
    assert patched.status_code == 200, patched.json
    assert patched.json == read


@pytest.mark.parametrize("resource", ["observingsites", "telescopes", "datasets"])
def test_post_of_an_object_as_read_creates_a_copy(client, alice, objects, resource):
    read = client.get(f"/{resource}/{_key(objects[resource])}/", headers=alice.api).json
    copy = client.post(f"/{resource}/", json=read, headers=alice.api)
    assert copy.status_code == 201, copy.json
    assert copy.json["uuid"] != read["uuid"] and copy.json["name"] == read["name"]
    assert client.get(f"/{resource}/", headers=alice.api).json["count"] == 2


def test_a_field_the_resource_lacks_is_still_an_error(client, alice, objects):
    url = f"/datasets/{objects['datasets']['uuid']}/"
    response = client.patch(url, json={"descripton": "typo"}, headers=alice.api)
    assert response.status_code == 400 and "descripton" in response.json["errors"]


@pytest.mark.parametrize("resource", ["datasets", "datafiles"])
def test_tags_filter_takes_commas_or_repeats(client, alice, objects, resource):
    api = alice.api
    if resource == "datasets":
        client.post("/datasets/", json={"name": "other", "tags": ["a", "b"]}, headers=api)
        tagged, both = objects["datasets"], "other"
    else:
        data = {
            "dataset": objects["datasets"]["uuid"],
            "tags": "x",
            "file": (io.BytesIO(b"2"), "m.txt"),
        }
        client.post("/datafiles/", data=data, headers=api)
        tagged, both = objects["datafiles"], "n.txt"
    first_tag = tagged["tags"][0]
    second = "b" if resource == "datasets" else "y"

    def names(query: str) -> list[str]:
        response = client.get(f"/{resource}/?{query}", headers=api)
        assert response.status_code == 200, response.json
        return sorted(r["name"] for r in response.json["results"])

    assert len(names(f"tags={first_tag}")) == 2
    assert names(f"tags={first_tag},{second}") == [both]
    assert names(f"tags={first_tag}&tags={second}") == [both]
    assert names("tags=nothing") == []


@pytest.mark.parametrize(
    "query", ["page=9223372036854775807", "page=0", "page=-1", "page_size=100000", "page=x"]
)
@pytest.mark.parametrize(
    "resource",
    ["observingsites", "telescopes", "datasets", "datafiles", "nightlogs", "observations"],
)
def test_integer_parameters_are_range_checked(client, alice, resource, query):
    response = client.get(f"/{resource}/?{query}", headers=alice.api)
    assert response.status_code in (400, 404) and response.json["detail"]


def test_a_page_past_the_end_is_a_404(client, alice, objects):
    response = client.get("/datasets/?page=999999", headers=alice.api)
    assert response.status_code == 404


@pytest.mark.parametrize(
    "body, says",
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"name": "\\ud800"}', "not valid Unicode"),
        ('{"name": "M31", "tags": ["\\udfff"]}', "not valid Unicode"),
        ('{"name": 1' + "1" * 5000 + "}", "could not be read"),
        ('{"name": ', "could not be read"),
    ],
)
def test_hostile_json_is_a_400(client, alice, body, says):
    for url in ("/datasets/", "/auth/key/verify/"):
        response = client.post(url, data=body, content_type="application/json", headers=alice.api)
        assert response.status_code == 400 and says in response.json["detail"], url
    assert client.get("/datasets/", headers=alice.api).json["count"] == 0
