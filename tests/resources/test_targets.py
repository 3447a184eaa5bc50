"""Targets and target lists (docs/API.md §6): CRUD in both URL forms, validation, filters,
observations counted by name or identifier, roles, and lists of targets in order."""

from __future__ import annotations

import io
import uuid

import pytest

from tests.support.factories import write_fits

M31 = {"right_ascension": 10.6847, "declination": 41.2687}


@pytest.fixture
def api(client, alice):
    """alice's personal API, as (method, path, json) -> response."""

    def call(method, path, json=None, headers=None):
        return client.open(path, method=method, json=json, headers=headers or alice.api)

    return call


def _target(api, prefix="", **fields):
    response = api("POST", f"{prefix}/targets/", {"name": "M31", **fields})
    assert response.status_code == 201, response.json
    return response.json


def test_target_crud_and_defaults(api):
    target = _target(api)
    assert uuid.UUID(target["uuid"]).version == 4 and target["creation_date"].endswith("Z")
    assert {k: v for k, v in target.items() if k not in ("uuid", "creation_date")} == {
        "name": "M31",
        "identifier": "",
        "target_class": "AstronomicalObject",
        "coordinates": None,
        "mode": "",
        "notes": "",
        "tags": [],
        "observations_count": 0,
    }
    url = f"/targets/{target['uuid']}/"
    assert api("GET", url).json == target
    body = {
        "identifier": "NGC 224",
        "target_class": "Transient",
        "coordinates": M31,
        "mode": "imaging",
        "notes": "Andromeda",
        "tags": ["galaxy", "local", "galaxy"],
    }
    patched = api("PATCH", url, body)
    assert patched.status_code == 200, patched.json
    assert patched.json == {**target, **body, "tags": ["galaxy", "local"]}
    assert api("PATCH", url, {"name": "Andromeda"}).json["coordinates"] == M31  # others kept
    assert api("PATCH", url, {"coordinates": None}).json["coordinates"] is None
    deleted = api("DELETE", url)
    assert deleted.status_code == 204 and deleted.data == b""
    assert api("GET", url).status_code == 404


def test_target_crud_in_a_portal(client, alice, bob, make_org):
    make_org("obs", alice, {"bob": "member"})
    created = client.post("/obs/targets/", json={"name": "Vega"}, headers=bob.api)
    assert created.status_code == 201, created.json
    url = f"/obs/targets/{created.json['uuid']}/"
    assert client.get(url, headers=alice.api).json == created.json
    patched = client.patch(url, json={"target_class": "StandardStar"}, headers=alice.api)
    assert patched.json["target_class"] == "StandardStar"
    assert client.get("/obs/targets/", headers=bob.api).json["count"] == 1
    # The portal's targets are not the members' own.
    assert client.get("/targets/", headers=alice.api).json["count"] == 0
    assert client.get(f"/targets/{created.json['uuid']}/", headers=alice.api).status_code == 404
    assert client.delete(url, headers=bob.api).status_code == 204
    assert client.get(url, headers=alice.api).status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "name"),
        ({"name": "  "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "x", "coordinates": {"right_ascension": 360, "declination": 0}}, "coordinates"),
        ({"name": "x", "coordinates": {"right_ascension": -0.1, "declination": 0}}, "coordinates"),
        ({"name": "x", "coordinates": {"right_ascension": 0, "declination": 91}}, "coordinates"),
        ({"name": "x", "coordinates": {"right_ascension": 0, "declination": -90.5}}, "coordinates"),
        ({"name": "x", "coordinates": {"right_ascension": 0}}, "coordinates"),
        ({"name": "x", "coordinates": {"right_ascension": "0h", "declination": 0}}, "coordinates"),
        ({"name": "x", "coordinates": [10, 20]}, "coordinates"),
        ({"name": "x", "target_class": "Galaxy"}, "target_class"),
        ({"name": "x", "target_class": "exoplanet"}, "target_class"),
        ({"name": "x", "tags": "a,b"}, "tags"),
        ({"name": "x", "tags": [""]}, "tags"),
        ({"name": "x", "magnitude": 3.4}, "magnitude"),
    ],
)
def test_target_validation(api, body, field):
    response = api("POST", "/targets/", body)
    assert response.status_code == 400, response.json
    assert field in response.json["errors"] and response.json["detail"]
    assert api("GET", "/targets/").json["count"] == 0


