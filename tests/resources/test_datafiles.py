"""Data files over HTTP: upload, refusals that leave nothing behind, reads, edits, deletes."""

from __future__ import annotations

import hashlib
import io

import pytest

from arcsec_flask.repo.datafiles import HEADER_FIELDS as HEADER_FIELD_NAMES
from tests.support.factories import write_fits, write_xisf

LIGHT = {"IMAGETYP": "LIGHT", "OBJECT": "M31", "DATE-OBS": "2024-03-01T21:00:00"}


@pytest.fixture
def setup(client, alice):
    """A site in Paris, a telescope there, and a dataset on it."""
    site = client.post(
        "/observingsites/", json={"name": "OHP", "time_zone": "Europe/Paris"}, headers=alice.api
    ).json
    scope = client.post(
        "/telescopes/", json={"name": "T", "observing_site": site["uuid"]}, headers=alice.api
    ).json
    dataset = client.post(
        "/datasets/", json={"name": "M31", "telescope": scope["uuid"]}, headers=alice.upload
    ).json
    return {"site": site, "telescope": scope, "dataset": dataset}


@pytest.fixture
def upload(client, alice, setup):
    def send(content: bytes | str, name: str, dataset: str | None = None, headers=None, **fields):
        body = content if isinstance(content, bytes) else open(content, "rb").read()  # noqa: SIM115
        data = {
            "dataset": dataset or setup["dataset"]["uuid"],
            **fields,
            "file": (io.BytesIO(body), name),
        }
        return client.post("/datafiles/", data=data, headers=headers or alice.upload)

    return send


def stored_files(app) -> list:
    from pathlib import Path

    return sorted(p for p in Path(app.config["FILES_DIR"]).rglob("*") if p.is_file())


