"""Observing sites, telescopes and datasets: verbs, lists, validation, references."""

from __future__ import annotations

import uuid

import pytest

PARIS = {"longitude": 2.35, "latitude": 48.85, "height": 35}
LA_SILLA = {"longitude": -70.73, "latitude": -29.26, "height": 2400}


@pytest.fixture
def api(client, alice):
    """alice's personal API, as (method, path, json) -> response."""

    def call(method, path, json=None, headers=None, **kwargs):
        return client.open(path, method=method, json=json, headers=headers or alice.api, **kwargs)

    return call


def test_site_crud_and_time_zone_derived_offline(api):
    created = api("POST", "/observingsites/", {"name": "OHP", "coordinates": PARIS})
    assert created.status_code == 201, created.json
    site = created.json
    assert site["time_zone"] == "Europe/Paris"
    assert site["coordinates"] == {"longitude": 2.35, "latitude": 48.85, "height": 35.0}
    assert uuid.UUID(site["uuid"]).version == 4
    assert site["telescopes"] == [] and site["creation_date"].endswith("Z")
    url = f"/observingsites/{site['uuid']}/"
    assert api("GET", url).json == site
    moved = api("PATCH", url, {"coordinates": LA_SILLA, "time_zone": None})
    assert moved.status_code == 200 and moved.json["time_zone"] == "America/Santiago"
    kept = api("PATCH", url, {"name": "La Silla"})
    assert kept.json["time_zone"] == "America/Santiago" and kept.json["name"] == "La Silla"
    explicit = api("PATCH", url, {"time_zone": "UTC"})
    assert explicit.json["time_zone"] == "UTC"
    deleted = api("DELETE", url)
    assert deleted.status_code == 204 and deleted.data == b""
    assert api("GET", url).status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "name"),
        ({"name": "  "}, "name"),
        ({"name": "x", "coordinates": {"longitude": 181, "latitude": 0}}, "coordinates"),
        ({"name": "x", "coordinates": {"longitude": 0, "latitude": -91}}, "coordinates"),
        ({"name": "x", "coordinates": {"longitude": "east", "latitude": 0}}, "coordinates"),
        ({"name": "x", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"name": "x", "colour": "red"}, "colour"),
    ],
)
def test_site_validation(api, body, field):
    response = api("POST", "/observingsites/", body)
    assert response.status_code == 400
    assert field in response.json["errors"] and response.json["detail"]


def test_telescope_references_a_site_of_the_same_owner(api, client, bob):
    site = api("POST", "/observingsites/", {"name": "OHP", "coordinates": PARIS}).json
    bobs_site = client.post("/observingsites/", json={"name": "B"}, headers=bob.api).json
    scope = api("POST", "/telescopes/", {"name": "T80", "observing_site": site["uuid"]})
    assert scope.status_code == 201 and scope.json["observing_site"] == site["uuid"]
    assert api("GET", f"/observingsites/{site['uuid']}/").json["telescopes"] == [scope.json["uuid"]]
    foreign = api("POST", "/telescopes/", {"name": "X", "observing_site": bobs_site["uuid"]})
    assert foreign.status_code == 400 and "observing_site" in foreign.json["errors"]
    malformed = api("POST", "/telescopes/", {"name": "X", "observing_site": "nope"})
    assert malformed.status_code == 400 and "observing_site" in malformed.json["errors"]
    # Deleting the site nulls the reference; it never dangles.
    assert api("DELETE", f"/observingsites/{site['uuid']}/").status_code == 204
    assert api("GET", f"/telescopes/{scope.json['uuid']}/").json["observing_site"] is None


def test_dataset_fields_and_telescope_reference(api):
    scope = api("POST", "/telescopes/", {"name": "T1"}).json
    created = api(
        "POST",
        "/datasets/",
        {"name": "M31 run", "telescope": scope["uuid"], "tags": ["m31", "lrgb", "m31"]},
    )
    assert created.status_code == 201
    dataset = created.json
    assert dataset["telescope"] == scope["uuid"]  # a UUID string, never a nested object
    assert dataset["tags"] == ["m31", "lrgb"]
    assert dataset["data_files_count"] == 0 and dataset["description"] == ""
    url = f"/datasets/{dataset['uuid']}/"
    patched = api("PATCH", url, {"description": "first light", "telescope": None})
    assert patched.json["description"] == "first light" and patched.json["telescope"] is None
    api("PATCH", url, {"telescope": scope["uuid"]})
    assert api("DELETE", f"/telescopes/{scope['uuid']}/").status_code == 204
    assert api("GET", url).json["telescope"] is None