def test_nan_coordinates_are_refused(client, alice):
    for ra, dec in (("NaN", "0"), ("0", "NaN"), ("Infinity", "0")):
        body = f'{{"name": "x", "coordinates": {{"right_ascension": {ra}, "declination": {dec}}}}}'
        response = client.post(
            "/targets/", data=body, content_type="application/json", headers=alice.api
        )
        assert response.status_code == 400, (ra, dec, response.json)
        assert "coordinates" in response.json["errors"]


@pytest.mark.parametrize(
    "coordinates",
    [
        None,
        {"right_ascension": 0, "declination": -90},
        {"right_ascension": 359.9999, "declination": 90},
        {"right_ascension": 83.82, "declination": -5.39},
    ],
)
def test_coordinates_in_range_or_null(api, coordinates):
    target = _target(api, coordinates=coordinates)
    expected = coordinates and {k: float(v) for k, v in coordinates.items()}
    assert target["coordinates"] == expected
    assert api("GET", f"/targets/{target['uuid']}/").json["coordinates"] == expected


def test_patch_takes_coordinates_whole(api):
    target = _target(api, coordinates=M31)
    url = f"/targets/{target['uuid']}/"
    half = api("PATCH", url, {"coordinates": {"declination": 10}})
    assert half.status_code == 400 and "coordinates" in half.json["errors"]
    assert api("PATCH", url, {"coordinates": {"right_ascension": 360, "declination": 0}}).json[
        "errors"
    ]["coordinates"]
    assert api("GET", url).json["coordinates"] == M31


def test_target_filters(api):
    _target(api, name="M31", tags=["galaxy", "messier"])
    _target(api, name="HD 209458 b", target_class="Exoplanet", tags=["transit"])
    _target(api, name="M42", tags=["messier", "nebula"])
    _target(api, name="M31", target_class="Transient")

    def names(query):
        response = api("GET", f"/targets/?{query}")
        assert response.status_code == 200, response.json
        return [t["name"] for t in response.json["results"]]

    assert names("") == ["M31", "HD 209458 b", "M42", "M31"]  # creation order
    assert names("name=M31") == ["M31", "M31"]
    assert names("name=m31") == []  # exact
    assert names("target_class=Exoplanet") == ["HD 209458 b"]
    assert names("target_class=Transient&name=M31") == ["M31"]
    assert names("tags=messier") == ["M31", "M42"]
    assert names("tags=messier&tags=nebula") == ["M42"]
    assert names("tags=messier,nebula") == ["M42"]
    assert names("tags=messier,%20galaxy") == ["M31"]
    assert names("tags=comet") == []


@pytest.mark.parametrize(
    "query, field", [("nmae=M31", "nmae"), ("target_class=Galaxy", "target_class")]
)
def test_bad_filters_are_400s_naming_them(api, query, field):
    response = api("GET", f"/targets/?{query}")
    assert response.status_code == 400
    assert field in response.json["errors"] and field in response.json["detail"]
    assert api("GET", "/targetlists/?targets=x").status_code == 400


def _observe(client, user, objects: list[str | None], tmp_path, prefix=""):
    """Upload one light frame per OBJECT value (None: no OBJECT card) into a new dataset
    of `user`'s (no telescope: each target name makes its own observation there)."""
    dataset = client.post(f"{prefix}/datasets/", json={"name": "run"}, headers=user.api).json
    folder = tmp_path / dataset["uuid"]
    folder.mkdir()
    for i, name in enumerate(objects):
        cards = {"IMAGETYP": "LIGHT", **({"OBJECT": name} if name else {})}
        path = write_fits(folder / f"{i}.fits", cards)
        data = {"dataset": dataset["uuid"], "file": (io.BytesIO(path.read_bytes()), path.name)}
        response = client.post(f"{prefix}/datafiles/", data=data, headers=user.upload)
        assert response.status_code == 201, response.json
        assert response.json["observation"]
    return dataset


