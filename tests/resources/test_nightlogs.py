"""Night logs, observations and calibrations: derived from uploads, and kept right."""

from __future__ import annotations

import io

import pytest

from tests.support.factories import write_fits


@pytest.fixture
def night(client, alice, tmp_path):
    """La Silla (America/Santiago, UTC-3 in March), a telescope, a dataset, and a night's files."""
    api = alice.api
    site = client.post(
        "/observingsites/", json={"name": "La Silla", "time_zone": "America/Santiago"}, headers=api
    ).json
    scope = client.post(
        "/telescopes/", json={"name": "T", "observing_site": site["uuid"]}, headers=api
    ).json
    dataset = client.post(
        "/datasets/", json={"name": "run", "telescope": scope["uuid"]}, headers=api
    ).json
    frames = {
        # name: (cards); times are UTC
        "m31_1.fits": {"IMAGETYP": "LIGHT", "OBJECT": "M31", "DATE-OBS": "2024-03-01T23:00:00"},
        "m31_2.fits": {
            "IMAGETYP": "Light Frame",
            "OBJECT": "M31",
            "DATE-OBS": "2024-03-02T02:00:00",
        },
        "m42.fits": {"IMAGETYP": "LIGHT", "OBJECT": "M42", "DATE-OBS": "2024-03-02T01:00:00"},
        "bias.fits": {"IMAGETYP": "Bias Frame", "DATE-OBS": "2024-03-01T22:00:00"},
        "dark.fits": {"IMAGETYP": "DARK", "DATE-OBS": "2024-03-01T22:10:00"},
        # 11:59:59 local: still the night of 03-01.
        "flat.fits": {"IMAGETYP": "FLAT", "DATE-OBS": "2024-03-02T14:59:59"},
        # Exactly local noon: opens the night of 03-02.
        "noon.fits": {"IMAGETYP": "LIGHT", "OBJECT": "M31", "DATE-OBS": "2024-03-02T15:00:00"},
    }
    files = {}
    for name, cards in frames.items():
        content = write_fits(tmp_path / name, cards).read_bytes()
        data = {"dataset": dataset["uuid"], "file": (io.BytesIO(content), name)}
        response = client.post("/datafiles/", data=data, headers=alice.upload)
        assert response.status_code == 201, response.json
        files[name] = response.json
    return {"site": site, "telescope": scope, "dataset": dataset, "files": files}


def nights_of(client, alice, files) -> dict[str, str | None]:
    """file name -> night log date."""
    logs = {
        n["uuid"]: n["date"] for n in client.get("/nightlogs/", headers=alice.api).json["results"]
    }
    result = {}
    for f in client.get("/datafiles/", headers=alice.api).json["results"]:
        result[f["name"]] = logs.get(f["night_log"]) if f["night_log"] else None
    return result


def test_nights_observations_and_calibrations(client, alice, night):
    logs = client.get("/nightlogs/", headers=alice.upload).json
    assert [n["date"] for n in logs["results"]] == ["2024-03-01", "2024-03-02"]
    first, second = logs["results"]
    assert first["telescope"] == night["telescope"]["uuid"]
    files = night["files"]
    assert files["m31_1.fits"]["observation"] == files["m31_2.fits"]["observation"]
    assert files["m31_1.fits"]["observation"] != files["m42.fits"]["observation"]
    assert files["noon.fits"]["night_log"] == second["uuid"]
    assert files["flat.fits"]["night_log"] == first["uuid"]
    assert len(first["observations"]) == 2 and len(first["calibrations"]) == 3
    assert len(second["observations"]) == 1 and second["calibrations"] == []
    m31 = client.get(f"/observations/{files['m31_1.fits']['observation']}/", headers=alice.api).json
    assert m31 == {
        **m31,
        "name": "M31",
        "target_name": "M31",
        "night_log": first["uuid"],
        "data_files_count": 2,
    }
    types = {c["type"]: c for c in client.get("/calibrations/", headers=alice.api).json["results"]}
    assert set(types) == {"Biases", "Darks", "Flats"}
    assert types["Biases"]["name"] == "Biases" and types["Biases"]["data_files_count"] == 1


def test_filters_of_derived_resources(client, alice, night):
    first = client.get("/nightlogs/?date=2024-03-01", headers=alice.api).json["results"][0]
    assert (
        client.get(f"/nightlogs/?telescope={night['telescope']['uuid']}", headers=alice.api).json[
            "count"
        ]
        == 2
    )
    assert client.get("/nightlogs/?date=2024-13-01", headers=alice.api).status_code == 400
    obs = client.get(f"/observations/?night_log={first['uuid']}&target_name=M31", headers=alice.api)
    assert obs.json["count"] == 1
    assert client.get("/calibrations/?type=Biases", headers=alice.api).json["count"] == 1
    assert client.get("/calibrations/?type=Lights", headers=alice.api).status_code == 400
    assert client.get("/observations/?colour=red", headers=alice.api).status_code == 400
    by_obs = client.get(
        f"/datafiles/?observation={obs.json['results'][0]['uuid']}", headers=alice.api
    )
    assert sorted(f["name"] for f in by_obs.json["results"]) == ["m31_1.fits", "m31_2.fits"]