def test_dataset_filters(api):
    t1 = api("POST", "/telescopes/", {"name": "T1"}).json["uuid"]
    api("POST", "/datasets/", {"name": "a", "telescope": t1, "tags": ["x", "y"]})
    api("POST", "/datasets/", {"name": "b", "tags": ["y"]})
    api("POST", "/datasets/", {"name": "a"})

    def names(query):
        response = api("GET", f"/datasets/?{query}")
        assert response.status_code == 200, response.json
        return [d["name"] for d in response.json["results"]]

    assert names("name=a") == ["a", "a"]
    assert names("name=A") == []  # exact
    assert names(f"telescope={t1}") == ["a"]
    assert names("tags=y") == ["a", "b"]
    assert names("tags=x&tags=y") == ["a"]
    assert names("name=zzz") == []


def test_unknown_filter_is_a_400_naming_it(api):
    response = api("GET", "/datasets/?nmae=a")
    assert response.status_code == 400
    assert "nmae" in response.json["errors"] and "nmae" in response.json["detail"]
    assert api("GET", "/telescopes/?telescope=x").status_code == 400


def test_bad_filter_value_is_a_400(api):
    assert api("GET", "/datasets/?telescope=not-a-uuid").status_code == 400
    assert api("GET", "/datasets/?page=0").status_code == 400
    assert api("GET", "/datasets/?page_size=1001").status_code == 400
    assert api("GET", "/datasets/?page=abc").status_code == 400


def test_pagination_absolute_links_keep_filters(api):
    for i in range(5):
        api("POST", "/datasets/", {"name": "same", "description": str(i)})
    api("POST", "/datasets/", {"name": "other"})
    first = api("GET", "/datasets/?name=same&page_size=2").json
    assert first["count"] == 5 and first["previous"] is None
    assert [d["description"] for d in first["results"]] == ["0", "1"]  # creation order
    assert first["next"].startswith("http://localhost/datasets/?")
    assert "name=same" in first["next"] and "page_size=2" in first["next"]
    second = api("GET", first["next"]).json
    third = api("GET", second["next"]).json
    assert [d["description"] for d in second["results"] + third["results"]] == ["2", "3", "4"]
    assert third["next"] is None
    assert "page=2" in third["previous"] and "name=same" in third["previous"]
    past = api("GET", "/datasets/?name=same&page_size=2&page=4")
    assert past.status_code == 404 and past.json["detail"]
    assert api("GET", "/datasets/?name=nothing&page=1").json["count"] == 0


def test_default_page_size_is_100(api, db, alice):
    from arcsec_flask.repo import telescopes

    for i in range(101):
        telescopes.create(db, alice.account["owner_id"], {"name": f"T{i}"})
    page = api("GET", "/telescopes/").json
    assert len(page["results"]) == 100 and page["next"]


@pytest.mark.parametrize("resource", ["observingsites", "telescopes", "datasets"])
def test_verbs_and_405s(api, resource, client, alice):
    item = api("POST", f"/{resource}/", {"name": "x"}).json
    detail = f"/{resource}/{item['uuid']}/"
    for method, path in (
        ("PUT", f"/{resource}/"),
        ("PATCH", f"/{resource}/"),
        ("DELETE", f"/{resource}/"),
        ("PUT", detail),
        ("POST", detail),
    ):
        response = api(method, path, {"name": "y"})
        assert response.status_code == 405, (method, path)
        assert response.headers["Allow"] and response.json["detail"]
    assert set(api("PUT", detail).headers["Allow"].split(", ")) >= {"GET", "PATCH", "DELETE"}
    assert api("GET", f"/{resource}/not-a-uuid/").status_code == 404
    assert api("GET", f"/{resource}/{item['uuid'].upper()}/").status_code == 404
    assert api("GET", f"/{resource}/{uuid.uuid4()}/").status_code == 404
    assert api("GET", f"/{resource}").status_code == 404
    assert api("GET", detail.rstrip("/")).status_code == 404


def test_cross_account_access_is_404(client, alice, bob):
    mine = client.post("/datasets/", json={"name": "private"}, headers=alice.api).json
    url = f"/datasets/{mine['uuid']}/"
    assert client.get(url, headers=bob.api).status_code == 404
    assert client.patch(url, json={"name": "x"}, headers=bob.api).status_code == 404
    assert client.delete(url, headers=bob.api).status_code == 404
    assert client.get("/datasets/", headers=bob.api).json["count"] == 0
    assert client.get(url, headers=alice.api).json["name"] == "private"


