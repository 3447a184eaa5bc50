"""Data packages (docs/API.md §6): CRUD in both URL forms, counts that follow the files,
public packages without a key, and the archive: a zip streamed as it is built."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

HEADER = "X-Arcsecond-API-Authorization"


@pytest.fixture
def files(client, alice):
    """Two datasets of alice's with a few files each."""
    made = {}
    for name, contents in (("M31 run", [b"a" * 10, b"bb" * 50]), ("Flats", [b"", b"c" * 7])):
        dataset = client.post("/datasets/", json={"name": name}, headers=alice.api).json
        for i, content in enumerate(contents):
            data = {"dataset": dataset["uuid"], "file": (io.BytesIO(content), f"f{i}.txt")}
            assert client.post("/datafiles/", data=data, headers=alice.upload).status_code == 201
        made[name] = (dataset, contents)
    return made


def _package(client, user, datasets, **fields):
    body = {"name": "For Bob", "datasets": [d["uuid"] for d in datasets], **fields}
    response = client.post("/datapackages/", json=body, headers=user.api)
    assert response.status_code == 201, response.json
    return response.json


def test_crud_and_counts(client, alice, files):
    run, flats = files["M31 run"][0], files["Flats"][0]
    package = _package(client, alice, [run, flats], description="Two nights")
    assert package["datasets"] == [run["uuid"], flats["uuid"]]
    assert (package["data_files_count"], package["size"]) == (4, 10 + 100 + 0 + 7)
    assert package["is_public"] is False
    assert package["archive"] == f"http://localhost/datapackages/{package['uuid']}/archive/"
    url = f"/datapackages/{package['uuid']}/"
    patched = client.patch(url, json={"datasets": [flats["uuid"]]}, headers=alice.api).json
    assert patched["datasets"] == [flats["uuid"]] and patched["size"] == 7
    data = {"dataset": flats["uuid"], "file": (io.BytesIO(b"new!"), "g.txt")}
    client.post("/datafiles/", data=data, headers=alice.upload)
    assert client.get(url, headers=alice.api).json["data_files_count"] == 3  # files follow
    assert (
        client.patch(url, json=client.get(url, headers=alice.api).json, headers=alice.api).json[
            "size"
        ]
        == 11
    )
    client.delete(f"/datasets/{flats['uuid']}/", headers=alice.api)
    emptied = client.get(url, headers=alice.api).json
    assert (emptied["datasets"], emptied["size"], emptied["data_files_count"]) == ([], 0, 0)
    assert client.get("/datapackages/?name=For+Bob", headers=alice.api).json["count"] == 1
    assert client.delete(url, headers=alice.upload).status_code == 403
    assert client.delete(url, headers=alice.api).status_code == 204
    assert client.get(url, headers=alice.api).status_code == 404


def test_datasets_of_the_same_owner_only(client, alice, bob, files):
    bobs = client.post("/datasets/", json={"name": "mine"}, headers=bob.api).json
    response = client.post(
        "/datapackages/", json={"name": "x", "datasets": [bobs["uuid"]]}, headers=alice.api
    )
    assert response.status_code == 400 and "datasets" in response.json["errors"]
    assert (
        client.post("/datapackages/", json={"name": "x"}, headers=alice.upload).status_code == 403
    )


def test_public_packages_without_a_key(client, alice, bob, files):
    public = _package(client, alice, [files["M31 run"][0]], is_public=True, name="Open")
    private = _package(client, alice, [files["Flats"][0]], name="Closed")
    anonymous = client.get("/datapackages/")
    assert anonymous.status_code == 200
    assert [p["uuid"] for p in anonymous.json["results"]] == [public["uuid"]]
    assert client.get(f"/datapackages/{public['uuid']}/").status_code == 200
    assert client.get(f"/datapackages/{private['uuid']}/").status_code == 404
    assert client.post("/datapackages/", json={"name": "x"}).status_code == 401
    assert client.patch(f"/datapackages/{public['uuid']}/", json={"name": "y"}).status_code == 401
    # With a key, one sees one's own: bob sees none of alice's, public or not.
    assert client.get("/datapackages/", headers=bob.api).json["count"] == 0
    assert client.get(f"/datapackages/{private['uuid']}/", headers=bob.api).status_code == 404
    assert client.get("/datapackages/", headers={HEADER: "Key wrong"}).status_code == 401