def test_observations_counted_by_name_or_identifier(api, client, alice, bob, tmp_path):
    _observe(client, alice, ["M 31", "m31", "Andromeda Galaxy", "M42", "NGC224", None], tmp_path)
    _observe(client, bob, ["M31", "M31 b"], tmp_path)  # another owner's: never counted
    observations = client.get("/observations/", headers=alice.api).json
    assert observations["count"] == 6
    assert "" in [o["target_name"] for o in observations["results"]]
    by_name = _target(api, name="M31")
    by_identifier = _target(api, name="Andromeda", identifier="m 31")
    both = _target(api, name="andromedagalaxy", identifier="ngc 224")
    alone = _target(api, name="M 33", identifier="")  # an empty identifier matches nothing
    counts = {t["name"]: t["observations_count"] for t in api("GET", "/targets/").json["results"]}
    assert counts == {"M31": 2, "Andromeda": 2, "andromedagalaxy": 2, "M 33": 0}
    assert api("GET", f"/targets/{by_name['uuid']}/").json["observations_count"] == 2
    assert by_identifier["observations_count"] == 2 and both["observations_count"] == 2
    assert alone["observations_count"] == 0
    # An observation matching both the name and the identifier counts once.
    url = f"/targets/{by_name['uuid']}/"
    assert api("PATCH", url, {"identifier": "M31 "}).json["observations_count"] == 2
    assert api("PATCH", url, {"identifier": "M42"}).json["observations_count"] == 3
    # Counts follow the observations as files come and go.
    _observe(client, alice, ["M31"], tmp_path)
    assert api("GET", url).json["observations_count"] == 4
    bobs = client.post("/targets/", json={"name": "m31 B"}, headers=bob.api).json
    assert bobs["observations_count"] == 1


def test_observations_of_a_portal_count_for_its_targets(client, alice, bob, make_org, tmp_path):
    make_org("obs", alice, {"bob": "member"})
    _observe(client, bob, ["Vega", "vega"], tmp_path, prefix="/obs")
    _observe(client, alice, ["Vega"], tmp_path)  # alice's own, not the portal's
    target = client.post("/obs/targets/", json={"name": "VEGA"}, headers=alice.api).json
    assert target["observations_count"] == 2
    mine = client.post("/targets/", json={"name": "VEGA"}, headers=alice.api).json
    assert mine["observations_count"] == 1


def test_roles_in_a_portal(client, alice, make_user, make_org):
    member, visitor = make_user("mia"), make_user("vic")
    make_org("obs", alice, {"mia": "member", "vic": "visitor"})
    for resource in ("targets", "targetlists"):
        base = f"/obs/{resource}/"
        made = client.post(base, json={"name": "by mia"}, headers=member.api)
        assert made.status_code == 201, made.json
        url = f"{base}{made.json['uuid']}/"
        for user in (visitor, member):
            assert client.get(base, headers=user.api).json["count"] == 1
            assert client.get(url, headers=user.api).status_code == 200
            assert client.get(url, headers=user.upload).status_code == 200
        assert client.get(base, headers=member.upload).status_code == 200
        for headers in (visitor.api, member.upload):
            assert client.post(base, json={"name": "x"}, headers=headers).status_code == 403
            assert client.patch(url, json={"name": "x"}, headers=headers).status_code == 403
            assert client.delete(url, headers=headers).status_code == 403
        assert client.patch(url, json={"name": "y"}, headers=member.api).status_code == 200
        assert client.delete(url, headers=member.api).status_code == 204


@pytest.mark.parametrize("resource", ["targets", "targetlists"])
def test_upload_key_reads_but_never_writes(client, alice, resource):
    made = client.post(f"/{resource}/", json={"name": "M31"}, headers=alice.api).json
    url = f"/{resource}/{made['uuid']}/"
    assert client.get(f"/{resource}/", headers=alice.upload).json["count"] == 1
    assert client.get(url, headers=alice.upload).json == made
    assert client.post(f"/{resource}/", json={"name": "x"}, headers=alice.upload).status_code == 403
    assert client.patch(url, json={"name": "x"}, headers=alice.upload).status_code == 403
    assert client.delete(url, headers=alice.upload).status_code == 403
    assert client.get(f"/{resource}/").status_code == 401
    assert client.get(url, headers=alice.api).json == made