def test_upload_key_scope(client, alice):
    key = alice.upload
    assert client.post("/telescopes/", json={"name": "T"}, headers=key).status_code == 403
    assert client.post("/observingsites/", json={"name": "S"}, headers=key).status_code == 403
    scope = client.post("/telescopes/", json={"name": "T"}, headers=alice.api).json
    assert client.get(f"/telescopes/{scope['uuid']}/", headers=key).status_code == 200
    assert client.get("/telescopes/", headers=key).json["count"] == 1
    dataset = client.post("/datasets/", json={"name": "D"}, headers=key)
    assert dataset.status_code == 201
    url = f"/datasets/{dataset.json['uuid']}/"
    assert client.patch(url, json={"name": "E"}, headers=key).status_code == 403
    assert client.delete(url, headers=key).status_code == 403
    assert client.delete(f"/telescopes/{scope['uuid']}/", headers=key).status_code == 403


ROLE_MATRIX = [
    # role, resource, expected status of POST
    ("visitor", "datasets", 403),
    ("visitor", "telescopes", 403),
    ("visitor", "observingsites", 403),
    ("member", "datasets", 201),
    ("member", "telescopes", 403),
    ("member", "observingsites", 403),
    ("admin", "datasets", 201),
    ("admin", "telescopes", 201),
    ("admin", "observingsites", 201),
    ("owner", "datasets", 201),
    ("owner", "telescopes", 201),
    ("owner", "observingsites", 201),
]


@pytest.mark.parametrize("role, resource, expected", ROLE_MATRIX)
def test_portal_role_matrix(client, make_user, make_org, alice, role, resource, expected):
    make_org("obs", alice)
    someone = make_user("someone")
    if role != "owner":
        from arcsec_flask.repo import organisations as orgs
        from arcsec_flask.repo.sqlite import connect

        conn = connect(client.application.config["DATABASE"])
        orgs.add_member(conn, "obs", "someone", role)
        conn.close()
    else:
        someone = alice
    existing = client.post(f"/obs/{resource}/", json={"name": "x"}, headers=alice.api).json
    assert client.get(f"/obs/{resource}/", headers=someone.api).json["count"] == 1
    created = client.post(f"/obs/{resource}/", json={"name": "y"}, headers=someone.api)
    assert created.status_code == expected
    can_edit = expected == 201
    patched = client.patch(
        f"/obs/{resource}/{existing['uuid']}/", json={"name": "z"}, headers=someone.api
    )
    assert patched.status_code == (200 if can_edit else 403)
    deleted = client.delete(f"/obs/{resource}/{existing['uuid']}/", headers=someone.api)
    assert deleted.status_code == (204 if can_edit else 403)


def test_portal_objects_are_the_organisations(client, make_org, alice, bob):
    make_org("obs", alice)
    portal = client.post("/obs/telescopes/", json={"name": "Portal T"}, headers=alice.api).json
    client.post("/telescopes/", json={"name": "Personal T"}, headers=alice.api)
    assert [
        t["name"] for t in client.get("/obs/telescopes/", headers=alice.api).json["results"]
    ] == ["Portal T"]
    assert [t["name"] for t in client.get("/telescopes/", headers=alice.api).json["results"]] == [
        "Personal T"
    ]
    assert client.get(f"/telescopes/{portal['uuid']}/", headers=alice.api).status_code == 404
    # Not a member: the organisation does not exist for them.
    assert client.get("/obs/telescopes/", headers=bob.api).status_code == 404
    assert client.get("/nowhere/telescopes/", headers=bob.api).status_code == 404
    assert client.post("/obs/datasets/", json={"name": "x"}, headers=bob.api).status_code == 404
    # A portal dataset cannot point at a personal telescope.
    personal = client.get("/telescopes/", headers=alice.api).json["results"][0]["uuid"]
    mixed = client.post(
        "/obs/datasets/", json={"name": "d", "telescope": personal}, headers=alice.api
    )
    assert mixed.status_code == 400


def test_pagination_links_under_a_portal(client, make_org, alice):
    make_org("obs", alice)
    for i in range(3):
        client.post("/obs/datasets/", json={"name": f"d{i}"}, headers=alice.api)
    page = client.get("/obs/datasets/?page_size=2", headers=alice.api).json
    assert page["next"] == "http://localhost/obs/datasets/?page_size=2&page=2"


def test_root_lists_these_resources(client):
    root = client.get("/").json
    for name in ("observingsites", "telescopes", "datasets"):
        assert root[name] == f"http://localhost/{name}/"


def test_every_route_has_an_access_rule(app):
    """No key-protected route can be left without a row in auth.ACCESS."""
    from arcsec_flask.web.auth import PUBLIC, rule_for

    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else None
        if blueprint is None or blueprint in PUBLIC:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert rule_for(blueprint, rule.endpoint, method), (rule.rule, method)