def test_notes_and_verbs(client, alice, bob, night):
    log = client.get("/nightlogs/", headers=alice.api).json["results"][0]
    url = f"/nightlogs/{log['uuid']}/"
    patched = client.patch(url, json={"notes": 'Clear, seeing 0.8"'}, headers=alice.api)
    assert patched.status_code == 200 and patched.json["notes"] == 'Clear, seeing 0.8"'
    # docs/API.md §4a: a read-only field sent back is ignored, as Django REST framework does.
    unchanged = client.patch(url, json={"date": "2024-01-01"}, headers=alice.api)
    assert unchanged.status_code == 200 and unchanged.json["date"] == log["date"]
    assert client.patch(url, json={"notes": "x"}, headers=alice.upload).status_code == 403
    assert client.post("/nightlogs/", json={}, headers=alice.api).status_code == 400
    held = client.delete(url, headers=alice.api)  # it holds files: only empty ones go
    assert held.status_code == 400 and "data files" in held.json["detail"]
    assert client.put(url, json={}, headers=alice.api).status_code == 405
    assert client.get(url, headers=bob.api).status_code == 404
    assert client.get("/nightlogs/", headers=bob.api).json["count"] == 0
    obs = client.get("/observations/", headers=alice.api).json["results"][0]
    renamed = client.patch(
        f"/observations/{obs['uuid']}/", json={"name": "Andromeda"}, headers=alice.api
    )
    assert renamed.json["name"] == "Andromeda" and renamed.json["target_name"] == "M31"


def test_site_time_zone_change_moves_files_between_nights(client, alice, night):
    site_url = f"/observingsites/{night['site']['uuid']}/"
    client.patch(site_url, json={"time_zone": "Asia/Tokyo"}, headers=alice.api)  # UTC+9
    assert nights_of(client, alice, night["files"]) == {
        "m31_1.fits": "2024-03-01",  # 08:00 local on 03-02: still the night of 03-01
        "m31_2.fits": "2024-03-01",  # 11:00 local on 03-02
        "m42.fits": "2024-03-01",
        "bias.fits": "2024-03-01",
        "dark.fits": "2024-03-01",
        "flat.fits": "2024-03-02",  # 23:59:59 local on 03-02
        "noon.fits": "2024-03-02",  # 00:00 local on 03-03
    }


def test_dataset_telescope_changes_follow(client, alice, night):
    dataset_url = f"/datasets/{night['dataset']['uuid']}/"
    log = client.get("/nightlogs/?date=2024-03-01", headers=alice.api).json["results"][0]
    client.patch(f"/nightlogs/{log['uuid']}/", json={"notes": "keep me"}, headers=alice.api)
    client.patch(dataset_url, json={"telescope": None}, headers=alice.api)
    files = client.get("/datafiles/", headers=alice.api).json["results"]
    assert all(f["night_log"] is None for f in files)
    # Without a night log, files still share one observation per target in their dataset.
    m31 = {f["observation"] for f in files if f["name"].startswith(("m31", "noon"))}
    assert len(m31) == 1 and None not in m31
    obs = client.get(f"/observations/{m31.pop()}/", headers=alice.api).json
    assert obs["night_log"] is None and obs["data_files_count"] == 3
    remaining = client.get("/nightlogs/", headers=alice.api).json["results"]
    assert [n["notes"] for n in remaining] == ["keep me"]  # notes are never lost
    # Attaching a telescope again derives the nights again.
    client.patch(dataset_url, json={"telescope": night["telescope"]["uuid"]}, headers=alice.api)
    assert set(nights_of(client, alice, night["files"]).values()) == {"2024-03-01", "2024-03-02"}
    assert client.get("/nightlogs/", headers=alice.api).json["results"][0]["uuid"] == log["uuid"]


def test_telescope_site_changes_and_deletion(client, alice, night):
    scope_url = f"/telescopes/{night['telescope']['uuid']}/"
    auckland = client.post(
        "/observingsites/",
        json={"name": "Mt John", "time_zone": "Pacific/Auckland"},
        headers=alice.api,
    ).json
    client.patch(scope_url, json={"observing_site": auckland["uuid"]}, headers=alice.api)
    # NZDT is UTC+13 in March: 2024-03-01T22:00Z is 11:00 local on 03-02 (night of 03-01),
    # 2024-03-01T23:00Z is local noon on 03-02 (night of 03-02).
    dates = nights_of(client, alice, night["files"])
    assert dates["bias.fits"] == "2024-03-01" and dates["m31_1.fits"] == "2024-03-02"
    client.patch(scope_url, json={"observing_site": None}, headers=alice.api)
    assert set(nights_of(client, alice, night["files"]).values()) == {None}
    client.patch(scope_url, json={"observing_site": night["site"]["uuid"]}, headers=alice.api)
    assert client.delete(scope_url, headers=alice.api).status_code == 204
    assert client.get("/nightlogs/", headers=alice.api).json["count"] == 0
    files = client.get("/datafiles/", headers=alice.api).json["results"]
    assert all(f["night_log"] is None and (f["observation"] or f["calibration"]) for f in files)