@pytest.mark.parametrize("resource", ["targets", "targetlists"])
def test_another_accounts_objects_are_404s(client, alice, bob, resource):
    made = client.post(f"/{resource}/", json={"name": "M31"}, headers=alice.api).json
    url = f"/{resource}/{made['uuid']}/"
    assert client.get(url, headers=bob.api).status_code == 404
    assert client.patch(url, json={"name": "x"}, headers=bob.api).status_code == 404
    assert client.delete(url, headers=bob.api).status_code == 404
    assert client.get(f"/{resource}/", headers=bob.api).json["count"] == 0
    assert client.get(f"/{resource}/not-a-uuid/", headers=alice.api).status_code == 404
    assert client.get(url, headers=alice.api).json == made  # untouched


@pytest.mark.parametrize("resource", ["targets", "targetlists"])
def test_urls_and_verbs(client, alice, resource):
    made = client.post(f"/{resource}/", json={"name": "M31"}, headers=alice.api).json
    assert client.get(f"/{resource}", headers=alice.api).status_code == 404  # no slash
    assert client.get(f"/{resource}/{made['uuid']}", headers=alice.api).status_code == 404
    put = client.put(f"/{resource}/{made['uuid']}/", json={"name": "x"}, headers=alice.api)
    assert put.status_code == 405 and "PATCH" in put.headers["Allow"]
    listed = client.delete(f"/{resource}/", headers=alice.api)
    assert listed.status_code == 405 and "POST" in listed.headers["Allow"]
    root = client.get("/").json
    assert root[resource] == f"http://localhost/{resource}/"


def test_target_list_with_targets_in_order(api):
    a, b, c = (_target(api, name=n) for n in ("A", "B", "C"))
    created = api(
        "POST",
        "/targetlists/",
        {"name": "Tonight", "description": "east first", "targets": [c["uuid"], a["uuid"]]},
    )
    assert created.status_code == 201, created.json
    made = created.json
    assert uuid.UUID(made["uuid"]).version == 4 and made["creation_date"].endswith("Z")
    assert made["name"] == "Tonight" and made["description"] == "east first"
    assert made["targets"] == [c, a]  # the full target objects, in the list's order
    url = f"/targetlists/{made['uuid']}/"
    assert api("GET", url).json == made
    assert api("GET", "/targetlists/").json["results"] == [made]
    replaced = api("PATCH", url, {"targets": [b["uuid"], c["uuid"], a["uuid"]]})
    assert replaced.status_code == 200, replaced.json
    assert [t["name"] for t in replaced.json["targets"]] == ["B", "C", "A"]
    renamed = api("PATCH", url, {"name": "Tomorrow"}).json
    assert renamed["name"] == "Tomorrow" and renamed["targets"] == replaced.json["targets"]
    assert api("PATCH", url, {"targets": []}).json["targets"] == []
    twice = api("PATCH", url, {"targets": [a["uuid"], a["uuid"].upper(), b["uuid"]]}).json
    assert [t["name"] for t in twice["targets"]] == ["A", "B"]  # each target once
    empty = api("POST", "/targetlists/", {"name": "Later"}).json
    assert empty["targets"] == [] and empty["description"] == ""
    assert api("DELETE", url).status_code == 204
    assert api("GET", url).status_code == 404
    assert api("GET", f"/targets/{a['uuid']}/").status_code == 200  # targets stay


def test_target_lists_show_targets_as_they_are(api, client, alice, tmp_path):
    target = _target(api, name="M31")
    made = api("POST", "/targetlists/", {"name": "L", "targets": [target["uuid"]]}).json
    api("PATCH", f"/targets/{target['uuid']}/", {"notes": "bright"})
    _observe(client, alice, ["M31"], tmp_path)
    shown = api("GET", f"/targetlists/{made['uuid']}/").json["targets"][0]
    assert shown["notes"] == "bright" and shown["observations_count"] == 1


