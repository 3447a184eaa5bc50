"""`echo | arcsecond upload FOLDER -d NAME -t UUID` with the real client, on a night's folder
written in the header styles of many acquisition programs (docs/formats.md)."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.support.factories import LIGHT_CARDS, write_fits, write_xisf
from tests.support.servers import start_gunicorn

pytestmark = pytest.mark.client
HEADER = "X-Arcsecond-API-Authorization"
NIGHT = "2024-03-01"  # La Silla, America/Santiago (UTC-3 in March)
NEXT = "2024-03-02"


def mjd(iso: str) -> float:
    return (datetime.fromisoformat(iso) - datetime(1858, 11, 17)).total_seconds() / 86400


# (file name, writer kwargs, expected group, expected night). Group: ("obs", target) or
# ("cal", type); None for plain files. Times are UTC.
def night_folder(folder: Path) -> dict[str, tuple]:
    expected: dict[str, tuple] = {}

    def fits_file(name, cards, group, night, compress=None):
        write_fits(folder / name, cards, compress=compress)
        expected[name] = (group, night)

    t = "2024-03-02T0{}:{:02d}:00"
    # N.I.N.A.
    for i, (kind, group) in enumerate(
        [
            ("LIGHT", ("obs", "M42")),
            ("DARK", ("cal", "Darks")),
            ("FLAT", ("cal", "Flats")),
            ("BIAS", ("cal", "Biases")),
            ("DARKFLAT", ("cal", "Darks")),
            ("SNAPSHOT", ("obs", "M42")),
        ]
    ):
        for j in range(3):
            fits_file(
                f"NINA_{kind}_{j:03d}.fits",
                {
                    "IMAGETYP": kind,
                    "OBJECT": "M42",
                    "DATE-OBS": t.format(1, i * 5 + j) + ".1234567",
                },
                group,
                NIGHT,
            )
    # MaxIm DL / ACP / APT
    for i, (kind, group) in enumerate(
        [
            ("Light Frame", ("obs", "NGC 2070")),
            ("Dark Frame", ("cal", "Darks")),
            ("Bias Frame", ("cal", "Biases")),
            ("Flat Field", ("cal", "Flats")),
            ("Flat Frame", ("cal", "Flats")),
        ]
    ):
        for j in range(2):
            fits_file(
                f"maxim-{i}-{j}.fit",
                {"IMAGETYP": kind, "OBJECT": "NGC 2070", "DATE-OBS": t.format(2, i * 5 + j) + "Z"},
                group,
                NIGHT,
            )
    # INDI / Ekos: FRAME, date and time apart
    for i, (kind, group) in enumerate(
        [
            ("Light", ("obs", "Eta Car")),
            ("Dark", ("cal", "Darks")),
            ("Bias", ("cal", "Biases")),
            ("Flat", ("cal", "Flats")),
        ]
    ):
        fits_file(
            f"ekos_{kind}_{i}.fits",
            {
                "FRAME": kind,
                "OBJECT": "Eta Car",
                "DATE-OBS": "2024-03-02",
                "TIME-OBS": f"03:{i:02d}:00",
            },
            group,
            NIGHT,
        )
    # Seestar, compressed three ways, and tile-compressed
    fits_file(
        "seestar_1.fits.gz",
        {"IMAGETYP": "Light", "OBJECT": "M 8", "DATE-OBS": t.format(4, 0)},
        ("obs", "M 8"),
        NIGHT,
        "gzip",
    )
    fits_file(
        "seestar_2.fits.bz2",
        {"IMAGETYP": "Light", "OBJECT": "M 8", "DATE-OBS": t.format(4, 1)},
        ("obs", "M 8"),
        NIGHT,
        "bzip2",
    )
    fits_file(
        "seestar_3.fits.zip",
        {"IMAGETYP": "Light", "OBJECT": "M 8", "DATE-OBS": t.format(4, 2)},
        ("obs", "M 8"),
        NIGHT,
        "zip",
    )
    fits_file(
        "seestar_4.fits.fz",
        {"IMAGETYP": "Light", "OBJECT": "M 8", "DATE-OBS": t.format(4, 3)},
        ("obs", "M 8"),
        NIGHT,
        "fz",
    )
    # LCO: OBSTYPE, MJD-OBS only
    for i, (kind, group) in enumerate(
        [
            ("EXPOSE", ("obs", "SN 2024abc")),
            ("STANDARD", ("obs", "SN 2024abc")),
            ("BIAS", ("cal", "Biases")),
            ("SKYFLAT", ("cal", "Flats")),
            ("LAMPFLAT", ("cal", "Flats")),
            ("ARC", ("cal", "Others")),
        ]
    ):
        fits_file(
            f"lsc1m005-fa15-20240301-{i:04d}-e00.fits.fz",
            {"OBSTYPE": kind, "OBJECT": "SN 2024abc", "MJD-OBS": mjd(t.format(5, i))},
            group,
            NIGHT,
            "fz",
        )
    # NOIRLab / IRAF
    for i, (kind, group) in enumerate(
        [
            ("object", ("obs", "47 Tuc")),
            ("zero", ("cal", "Biases")),
            ("dome flat", ("cal", "Flats")),
            ("sky flat", ("cal", "Flats")),
        ]
    ):
        fits_file(
            f"c4d_{i}.fits",
            {"OBSTYPE": kind, "OBJECT": "47 Tuc", "DATE-OBS": t.format(6, i)},
            group,
            NIGHT,
        )
    # ESO, HIERARCH cards
    for i, (catg, kind, group) in enumerate(
        [
            ("SCIENCE", "OBJECT", ("obs", "NGC 3372")),
            ("CALIB", "BIAS", ("cal", "Biases")),
            ("CALIB", "FLAT,LAMP", ("cal", "Flats")),
            ("CALIB", "WAVE,LAMP", ("cal", "Others")),
        ]
    ):
        fits_file(
            f"EFOSC.2024-03-02T07_0{i}.fits",
            {
                "ESO DPR CATG": catg,
                "ESO DPR TYPE": kind,
                "OBJECT": "NGC 3372",
                "DATE-OBS": t.format(7, i),
            },
            group,
            NIGHT,
        )
    # PixInsight / APP masters
    fits_file(
        "master_dark_300s.fits",
        {"IMAGETYP": "Master Dark", "DATE-OBS": t.format(8, 0)},
        ("cal", "Darks"),
        NIGHT,
    )
    fits_file(
        "MasterFlat_Ha.fits",
        {"IMAGETYP": "MasterFlat", "DATE-OBS": t.format(8, 1)},
        ("cal", "Flats"),
        NIGHT,
    )
    # SharpCap / DWARF: the frame type is only in the file name
    fits_file("Dark_001.fits", {"DATE-OBS": "2024-03-02T23:30:00"}, ("cal", "Darks"), NEXT)
    fits_file("DWARF_flat_002.fits", {"DATE-OBS": "2024-03-02T23:31:00"}, ("cal", "Flats"), NEXT)
    fits_file(
        "Capture_00001.fits",
        {"OBJECT": "Moon", "DATE-OBS": "2024-03-02T23:32:00"},
        ("obs", "Moon"),
        NEXT,
    )
    # Old dd/mm/yy DATE-OBS (19yy) with UT, and DATE as the last resort
    fits_file(
        "old_1998.fits",
        {"IMAGETYP": "LIGHT", "OBJECT": "SN 1987A", "DATE-OBS": "02/03/98", "UT": "03:00:00"},
        ("obs", "SN 1987A"),
        "1998-03-01",
    )
    fits_file(
        "dated_by_DATE.fits",
        {"IMAGETYP": "LIGHT", "OBJECT": "M42", "DATE": "2024-03-02T04:00:00"},
        ("obs", "M42"),
        NIGHT,
    )
    # XISF written by the xisf package
    write_xisf(
        folder / "pix_light.xisf",
        {"OBJECT": "M42", "DATE-OBS": "2024-03-02T02:30:00"},
        image_type="Light",
    )
    expected["pix_light.xisf"] = (("obs", "M42"), NIGHT)
    write_xisf(
        folder / "pix_masterbias.xisf",
        {"IMAGETYP": "Master Bias", "DATE-OBS": "2024-03-02T02:31:00"},
        image_type="MasterBias",
    )
    expected["pix_masterbias.xisf"] = (("cal", "Biases"), NIGHT)
    # Plain files: a text file, an empty file.
    (folder / "observing_log.txt").write_text("Seeing 0.8 arcsec, clear all night.\n")
    expected["observing_log.txt"] = (None, None)
    (folder / "empty.fits").write_bytes(b"")
    expected["empty.fits"] = (None, None)
    return expected


@pytest.fixture
def server(tmp_path):
    server = start_gunicorn(tmp_path / "live", workers=2)
    yield server
    server.stop()


def test_upload_a_nights_folder(server, arcsecond, tmp_path):
    keys = server.new_user("obs")
    api = {HEADER: f"Key {keys['api_key']}"}
    site = httpx.post(
        server.url + "observingsites/",
        headers=api,
        json={"name": "La Silla", "coordinates": {"longitude": -70.73, "latitude": -29.26}},
    ).json()
    assert site["time_zone"] == "America/Santiago"
    telescope = httpx.post(
        server.url + "telescopes/",
        headers=api,
        json={"name": "ESO 3.6m", "observing_site": site["uuid"]},
    ).json()
    folder = tmp_path / "2024-03-01"
    folder.mkdir()
    expected = night_folder(folder)
    assert len(expected) >= 50

    assert arcsecond.run("api", "add", "local", server.url).returncode == 0
    assert arcsecond.run("api", "use", "local").returncode == 0
    login = arcsecond.run(
        "login", "--username", "obs", "--type", "upload", "--key", keys["upload_key"]
    )
    assert "Logged in" in login.stdout

    first = arcsecond.run(
        "upload", str(folder), "-d", "M31 run", "-t", telescope["uuid"], stdin="\n"
    )
    output = first.stdout + first.stderr
    assert f"uploads succeeded: {len(expected)}, skipped: 0, failed: 0" in output, output[-3000:]
    second = arcsecond.run(
        "upload", str(folder), "-d", "M31 run", "-t", telescope["uuid"], stdin="\n"
    )
    output = second.stdout + second.stderr
    assert f"uploads succeeded: 0, skipped: {len(expected)}, failed: 0" in output, output[-3000:]

    datasets = httpx.get(server.url + "datasets/?name=M31+run", headers=api).json()
    assert datasets["count"] == 1
    dataset = datasets["results"][0]
    assert dataset["telescope"] == telescope["uuid"] and dataset["data_files_count"] == len(
        expected
    )

    def everything(path):
        items, url = [], server.url + path
        while url:
            page = httpx.get(url, headers=api).json()
            items += page["results"]
            url = page["next"]
        return items

    files = {f["name"]: f for f in everything(f"datafiles/?dataset={dataset['uuid']}")}
    assert set(files) == set(expected)
    observations = {o["uuid"]: o for o in everything("observations/")}
    calibrations = {c["uuid"]: c for c in everything("calibrations/")}
    nights = {n["uuid"]: n for n in everything("nightlogs/")}
    for name, (group, night) in expected.items():
        f = files[name]
        assert (
            f["checksum"] == __import__("hashlib").sha256((folder / name).read_bytes()).hexdigest()
        )
        if group is None:
            assert f["format"] == "other" and not (f["observation"] or f["calibration"]), name
            continue
        if group[0] == "obs":
            assert f["calibration"] is None and f["observation"], name
            assert observations[f["observation"]]["target_name"] == group[1], name
        else:
            assert f["observation"] is None and f["calibration"], name
            assert calibrations[f["calibration"]]["type"] == group[1], name
        assert nights[f["night_log"]]["date"] == night, name
        assert nights[f["night_log"]]["telescope"] == telescope["uuid"]
    formats = {name: files[name]["format"] for name in ("pix_light.xisf", "seestar_1.fits.gz")}
    assert formats == {"pix_light.xisf": "xisf", "seestar_1.fits.gz": "fits"}
    assert {
        files[n]["compression"]
        for n in ("seestar_1.fits.gz", "seestar_2.fits.bz2", "seestar_3.fits.zip")
    } == {"gzip", "bzip2", "zip"}
    # One observation per target and one calibration per type in each night.
    night_of = {n["uuid"]: n["date"] for n in nights.values()}
    keys_obs = [(night_of[o["night_log"]], o["target_name"]) for o in observations.values()]
    keys_cal = [(night_of[c["night_log"]], c["type"]) for c in calibrations.values()]
    assert len(keys_obs) == len(set(keys_obs)) and len(keys_cal) == len(set(keys_cal))
    assert sorted(n["date"] for n in nights.values()) == ["1998-03-01", NIGHT, NEXT]
    first_night = next(n for n in nights.values() if n["date"] == NIGHT)
    assert len(first_night["calibrations"]) == 4  # Biases, Darks, Flats, Others
    # The raw frame type stays visible in the header endpoint.
    cards = httpx.get(
        server.url + f"datafiles/{files['maxim-3-0.fit']['id']}/header/", headers=api
    ).json()
    assert {"key": "IMAGETYP", "value": "Flat Field", "comment": ""} in cards
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", files["NINA_LIGHT_000.fits"]["date_obs"]
    )


def test_upload_into_a_portal(server, arcsecond, tmp_path):
    owner = server.new_user("olga")
    member = server.new_user("mike")
    visitor = server.new_user("vera")
    server.admin("orgs", "create", "obs", "--name", "Observatory", "--owner", "olga")
    server.admin("orgs", "add-member", "obs", "mike", "--role", "member")
    server.admin("orgs", "add-member", "obs", "vera", "--role", "visitor")
    api = {HEADER: f"Key {owner['api_key']}"}
    site = httpx.post(
        server.url + "obs/observingsites/",
        headers=api,
        json={"name": "Paranal", "time_zone": "America/Santiago"},
    ).json()
    telescope = httpx.post(
        server.url + "obs/telescopes/",
        headers=api,
        json={"name": "UT1", "observing_site": site["uuid"]},
    ).json()
    folder = tmp_path / "portal-night"
    folder.mkdir()
    for i in range(5):
        write_fits(
            folder / f"light_{i}.fits",
            {"IMAGETYP": "LIGHT", "OBJECT": "NGC 253", "DATE-OBS": f"2024-03-02T02:0{i}:00"},
        )
    assert arcsecond.run("api", "add", "local", server.url).returncode == 0
    assert arcsecond.run("api", "use", "local").returncode == 0
    arcsecond.run("login", "--username", "mike", "--type", "upload", "--key", member["upload_key"])
    run = arcsecond.run(
        "upload", str(folder), "-d", "Portal run", "-t", telescope["uuid"], "-p", "obs", stdin="\n"
    )
    assert "uploads succeeded: 5, skipped: 0, failed: 0" in run.stdout + run.stderr
    files = httpx.get(server.url + "obs/datafiles/", headers=api).json()
    assert files["count"] == 5 and all(f["night_log"] for f in files["results"])
    assert files["results"][0]["file"].startswith(server.url + "obs/datafiles/")
    logs = httpx.get(server.url + "obs/nightlogs/", headers=api).json()["results"]
    assert [n["date"] for n in logs] == ["2024-03-01"]
    assert httpx.get(server.url + "datafiles/", headers=api).json()["count"] == 0  # not personal
    # A visitor of the portal may not upload there.
    other = arcsecond.__class__(arcsecond.exe, tmp_path / "vera-home")
    other.home.mkdir()
    other.run("api", "add", "local", server.url)
    other.run("api", "use", "local")
    other.run("login", "--username", "vera", "--type", "upload", "--key", visitor["upload_key"])
    refused = other.run(
        "upload", str(folder), "-d", "Portal run", "-t", telescope["uuid"], "-p", "obs", stdin="\n"
    )
    assert "uploads succeeded: 5" not in refused.stdout + refused.stderr
    assert httpx.get(server.url + "obs/datafiles/", headers=api).json()["count"] == 5


XML_BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ).replace("&lol0;", "&lol;")
    + ']><xisf version="1.0" xmlns="http://www.pixinsight.com/xisf"><Image>&lol9;</Image></xisf>'
).encode()


def damaged_frames(folder: Path) -> dict[str, bytes]:
    """Three frames that claim FITS or XISF and cannot be read, as they come off real disks:
    a FITS cut inside its header (no END card), an HTML error page saved as .fits, and an
    XISF whose XML header is an entity-expansion bomb."""
    whole = write_fits(folder / "whole.tmp", LIGHT_CARDS).read_bytes()
    (folder / "whole.tmp").unlink()
    end = whole.index(b"END" + b" " * 77)
    damaged = {
        "cut_0004.fits": whole[: end - 80 * 3],
        "proxy_error.fits": b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>\n",
        "bomb.xisf": b"XISF0100" + len(XML_BOMB).to_bytes(4, "little") + b"\0" * 4 + XML_BOMB,
    }
    for name, content in damaged.items():
        (folder / name).write_bytes(content)
    return damaged


def test_damaged_frames_never_abort_a_night(server, arcsecond, tmp_path):
    """docs/API.md §8: the client aborts after a second refusal, so a damaged frame is
    stored, flagged and answered 201, and every later frame of the night is archived."""
    keys = server.new_user("obs")
    api = {HEADER: f"Key {keys['api_key']}"}
    site = httpx.post(
        server.url + "observingsites/",
        headers=api,
        json={"name": "OHP", "time_zone": "Europe/Paris"},
    ).json()
    telescope = httpx.post(
        server.url + "telescopes/",
        headers=api,
        json={"name": "T120", "observing_site": site["uuid"]},
    ).json()
    folder = tmp_path / "night"
    folder.mkdir()
    good = {}
    for i in range(6):
        name = f"light_{i:04d}.fits"
        cards = {**LIGHT_CARDS, "DATE-OBS": f"2024-03-01T22:0{i}:00"}
        if i % 3 == 2:
            name, cards = f"dark_{i:04d}.fits", {**cards, "IMAGETYP": "DARK"}
        write_fits(folder / name, cards)
        good[name] = "Darks" if name.startswith("dark") else "M31"
    damaged = damaged_frames(folder)

    assert arcsecond.run("api", "add", "local", server.url).returncode == 0
    assert arcsecond.run("api", "use", "local").returncode == 0
    arcsecond.run("login", "--username", "obs", "--type", "upload", "--key", keys["upload_key"])
    total = len(good) + len(damaged)
    run = arcsecond.run("upload", str(folder), "-d", "Night", "-t", telescope["uuid"], stdin="\n")
    output = run.stdout + run.stderr
    assert f"uploads succeeded: {total}, skipped: 0, failed: 0" in output, output[-3000:]
    again = arcsecond.run("upload", str(folder), "-d", "Night", "-t", telescope["uuid"], stdin="\n")
    output = again.stdout + again.stderr
    assert f"uploads succeeded: 0, skipped: {total}, failed: 0" in output, output[-3000:]

    files = {
        f["name"]: f
        for f in httpx.get(server.url + "datafiles/?page_size=100", headers=api).json()["results"]
    }
    assert set(files) == set(good) | set(damaged)
    observations = httpx.get(server.url + "observations/", headers=api).json()["results"]
    calibrations = httpx.get(server.url + "calibrations/", headers=api).json()["results"]
    names = {o["uuid"]: o["target_name"] for o in observations}
    names |= {c["uuid"]: c["type"] for c in calibrations}
    for name, group in good.items():
        f = files[name]
        assert f["header_status"] == "read" and f["night_log"], name
        assert names[f["observation"] or f["calibration"]] == group, name
    for name, content in damaged.items():
        f = files[name]
        assert f["header_status"] == "unreadable" and f["header_error"], name
        assert f["observation"] is f["calibration"] is f["night_log"] is None, name
        assert f["checksum"] == hashlib.sha256(content).hexdigest(), name