def test_site_deletion(client, alice, night):
    client.delete(f"/observingsites/{night['site']['uuid']}/", headers=alice.api)
    assert client.get("/nightlogs/", headers=alice.api).json["count"] == 0
    assert client.get("/calibrations/", headers=alice.api).json["count"] == 3


def test_files_without_dates_or_frame_types(client, alice, night, tmp_path):
    dataset = night["dataset"]["uuid"]
    for name, cards in {
        "Bias_001.fits": {"OBJECT": ""},
        "undated.fits": {"IMAGETYP": "LIGHT"},
    }.items():
        content = write_fits(tmp_path / name, cards).read_bytes()
        data = {"dataset": dataset, "file": (io.BytesIO(content), name)}
        f = client.post("/datafiles/", data=data, headers=alice.upload).json
        assert f["night_log"] is None and f["date_obs"] is None
        if name.startswith("Bias"):
            cal = client.get(f"/calibrations/{f['calibration']}/", headers=alice.api).json
            assert cal["type"] == "Biases"
        else:
            assert f["observation"]


def test_night_logs_made_by_hand(client, alice, bob, night, tmp_path):
    """Notes for a night before its files arrive (docs/API.md §6): made by hand, kept while
    empty, joined by the files of its night, deletable only while empty."""
    scope = night["telescope"]["uuid"]
    made = client.post(
        "/nightlogs/",
        json={"telescope": scope, "date": "2024-03-10", "notes": "Dome shutter stuck."},
        headers=alice.api,
    )
    assert made.status_code == 201, made.json
    log = made.json
    assert (log["date"], log["telescope"], log["data_files_count"]) == ("2024-03-10", scope, 0)
    twice = client.post(
        "/nightlogs/", json={"telescope": scope, "date": "2024-03-10"}, headers=alice.api
    )
    assert twice.status_code == 400 and "date" in twice.json["errors"]
    assert (
        client.post(  # the night of 03-01 exists already, made by its files
            "/nightlogs/", json={"telescope": scope, "date": "2024-03-01"}, headers=alice.api
        ).status_code
        == 400
    )
    for bad in ({"date": "2024-03-11"}, {"telescope": scope}, {"telescope": scope, "date": "x"}):
        assert client.post("/nightlogs/", json=bad, headers=alice.api).status_code == 400
    stranger = bob.api
    assert (
        client.post(
            "/nightlogs/", json={"telescope": scope, "date": "2024-03-12"}, headers=stranger
        ).status_code
        == 400
    )  # not bob's telescope
    assert (
        client.post(
            "/nightlogs/", json={"telescope": scope, "date": "2024-03-12"}, headers=alice.upload
        ).status_code
        == 403
    )

    # Deleting another night's file prunes empty derived logs, never a hand-made one.
    client.delete(f"/datafiles/{night['files']['noon.fits']['id']}/", headers=alice.api)
    assert client.get(f"/nightlogs/{log['uuid']}/", headers=alice.api).status_code == 200

    # A frame of that night (22:00 local, 01:00 UTC next day) joins the hand-made log.
    cards = {"IMAGETYP": "LIGHT", "OBJECT": "M51", "DATE-OBS": "2024-03-11T01:00:00"}
    content = write_fits(tmp_path / "m51.fits", cards).read_bytes()
    data = {"dataset": night["dataset"]["uuid"], "file": (io.BytesIO(content), "m51.fits")}
    frame = client.post("/datafiles/", data=data, headers=alice.upload).json
    assert frame["night_log"] == log["uuid"]
    joined = client.get(f"/nightlogs/{log['uuid']}/", headers=alice.api).json
    assert joined["notes"] == "Dome shutter stuck." and joined["data_files_count"] == 1
    assert client.delete(f"/nightlogs/{log['uuid']}/", headers=alice.api).status_code == 400

    # Once empty again it stays (made by hand) until deleted by hand.
    assert client.delete(f"/datafiles/{frame['id']}/", headers=alice.api).status_code == 204
    assert client.get(f"/nightlogs/{log['uuid']}/", headers=alice.api).json["notes"]
    assert client.delete(f"/nightlogs/{log['uuid']}/", headers=alice.upload).status_code == 403
    assert client.delete(f"/nightlogs/{log['uuid']}/", headers=alice.api).status_code == 204
    assert client.get(f"/nightlogs/{log['uuid']}/", headers=alice.api).status_code == 404


def test_a_night_log_is_named_by_its_date_and_telescope(client, alice, night):
    logs = client.get("/nightlogs/", headers=alice.api).json["results"]
    assert sorted(n["name"] for n in logs) == ["2024-03-01 T", "2024-03-02 T"]
    found = client.get("/nightlogs/", query_string={"name": "2024-03-02 T"}, headers=alice.api)
    assert [n["date"] for n in found.json["results"]] == ["2024-03-02"]
    renamed = client.patch(f"/nightlogs/{logs[0]['uuid']}/", json={"name": "x"}, headers=alice.api)
    assert renamed.status_code == 200 and renamed.json["name"] == logs[0]["name"]  # read-only