def test_target_list_filters(api):
    api("POST", "/targetlists/", {"name": "Tonight"})
    api("POST", "/targetlists/", {"name": "Later"})
    response = api("GET", "/targetlists/?name=Later")
    assert [t["name"] for t in response.json["results"]] == ["Later"]
    assert api("GET", "/targetlists/?name=later").json["count"] == 0
    unknown = api("GET", "/targetlists/?nmae=Later")
    assert unknown.status_code == 400 and "nmae" in unknown.json["errors"]


def test_target_list_refuses_targets_it_may_not_hold(api, client, bob, make_org, alice):
    mine = _target(api, name="A")
    bobs = client.post("/targets/", json={"name": "B"}, headers=bob.api).json
    missing = str(uuid.uuid4())
    for targets in ([bobs["uuid"]], [mine["uuid"], missing]):
        response = api("POST", "/targetlists/", {"name": "L", "targets": targets})
        assert response.status_code == 400, response.json
        assert response.json["errors"]["targets"] == [
            f'Invalid pk "{targets[-1]}" - object does not exist.'
        ]
    assert api("GET", "/targetlists/").json["count"] == 0  # nothing half made
    made = api("POST", "/targetlists/", {"name": "L", "targets": [mine["uuid"]]}).json
    url = f"/targetlists/{made['uuid']}/"
    refused = api("PATCH", url, {"name": "M", "targets": [bobs["uuid"]]})
    assert refused.status_code == 400 and "targets" in refused.json["errors"]
    assert api("GET", url).json == made  # unchanged, name included
    malformed = api("POST", "/targetlists/", {"name": "L", "targets": ["nope"]})
    assert malformed.status_code == 400 and "targets" in malformed.json["errors"]
    assert api("POST", "/targetlists/", {"name": "L", "targets": "x"}).status_code == 400
    assert api("POST", "/targetlists/", {"name": " "}).json["errors"]["name"]
    # A portal's list holds the portal's targets, not a member's own.
    make_org("obs", alice)
    portal = api("POST", "/obs/targetlists/", {"name": "P", "targets": [mine["uuid"]]})
    assert portal.status_code == 400 and "targets" in portal.json["errors"]


def test_deleting_a_target_takes_it_out_of_lists(api):
    a, b = _target(api, name="A"), _target(api, name="B")
    first = api("POST", "/targetlists/", {"name": "1", "targets": [a["uuid"], b["uuid"]]}).json
    second = api("POST", "/targetlists/", {"name": "2", "targets": [a["uuid"]]}).json
    assert api("DELETE", f"/targets/{a['uuid']}/").status_code == 204
    assert api("GET", f"/targetlists/{first['uuid']}/").json["targets"] == [b]
    assert api("GET", f"/targetlists/{second['uuid']}/").json["targets"] == []


def test_patch_of_an_object_as_read_changes_nothing(api):
    target = _target(api, identifier="NGC 224", coordinates=M31, tags=["x"], notes="n")
    made = api("POST", "/targetlists/", {"name": "L", "targets": [target["uuid"]]}).json
    for url in (f"/targets/{target['uuid']}/", f"/targetlists/{made['uuid']}/"):
        read = api("GET", url).json
        patched = api("PATCH", url, read)
        assert patched.status_code == 200, patched.json
        assert patched.json == read


def test_post_of_an_object_as_read_creates_a_copy(api):
    target = _target(api, identifier="NGC 224", coordinates=M31, tags=["x"], mode="m")
    made = api("POST", "/targetlists/", {"name": "L", "targets": [target["uuid"]]}).json
    for resource, read in (("targets", target), ("targetlists", made)):
        copy = api("POST", f"/{resource}/", read)
        assert copy.status_code == 201, copy.json
        assert copy.json["uuid"] != read["uuid"]
        strip = ("uuid", "creation_date")
        assert {k: v for k, v in copy.json.items() if k not in strip} == {
            k: v for k, v in read.items() if k not in strip
        }
        assert api("GET", f"/{resource}/").json["count"] == 2