def test_portal_packages_and_roles(client, alice, make_user, make_org):
    vic, mia = make_user("vic"), make_user("mia")
    make_org("obs", alice, {"vic": "visitor", "mia": "member"})
    dataset = client.post("/obs/datasets/", json={"name": "d"}, headers=alice.api).json
    body = {"name": "P", "datasets": [dataset["uuid"]]}
    assert client.post("/obs/datapackages/", json=body, headers=vic.api).status_code == 403
    made = client.post("/obs/datapackages/", json=body, headers=mia.api)
    assert made.status_code == 201
    assert made.json["archive"].startswith("http://localhost/obs/datapackages/")
    assert client.get("/obs/datapackages/", headers=vic.api).json["count"] == 1
    assert client.get("/obs/datapackages/").json["count"] == 0  # not public
    client.patch(
        f"/obs/datapackages/{made.json['uuid']}/", json={"is_public": True}, headers=mia.api
    )
    assert client.get("/obs/datapackages/").json["count"] == 1
    assert client.get("/nope/datapackages/").status_code == 404
    assert client.get("/datapackages/", headers=mia.api).json["count"] == 0  # personal


def _zip(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(response.data))


def test_the_archive_holds_exactly_the_stored_bytes(client, alice, files):
    package = _package(client, alice, [files["M31 run"][0], files["Flats"][0]], name="Two/nights")
    with client.get(f"/datapackages/{package['uuid']}/archive/", headers=alice.api) as response:
        assert response.status_code == 200 and response.mimetype == "application/zip"
        assert int(response.headers["Content-Length"]) == len(response.data)
        assert "attachment" in response.headers["Content-Disposition"]
        assert ".zip" in response.headers["Content-Disposition"]
        archive = _zip(response)
    assert archive.testzip() is None
    got = {i.filename: hashlib.sha256(archive.read(i)).hexdigest() for i in archive.infolist()}
    want = {
        f"{name}/f{i}.txt": hashlib.sha256(content).hexdigest()
        for name, (_, contents) in files.items()
        for i, content in enumerate(contents)
    }
    assert got == want
    assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}


def test_the_archive_resumes_with_range(client, alice, files):
    package = _package(client, alice, [files["M31 run"][0], files["Flats"][0]])
    url = f"/datapackages/{package['uuid']}/archive/"
    with client.get(url, headers=alice.api) as whole:
        full, etag = whole.data, whole.headers["ETag"]
    cut = len(full) // 3
    with client.get(url, headers={**alice.api, "Range": f"bytes={cut}-"}) as rest:
        assert rest.status_code == 206
        assert rest.headers["Content-Range"] == f"bytes {cut}-{len(full) - 1}/{len(full)}"
        assert full[:cut] + rest.data == full
    changed = {**alice.api, "Range": f"bytes={cut}-", "If-Range": '"not-the-etag"'}
    with client.get(url, headers=changed) as again:
        assert again.status_code == 200 and again.data == full  # changed since: the whole zip
    same = {**alice.api, "Range": f"bytes={cut}-", "If-Range": etag}
    with client.get(url, headers=same) as resumed:
        assert resumed.status_code == 206
    with client.get(url, headers={**alice.api, "Range": f"bytes={len(full) + 5}-"}) as past:
        assert past.status_code == 416


def test_archive_access(client, alice, bob, files):
    private = _package(client, alice, [files["Flats"][0]])
    public = _package(client, alice, [files["M31 run"][0]], is_public=True)
    assert client.get(f"/datapackages/{private['uuid']}/archive/").status_code == 404
    assert (
        client.get(f"/datapackages/{private['uuid']}/archive/", headers=bob.api).status_code == 404
    )
    with client.get(f"/datapackages/{public['uuid']}/archive/") as anonymous:
        assert anonymous.status_code == 200 and _zip(anonymous).testzip() is None
    upload_key = client.get(f"/datapackages/{private['uuid']}/archive/", headers=alice.upload)
    assert upload_key.status_code == 403  # file contents need the api key (docs/API.md §3)
    assert client.get(f"/datapackages/{private['uuid']}/", headers=alice.upload).status_code == 200
