"""The pages for people: data file, night log (timeline and thumbnails), dataset, package."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest

from arcsec_flask.browse.sky import sun_events
from arcsec_flask.browse.timeline import (
    COLOURS,
    FILTER_PALETTE,
    MIN_MARK_WIDTH,
    NO_FILTER,
    OTHER_FILTERS,
    Frame,
    legends,
    timeline_svg,
)
from arcsec_flask.domain.nights import night_bounds, site_zone
from tests.images.pixels import ramp
from tests.support.factories import write_fits

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
SVG = "{http://www.w3.org/2000/svg}"
# A night at the Observatoire de Haute-Provence, 2024-03-01 (evening date).
# (name, IMAGETYP, DATE-OBS, FILTER, EXPTIME)
FRAMES = [
    ("bias_1.fits", "BIAS", "2024-03-01T17:00:00", None, 0.0),
    ("bias_2.fits", "BIAS", "2024-03-01T17:01:00", None, 0.0),
    ("flat_1.fits", "FLAT", "2024-03-01T17:30:00", "Ha", 2.0),
    ("m31_1.fits", "LIGHT", "2024-03-01T21:00:00", "Ha", 600.0),
    ("m31_2.fits", "LIGHT", "2024-03-01T23:30:00", "Ha", 600.0),
    ("m31_3.fits", "LIGHT", "2024-03-02T03:15:00", "OIII", 1800.0),
]
PER_HOUR = (1000 - 80 - 20) / 24  # SVG units: local noon to local noon


@pytest.fixture
def night(client, alice, tmp_path):
    """Six frames of one night at OHP (Europe/Paris), uploaded; their night log."""
    site = client.post(
        "/observingsites/",
        json={
            "name": "OHP",
            "time_zone": "Europe/Paris",
            "coordinates": {"latitude": 43.93, "longitude": 5.71, "height": 650},
        },
        headers=alice.api,
    ).json
    scope = client.post(
        "/telescopes/", json={"name": "T193", "observing_site": site["uuid"]}, headers=alice.api
    ).json
    dataset = client.post(
        "/datasets/", json={"name": "M31 <night>", "telescope": scope["uuid"]}, headers=alice.api
    ).json
    files = []
    for name, kind, when, filter_name, exposure in FRAMES:
        cards = {"IMAGETYP": kind, "DATE-OBS": when, "OBJECT": "M31", "EXPTIME": exposure}
        if filter_name:
            cards["FILTER"] = filter_name
        path = write_fits(tmp_path / name, cards, data=ramp(300, 200))
        response = client.post(
            "/datafiles/",
            data={"dataset": dataset["uuid"], "file": (io.BytesIO(path.read_bytes()), name)},
            headers=alice.upload,
        )
        assert response.status_code == 201, response.json
        files.append(response.json)
    (log,) = client.get("/nightlogs/", headers=alice.api).json["results"]
    return {"site": site, "dataset": dataset, "files": files, "log": log}


def page(client, user, url: str):
    response = client.get(url, headers={**BROWSER, **user.api})
    assert response.status_code == 200 and response.mimetype == "text/html"
    return response.text


def test_the_data_file_page(client, alice, night):
    light = night["files"][3]
    html = page(client, alice, f"/datafiles/{light['id']}/")
    assert f'<img id="preview" src="{light["preview"]}"' in html
    assert f'href="{light["file"]}" download' in html
    assert '<span class="flag read">read</span>' in html
    cards = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", html)
    assert ("IMAGETYP", "LIGHT", "") in cards and ("FILTER", "Ha", "") in cards
    assert ("DATE-OBS", "2024-03-01T21:00:00", "") in cards
    assert "<dt>FILTER</dt><dd>Ha</dd>" in html
    assert f'href="/nightlogs/{night["log"]["uuid"]}/"' in html
    assert "?format=json" in html and "?format=api" in html
    assert 'href="/browse/static/pages.css"' in html
    css = client.get("/browse/static/pages.css")
    assert css.status_code == 200 and "svg.timeline" in css.text
    css.close()


def test_json_and_the_generic_page_stay_reachable(client, alice, night):
    url = f"/datafiles/{night['files'][0]['id']}/"
    assert client.get(url, headers=alice.api).json["name"] == "bias_1.fits"  # an API client
    assert client.get(url + "?format=json", headers={**BROWSER, **alice.api}).is_json
    generic = page(client, alice, url + "?format=api")
    assert '<pre class="json">' in generic and "<table" not in generic


def test_a_flagged_file_shows_its_error_and_no_image(client, alice, night):
    response = client.post(
        "/datafiles/",
        data={
            "dataset": night["dataset"]["uuid"],
            "file": (io.BytesIO(b"SIMPLE  =                    T" + b" " * 50), "cut.fits"),
        },
        headers=alice.upload,
    )
    flagged = response.json
    html = page(client, alice, f"/datafiles/{flagged['id']}/")
    assert '<span class="flag unreadable">unreadable</span>' in html
    assert "its header could not be read" in html and "<img" not in html.split("<main>")[1]


def test_the_night_log_page_draws_each_frame_on_its_timeline(client, alice, night):
    html = page(client, alice, f"/nightlogs/{night['log']['uuid']}/")
    svg = ElementTree.fromstring(re.search(r"<svg class=\"timeline\".*?</svg>", html, re.S)[0])
    marks = svg.findall(f".//{SVG}rect[@class='frame']")
    assert len(marks) == len(FRAMES)
    kinds = [m.get("data-kind") for m in marks]
    assert sorted(kinds) == sorted(["Biases", "Biases", "Flats", "Light", "Light", "Light"])
    assert {m.get("fill") for m in marks} == {COLOURS[k] for k in set(kinds)}
    # Placed at their times: local noon (11:00 UTC) to local noon, 1000 units wide.
    x = {m.find(f"{SVG}title").text.split(" · ")[0]: float(m.get("x")) for m in marks}
    assert x["bias_1.fits"] < x["bias_2.fits"] < x["flat_1.fits"] < x["m31_1.fits"]
    assert x["m31_1.fits"] < x["m31_2.fits"] < x["m31_3.fits"]
    assert x["m31_1.fits"] == pytest.approx(80 + 10 * PER_HOUR, abs=0.1)  # 21:00 UTC
    labels = [t.text for t in svg.findall(f"{SVG}text[@class='local']")]
    utc = [t.text for t in svg.findall(f"{SVG}text[@class='utc']")]
    assert labels[0] == "12:00" and utc[0] == "11:00" and len(labels) == 13
    assert "2024-03-01 12:00 → 2024-03-02 12:00 (Europe/Paris)" in html
    # OHP on 1 March 2024: sunset about 18:25, sunrise about 07:10 (CET).
    sunset = re.search(r"sunset (\d\d):(\d\d)", html)
    sunrise = re.search(r"sunrise (\d\d):(\d\d)", html)
    assert 18 * 60 + 15 <= int(sunset[1]) * 60 + int(sunset[2]) <= 18 * 60 + 35
    assert 7 * 60 <= int(sunrise[1]) * 60 + int(sunrise[2]) <= 7 * 60 + 20
    assert svg.find(f"{SVG}rect[@class='dark']") is not None


def _marks(html: str) -> dict[str, ElementTree.Element]:
    svg = ElementTree.fromstring(re.search(r"<svg class=\"timeline\".*?</svg>", html, re.S)[0])
    return {
        m.find(f"{SVG}title").text.split(" · ")[0]: m
        for m in svg.findall(f".//{SVG}rect[@class='frame']")
    }


def test_each_frame_spans_its_exposure_on_the_timeline(client, alice, night):
    marks = _marks(page(client, alice, f"/nightlogs/{night['log']['uuid']}/"))
    for name, _, when, _, exposure in FRAMES:
        mark = marks[name]
        start = datetime.fromisoformat(when).replace(tzinfo=UTC)
        hours = (start - datetime(2024, 3, 1, 11, tzinfo=UTC)).total_seconds() / 3600
        assert float(mark.get("x")) == pytest.approx(80 + hours * PER_HOUR, abs=0.1), name
        width = max(exposure / 3600 * PER_HOUR, MIN_MARK_WIDTH)
        assert float(mark.get("width")) == pytest.approx(width, abs=0.15), name
        assert mark.find(f"{SVG}title").text.endswith(f" · {exposure:g} s")
    # 30 min of OIII is three times as wide as 10 min of Ha; a bias is the thinnest bar.
    assert float(marks["m31_3.fits"].get("width")) == pytest.approx(
        3 * float(marks["m31_1.fits"].get("width")), abs=0.2
    )
    assert float(marks["bias_1.fits"].get("width")) == MIN_MARK_WIDTH


def test_the_timeline_can_be_coloured_by_filter(client, alice, night):
    html = page(client, alice, f"/nightlogs/{night['log']['uuid']}/")
    marks = _marks(html)
    # Filters take the palette in the order they first ran: Ha (the flat at 17:30), OIII.
    expected = {"Ha": FILTER_PALETTE[0], "OIII": FILTER_PALETTE[1], "no filter": NO_FILTER}
    for name, _, _, filter_name, _ in FRAMES:
        label = filter_name or "no filter"
        assert marks[name].get("data-filter") == label
        assert marks[name].get("style") == f"--filter-colour:{expected[label]}"
    # The switch and both legends; the stylesheet swaps them when "by filter" is checked.
    assert '<input type="radio" name="colouring" id="colour-by-filter">' in html
    legend = re.search(r'<p class="legend by-filter">(.*?)</p>', html, re.S)[1]
    shown = re.findall(r'<i style="background:(#[0-9a-f]{6})"></i>([^<]*)</span>', legend)
    assert shown == [
        (NO_FILTER, "no filter"),
        (FILTER_PALETTE[0], "Ha"),
        (FILTER_PALETTE[1], "OIII"),
    ]
    types = re.search(r'<p class="legend by-type">(.*?)</p>', html, re.S)[1]
    assert f'<i style="background:{COLOURS["Biases"]}"></i>Biases' in types
    css = client.get("/browse/static/pages.css")
    rule = "#colour-by-filter:checked ~ svg.timeline rect.frame { fill: var(--filter-colour); }"
    assert rule in css.text
    css.close()


def test_filters_past_the_palette_share_one_colour_and_one_legend_entry():
    start = datetime(2024, 3, 1, 20, tzinfo=UTC)
    names = [f"F{i}" for i in range(len(FILTER_PALETTE) + 2)]
    frames = [
        Frame(start + timedelta(minutes=i), "Light", f"{n}.fits", "/", n, 60.0)
        for i, n in enumerate(names)
    ]
    frames.append(Frame(start - timedelta(hours=1), "Darks", "dark.fits", "/", None, 60.0))
    found = legends(frames)
    assert found["filter"] == [
        ("no filter", NO_FILTER),
        *zip(names, FILTER_PALETTE, strict=False),
        ("other filters", OTHER_FILTERS),
    ]
    assert [label for label, _ in found["type"]] == list(COLOURS)


def test_a_long_exposure_is_clamped_to_the_night():
    start, end = night_bounds(datetime(2024, 3, 1).date(), "Europe/Paris")
    frames = [Frame(end - timedelta(minutes=30), "Light", "late.fits", "/", "R", 7200.0)]
    svg = ElementTree.fromstring(str(timeline_svg(frames, start, end, site_zone("Europe/Paris"))))
    (mark,) = svg.findall(f".//{SVG}rect[@class='frame']")
    right = float(mark.get("x")) + float(mark.get("width"))
    assert right == pytest.approx(1000 - 20, abs=0.1)
    assert float(mark.get("width")) == pytest.approx(0.5 * PER_HOUR, abs=0.1)


def test_the_night_log_page_has_thumbnails_per_observation_and_calibration(client, alice, night):
    html = page(client, alice, f"/nightlogs/{night['log']['uuid']}/")
    headings = re.findall(r"<h2>(Observation|Calibration): <a [^>]*>([^<]*)</a>", html)
    assert [kind for kind, _ in headings] == ["Observation", "Calibration", "Calibration"]
    thumbs = re.findall(r'<img src="([^"]+)" alt="([^"]+)" loading="lazy"', html)
    assert len(thumbs) == len(FRAMES)
    by_name = {f["name"]: f for f in night["files"]}
    for src, name in thumbs:
        assert src == f"/datafiles/{by_name[name]['id']}/preview/"
        with client.get(src, headers=alice.api) as image:  # what the page embeds works
            assert image.status_code == 200 and image.mimetype == "image/png"


def test_thumbnails_are_capped_with_a_link_on(client, alice, night, monkeypatch):
    from arcsec_flask.browse import views

    monkeypatch.setattr(views, "THUMBNAILS_PER_GROUP", 2)
    html = page(client, alice, f"/nightlogs/{night['log']['uuid']}/")
    assert len(re.findall(r'loading="lazy"', html)) == 2 + 2 + 1  # lights, biases, flats
    observation = night["files"][3]["observation"]
    assert f'href="/datafiles/?observation={observation}">All 3 files' in html
    monkeypatch.setattr(views, "THUMBNAILS_CAP", 3)
    dataset_page = page(client, alice, f"/datasets/{night['dataset']['uuid']}/")
    assert len(re.findall(r'loading="lazy"', dataset_page)) == 3
    assert f'href="/datafiles/?dataset={night["dataset"]["uuid"]}">All 6 files' in dataset_page


def test_the_dataset_page_escapes_and_shows_thumbnails(client, alice, night):
    html = page(client, alice, f"/datasets/{night['dataset']['uuid']}/")
    assert "<h1>M31 &lt;night&gt;</h1>" in html and "<night>" not in html
    assert len(re.findall(r'loading="lazy"', html)) == len(FRAMES)


def test_portal_pages_link_in_the_portal_form(client, alice, make_org, tmp_path):
    make_org("ohp", alice)
    dataset = client.post("/ohp/datasets/", json={"name": "P"}, headers=alice.api).json
    path = write_fits(tmp_path / "p.fits", {"IMAGETYP": "LIGHT"}, data=ramp(30, 20))
    found = client.post(
        "/ohp/datafiles/",
        data={"dataset": dataset["uuid"], "file": (io.BytesIO(path.read_bytes()), "p.fits")},
        headers=alice.upload,
    ).json
    html = page(client, alice, f"/ohp/datasets/{dataset['uuid']}/")
    assert f'<a href="/ohp/datafiles/{found["id"]}/"' in html
    assert f'src="/ohp/datafiles/{found["id"]}/preview/"' in html


def test_the_data_package_page_has_its_download_button(client, alice, night):
    package = client.post(
        "/datapackages/",
        json={"name": "For Bob", "datasets": [night["dataset"]["uuid"]], "is_public": True},
        headers=alice.api,
    ).json
    html = page(client, alice, f"/datapackages/{package['uuid']}/")
    assert f'<a class="button" id="download" href="{package["archive"]}">' in html
    assert f'href="/datasets/{night["dataset"]["uuid"]}/">M31 &lt;night&gt;</a>' in html
    anonymous = client.get(f"/datapackages/{package['uuid']}/", headers=BROWSER)
    assert anonymous.status_code == 200 and 'id="download"' in anonymous.text
    assert "M31 &lt;night&gt;" not in anonymous.text  # a stranger sees no dataset names


def test_timeline_svg_escapes_names_and_clamps_marks():
    start, end = night_bounds(datetime(2024, 3, 1).date(), "Europe/Paris")
    frames = [
        Frame(datetime(2024, 3, 1, 21, tzinfo=UTC), "Light", '<script>"x"</script>', "/a?b=1&c=2"),
        Frame(datetime(2024, 3, 5, tzinfo=UTC), "Weird", "late.fits", "/late/"),
    ]
    svg = str(timeline_svg(frames, start, end, site_zone("Europe/Paris")))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "/a?b=1&amp;c=2" in svg
    tree = ElementTree.fromstring(svg)  # well-formed XML
    marks = tree.findall(f".//{SVG}rect[@class='frame']")
    assert [m.get("data-kind") for m in marks] == ["Light", "Others"]
    assert float(marks[1].get("x")) <= 1000 - 20  # clamped to the night's end


@pytest.mark.parametrize(
    "latitude, longitude, expected",
    [
        (43.93, 5.71, (True, True)),  # OHP
        (78.22, 15.65, (False, False)),  # Svalbard in polar night: the sun never rises
        (None, None, (False, False)),  # no coordinates
    ],
)
def test_sun_events(latitude, longitude, expected):
    start, end = night_bounds(datetime(2024, 1, 10).date(), "Europe/Paris")
    sunset, sunrise = sun_events(start, end, latitude, longitude)
    assert (sunset is not None, sunrise is not None) == expected
    if sunset and sunrise:
        assert start < sunset < sunrise < end