def test_upload_a_fits_file(upload, client, alice, setup, tmp_path, app):
    path = write_fits(tmp_path / "m31.fits", LIGHT)
    response = upload(path.read_bytes(), "m31.fits", is_raw="False", tags="m31, lrgb")
    assert response.status_code == 201, response.json
    f = response.json
    assert f["id"] == f["pk"] and isinstance(f["id"], int)
    assert f["name"] == "m31.fits" and f["dataset"] == setup["dataset"]["uuid"]
    assert f["size"] == path.stat().st_size
    assert f["checksum"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert f["format"] == "fits" and f["compression"] is None
    assert f["is_raw"] is False and f["tags"] == ["m31", "lrgb"]
    assert f["date_obs"] == "2024-03-01T21:00:00.000000Z"
    assert f["observation"] and f["night_log"] and f["calibration"] is None
    assert f["file"] == f"http://localhost/datafiles/{f['id']}/file/"
    content = client.get(f["file"], headers=alice.api)
    assert content.status_code == 200 and content.data == path.read_bytes()
    assert content.headers["Content-Type"] == "image/fits"
    assert 'filename="m31.fits"' in content.headers["Content-Disposition"]
    content.close()
    part = client.get(f["file"], headers={**alice.api, "Range": "bytes=80-159"})
    assert part.status_code == 206 and part.data == path.read_bytes()[80:160]
    assert part.headers["Content-Range"] == f"bytes 80-159/{f['size']}"
    part.close()
    assert client.get(f["file"], headers=alice.upload).status_code == 403
    assert len(stored_files(app)) == 1
    assert client.get("/datasets/", headers=alice.api).json["results"][0]["data_files_count"] == 1


@pytest.mark.parametrize(
    "is_raw, expected", [("True", True), ("false", False), ("FALSE", False), ("true", True)]
)
def test_is_raw_in_any_case(upload, is_raw, expected):
    assert upload(b"hello", "a.txt", is_raw=is_raw).json["is_raw"] is expected


def test_tags_as_repeated_parts(client, alice, setup):
    data = {
        "dataset": setup["dataset"]["uuid"],
        "tags": ["a", "b,c"],
        "file": (io.BytesIO(b"x"), "t.txt"),
    }
    response = client.post("/datafiles/", data=data, headers=alice.upload)
    assert response.json["tags"] == ["a", "b", "c"]


def test_duplicate_name_in_a_dataset(upload, app, client, alice, setup):
    assert upload(b"first", "same.txt").status_code == 201
    again = upload(b"second", "same.txt")
    assert again.status_code == 400
    assert "already exists in dataset" in again.json["detail"]
    assert len(stored_files(app)) == 1
    other = client.post("/datasets/", json={"name": "other"}, headers=alice.api).json
    assert upload(b"second", "same.txt", dataset=other["uuid"]).status_code == 201


@pytest.mark.parametrize(
    "sent, stored",
    [
        ("../../etc/passwd", "passwd"),
        ("folder/sub/m 31 é.txt", "m 31 é.txt"),
    ],
)
def test_only_the_base_name_is_kept(upload, sent, stored, app):
    response = upload(b"data", sent)
    assert response.status_code == 201 and response.json["name"] == stored
    assert all(".." not in str(p) for p in stored_files(app))


@pytest.mark.parametrize(
    "sent, stored",
    [("C:\\data\\night\\f.fits", "f.fits"), ("a/b\\c.fit", "c.fit"), (" m31.fits ", "m31.fits")],
)
def test_base_name(sent, stored):
    from arcsec_flask.domain.names import base_name

    assert base_name(sent) == stored


@pytest.mark.parametrize("name", ["", ".", "..", "dir/", "a\x00b.fits", "bad\x01.txt", "x" * 300])
def test_unusable_names_are_refused(upload, app, name):
    response = upload(b"data", name)
    assert response.status_code == 400 and "file" in response.json.get("errors", {})
    assert stored_files(app) == []


def test_refusals_leave_nothing(upload, client, alice, bob, app, setup):
    from uuid import uuid4

    bobs = client.post("/datasets/", json={"name": "b"}, headers=bob.api).json
    cases = [
        upload(b"x", "a.txt", dataset=str(uuid4())),
        upload(b"x", "a.txt", dataset="not-a-uuid"),
        upload(b"x", "a.txt", dataset=bobs["uuid"]),
        upload(b"x", "a.txt", colour="red"),
        client.post(
            "/datafiles/", data={"dataset": setup["dataset"]["uuid"]}, headers=alice.upload
        ),
        client.post(
            "/datafiles/", json={"dataset": setup["dataset"]["uuid"]}, headers=alice.upload
        ),
    ]
    assert [r.status_code for r in cases] == [400] * len(cases)
    assert all(r.json["detail"] for r in cases)
    assert stored_files(app) == []
    assert client.get("/datafiles/", headers=alice.api).json["count"] == 0


@pytest.mark.parametrize(
    "content, name, kind",
    [
        (b"SIMPLE  =                    T" + b" " * 50, "cut.fits", "fits"),
        (b"this is not a FITS file at all\n" * 10, "notes.fits", "fits"),
        (b"<html><body>Not found</body></html>", "page.fits.gz", "fits"),
        (b"XISF0100" + b"\xff\xff\xff\x7f" + b"\0" * 4 + b"<xisf/>", "bad.xisf", "xisf"),
    ],
)
def test_unreadable_headers_are_stored_as_sent_and_flagged(
    upload, client, alice, app, content, name, kind
):
    """docs/API.md §8: a file is never refused for its content (the client would abort the
    night after a second refusal); it is kept byte for byte, flagged, and filed nowhere."""
    response = upload(content, name)
    assert response.status_code == 201
    found = response.json
    assert found["header_status"] == "unreadable" and found["format"] == kind
    assert found["header_error"] and "." in found["header_error"]
    assert found["observation"] is found["calibration"] is found["night_log"] is None
    assert found["checksum"] == hashlib.sha256(content).hexdigest()
    with client.get(f"/datafiles/{found['id']}/file/", headers=alice.api) as stored:
        assert stored.data == content
    flagged = client.get("/datafiles/?header_status=unreadable", headers=alice.api).json
    assert [f["id"] for f in flagged["results"]] == [found["id"]]
    assert client.get("/datafiles/?header_status=read", headers=alice.api).json["count"] == 0
    again = upload(content, name)  # a re-run skips it, as any duplicate
    assert again.status_code == 400 and "already exists in dataset" in again.json["detail"]


def test_header_status_says_read_or_none(upload, tmp_path):
    light = upload(write_fits(tmp_path / "l.fits", LIGHT).read_bytes(), "l.fits").json
    text = upload(b"log of the night", "night.txt").json
    assert (light["header_status"], light["header_error"]) == ("read", None)
    assert (text["header_status"], text["header_error"]) == ("none", None)


def test_header_status_filter_is_checked(client, alice):
    response = client.get("/datafiles/?header_status=maybe", headers=alice.api)
    assert response.status_code == 400 and "header_status" in response.json["errors"]


def test_empty_and_plain_files_are_stored_as_other(upload):
    empty = upload(b"", "empty.fits")
    assert empty.status_code == 201
    assert empty.json["format"] == "other" and empty.json["size"] == 0
    assert empty.json["observation"] is None and empty.json["night_log"] is None
    text = upload(b"observing log\n", "log.txt").json
    assert (
        text["format"] == "other"
        and text["checksum"] == hashlib.sha256(b"observing log\n").hexdigest()
    )


def test_header_endpoint_keeps_order_and_repeats(upload, client, alice, tmp_path):
    path = write_fits(
        tmp_path / "f.fits",
        [("IMAGETYP", "Flat Field"), ("COMMENT", "one"), ("COMMENT", "two"), ("HISTORY", "made")],
    )
    f = upload(path.read_bytes(), "f.fits").json
    cards = client.get(f"/datafiles/{f['id']}/header/", headers=alice.upload).json
    keys = [c["key"] for c in cards]
    assert keys.index("IMAGETYP") < keys.index("COMMENT")
    assert [c["value"] for c in cards if c["key"] == "COMMENT"] == ["one", "two"]
    assert {"key": "IMAGETYP", "value": "Flat Field", "comment": ""} in cards
    assert f["calibration"] and f["observation"] is None


def test_xisf_upload(upload, client, alice, tmp_path):
    path = write_xisf(
        tmp_path / "d.xisf",
        {"OBJECT": "M42", "DATE-OBS": "2024-03-01T22:00:00"},
        image_type="MasterDark",
    )
    f = upload(path.read_bytes(), "d.xisf").json
    assert f["format"] == "xisf" and f["calibration"]
    cal = client.get(f"/calibrations/{f['calibration']}/", headers=alice.api).json
    assert cal["type"] == "Darks"


def test_filters_patch_and_delete(upload, client, alice, app, tmp_path):
    a = upload(write_fits(tmp_path / "a.fits", LIGHT).read_bytes(), "a.fits").json
    b = upload(b"text", "b.txt", is_raw="False").json
    url = "/datafiles/"

    def ids(query):
        response = client.get(f"{url}?{query}", headers=alice.api)
        assert response.status_code == 200, response.json
        return [f["id"] for f in response.json["results"]]

    assert ids("") == [a["id"], b["id"]]
    assert ids("name=b.txt") == [b["id"]]
    assert ids("is_raw=false") == [b["id"]]
    assert ids(f"observation={a['observation']}") == [a["id"]]
    assert ids(f"night_log={a['night_log']}") == [a["id"]]
    assert ids(f"dataset={a['dataset']}") == [a["id"], b["id"]]
    assert client.get(f"{url}?size=4", headers=alice.api).status_code == 400
    patched = client.patch(
        f"{url}{b['id']}/", json={"is_raw": True, "tags": ["x"]}, headers=alice.api
    )
    assert patched.status_code == 200 and patched.json["is_raw"] and patched.json["tags"] == ["x"]
    # docs/API.md §4a: `name` is read-only: sent back, it is ignored (DRF), never renamed.
    renamed = client.patch(f"{url}{b['id']}/", json={"name": "c"}, headers=alice.api)
    assert renamed.status_code == 200 and renamed.json["name"] == b["name"]
    unknown = client.patch(f"{url}{b['id']}/", json={"nmae": "c"}, headers=alice.api)
    assert unknown.status_code == 400 and "nmae" in unknown.json["errors"]
    assert (
        client.patch(f"{url}{b['id']}/", json={"tags": ["y"]}, headers=alice.upload).status_code
        == 403
    )
    for bad in ("abc", "-1", "1.0", "99999999999999999999"):
        assert client.get(f"{url}{bad}/", headers=alice.api).status_code == 404
    assert client.delete(f"{url}{a['id']}/", headers=alice.upload).status_code == 403
    assert client.delete(f"{url}{a['id']}/", headers=alice.api).status_code == 204
    assert client.get(f"{url}{a['id']}/", headers=alice.api).status_code == 404
    assert client.get(f"/observations/{a['observation']}/", headers=alice.api).status_code == 404
    assert client.get(f"/nightlogs/{a['night_log']}/", headers=alice.api).status_code == 404
    assert len(stored_files(app)) == 1


def test_deleting_a_dataset_removes_its_files(upload, client, alice, setup, app):
    upload(b"one", "1.txt")
    upload(b"two", "2.txt")
    assert len(stored_files(app)) == 2
    assert (
        client.delete(f"/datasets/{setup['dataset']['uuid']}/", headers=alice.api).status_code
        == 204
    )
    assert stored_files(app) == []
    assert client.get("/datafiles/", headers=alice.api).json["count"] == 0


def test_other_accounts_see_nothing(upload, client, bob):
    f = upload(b"secret", "s.txt").json
    for path in (
        f"/datafiles/{f['id']}/",
        f"/datafiles/{f['id']}/header/",
        f"/datafiles/{f['id']}/file/",
    ):
        assert client.get(path, headers=bob.api).status_code == 404
    assert client.get("/datafiles/", headers=bob.api).json["count"] == 0


def test_portal_uploads(client, make_org, make_user, alice):
    carol = make_user("carol")
    vera = make_user("vera")
    make_org("obs", alice, {"carol": "member", "vera": "visitor"})
    dataset = client.post("/obs/datasets/", json={"name": "d"}, headers=carol.upload).json
    data = {"dataset": dataset["uuid"], "file": (io.BytesIO(b"x"), "x.txt")}
    created = client.post("/obs/datafiles/", data=data, headers=carol.upload)
    assert created.status_code == 201
    assert created.json["file"] == f"http://localhost/obs/datafiles/{created.json['id']}/file/"
    data = {"dataset": dataset["uuid"], "file": (io.BytesIO(b"x"), "y.txt")}
    assert client.post("/obs/datafiles/", data=data, headers=vera.upload).status_code == 403
    assert client.get("/obs/datafiles/", headers=vera.upload).json["count"] == 1
    # A personal route cannot reach a portal dataset.
    data = {"dataset": dataset["uuid"], "file": (io.BytesIO(b"x"), "z.txt")}
    assert client.post("/datafiles/", data=data, headers=carol.upload).status_code == 400


def test_header_fields_are_served(upload, client, alice, tmp_path):
    """The values read from the header are in the datafile's JSON (docs/API.md §6)."""
    from tests.support.factories import light_frame_cards

    path = write_fits(tmp_path / "l.fits", light_frame_cards())
    f = upload(path.read_bytes(), "m31_ha_001.fits").json
    assert {k: f[k] for k in HEADER_FIELD_NAMES} == {
        "target_name": "M31",
        "date_obs_source": "DATE-OBS",
        "exposure_time": 60.0,
        "filter_name": "Ha",
        "frame_type": "light",
        "instrument_name": "ZWO ASI2600MM Pro",
        "telescope_name": "RC8",
        "binning": "1x1",
        "ccd_temperature": -10.1,
    }
    assert client.get(f"/datafiles/{f['id']}/", headers=alice.api).json == f
    plain = upload(b"hello", "notes.txt").json
    assert all(plain[k] is None for k in HEADER_FIELD_NAMES)


@pytest.fixture
def frames(upload, tmp_path):
    """Four frames of one night: Ha and OIII lights, a 2x2 dark, a flat."""
    specs = {
        "ha.fits": {**LIGHT, "FILTER": "Ha", "EXPTIME": 300.0, "INSTRUME": "ASI2600MM"},
        "oiii.fits": {
            **LIGHT,
            "FILTER": "OIII",
            "EXPTIME": 120.0,
            "DATE-OBS": "2024-03-01T22:00:00",
            "TELESCOP": "RC8",
        },
        "dark.fits": {
            "IMAGETYP": "DARK",
            "EXPTIME": 300.0,
            "XBINNING": 2,
            "DATE-OBS": "2024-03-02T05:00:00",
        },
        "flat.fits": {"IMAGETYP": "FLAT", "FILTER": "Ha", "DATE-OBS": "2024-03-01T18:00:00"},
    }
    ids = {}
    for name, cards in specs.items():
        response = upload(write_fits(tmp_path / name, cards).read_bytes(), name)
        assert response.status_code == 201, response.json
        ids[name] = response.json["id"]
    return ids


@pytest.mark.parametrize(
    "query, names",
    [
        ("frame_type=light", {"ha.fits", "oiii.fits"}),
        ("frame_type=dark", {"dark.fits"}),
        ("filter_name=Ha", {"ha.fits", "flat.fits"}),
        ("filter_name=ha", set()),  # exact, as every filter (docs/API.md §4)
        ("frame_type=flat&filter_name=Ha", {"flat.fits"}),
        ("exposure_time=300", {"ha.fits", "dark.fits"}),
        ("exposure_time=300.0", {"ha.fits", "dark.fits"}),
        ("exposure_time__gte=150", {"ha.fits", "dark.fits"}),
        ("exposure_time__lte=150", {"oiii.fits"}),
        ("exposure_time__gte=100&exposure_time__lte=200", {"oiii.fits"}),
        ("binning=2x2", {"dark.fits"}),
        ("instrument_name=ASI2600MM", {"ha.fits"}),
        ("telescope_name=RC8", {"oiii.fits"}),
        ("target_name=M31", {"ha.fits", "oiii.fits"}),
        ("date_obs__gte=2024-03-01T21:30:00", {"oiii.fits", "dark.fits"}),
        ("date_obs__gte=2024-03-01T22:30:00%2B01:00", {"oiii.fits", "dark.fits"}),
        ("date_obs__lte=2024-03-01T21:00:00Z", {"ha.fits", "flat.fits"}),
        ("date_obs__gte=2024-03-02", {"dark.fits"}),
        ("date_obs__gte=2024-03-01T19:00:00&date_obs__lte=2024-03-01T23:00:00", None),
    ],
)
def test_header_field_filters(frames, client, alice, query, names):
    expected = {"ha.fits", "oiii.fits"} if names is None else names
    page = client.get(f"/datafiles/?{query}", headers=alice.api)
    assert page.status_code == 200, page.json
    assert {f["name"] for f in page.json["results"]} == expected
    assert page.json["count"] == len(expected)


@pytest.mark.parametrize(
    "query, field",
    [
        ("frame_type=science", "frame_type"),
        ("exposure_time=nan", "exposure_time"),
        ("exposure_time=-1", "exposure_time"),
        ("exposure_time=1e400", "exposure_time"),
        ("exposure_time__gte=ten", "exposure_time__gte"),
        ("binning=2", "binning"),
        ("date_obs__gte=yesterday", "date_obs__gte"),
        ("date_obs__lte=2024-13-01", "date_obs__lte"),
        ("date_obs__gt=2024-03-01", "date_obs__gt"),  # not a filter: named, never ignored
    ],
)
def test_header_field_filters_are_checked(client, alice, query, field):
    response = client.get(f"/datafiles/?{query}", headers=alice.api)
    assert response.status_code == 400 and field in response.json["errors"], response.json


def test_header_field_filters_use_the_indexes(db):
    """The observer's filters (a dataset's darks, its Ha flats; a filter) are indexed."""
    dataset = "EXPLAIN QUERY PLAN SELECT id FROM datafiles WHERE dataset_id = 1"
    plans = {
        "frame": db.execute(dataset + " AND frame_type = 'dark'").fetchall(),
        "flat": db.execute(dataset + " AND frame_type = 'flat' AND filter_name = 'Ha'").fetchall(),
        "filter": db.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM datafiles WHERE filter_name = 'Ha'"
        ).fetchall(),
    }
    details = {k: " ".join(r["detail"] for r in v) for k, v in plans.items()}
    assert "datafiles_dataset_frame_type (dataset_id=? AND frame_type=?)" in details["frame"]
    assert "frame_type=? AND filter_name=?" in details["flat"]
    assert "datafiles_filter_name (filter_name=?)" in details["filter"]
