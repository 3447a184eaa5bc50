"""The pages for people in a real headless Chromium, against a real gunicorn.

A night at the Observatoire de Haute-Provence is uploaded over HTTP (FITS and XISF frames:
biases, darks, flats in two filters, lights in two filters, and one file whose header cannot
be read); carol logs in through the login page, then each page is checked as drawn: the
timeline's marks where their times put them (measured on screen), the thumbnails and the
preview decoded, the download's bytes, the legends and the colour switch. Every test also
checks that the browser asked nothing of any other host and logged no error, and keeps a
screenshot of each page under its tmp_path (night-log.png, night-log-by-filter.png,
datafile.png, flagged.png, dataset.png, datapackage.png).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest
from werkzeug.security import generate_password_hash

from arcsec_flask.browse.timeline import LEFT, MIN_MARK_WIDTH, RIGHT, WIDTH
from tests.support.browser import (
    CHROMIUM,
    SKIP_REASON,
    Chromium,
    log_in,
    png_size,
    screenshot,
    started,
)
from tests.support.factories import write_fits, write_xisf
from tests.support.servers import start_gunicorn

PASSWORD = "correct horse battery staple"
BIG = (1365, 2048)  # rows, columns of one light frame: its preview is scaled to 1024 wide
# (name, IMAGETYP, DATE-OBS (UTC), FILTER, EXPTIME); the .xisf ones are written as XISF.
NIGHT = [
    ("bias_1.fits", "BIAS", "2024-03-01T17:00:00", None, 0.0),
    ("bias_2.fits", "BIAS", "2024-03-01T17:00:30", None, 0.0),
    ("bias_3.fits", "BIAS", "2024-03-01T17:01:00", None, 0.0),
    ("dark_1.fits", "DARK", "2024-03-01T17:05:00", None, 300.0),
    ("dark_2.fits", "DARK", "2024-03-01T17:10:10", None, 300.0),
    ("flat_r_1.xisf", "FLAT", "2024-03-01T17:40:00", "R", 2.0),
    ("flat_r_2.xisf", "FLAT", "2024-03-01T17:41:00", "R", 2.0),
    ("flat_ha_1.xisf", "FLAT", "2024-03-01T17:45:00", "Ha", 5.0),
    ("m31_r_1.fits", "LIGHT", "2024-03-01T19:30:00", "R", 300.0),
    ("m31_r_2.fits", "LIGHT", "2024-03-01T19:35:10", "R", 300.0),
    ("m31_r_3.fits", "LIGHT", "2024-03-01T19:40:20", "R", 300.0),
    ("m31_ha_1.fits", "LIGHT", "2024-03-01T21:00:00", "Ha", 600.0),
    ("m31_ha_2.fits", "LIGHT", "2024-03-01T23:30:00", "Ha", 600.0),
    ("m31_ha_3.fits", "LIGHT", "2024-03-02T03:15:00", "Ha", 600.0),
]
NIGHT_START = datetime(2024, 3, 1, 11, tzinfo=UTC)  # local noon at OHP (CET)
FLAGGED = "cut.fits"

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)]


def pixels(rows: int, columns: int, seed: int) -> np.ndarray:
    """Sky with noise and a few stars, as a camera's 16-bit counts."""
    rng = np.random.default_rng(seed)
    sky = rng.normal(1000, 30, (rows, columns))
    for y, x in zip(rng.integers(3, rows - 3, 40), rng.integers(3, columns - 3, 40), strict=True):
        sky[y - 2 : y + 3, x - 2 : x + 3] += 15_000
    return np.clip(sky, 0, 32_000).astype(np.int16)


def write_frame(folder: Path, index: int, frame: tuple) -> Path:
    name, kind, when, filter_name, exposure = frame
    cards = {"IMAGETYP": kind, "DATE-OBS": when, "EXPTIME": exposure, "OBJECT": "M31"}
    if filter_name:
        cards["FILTER"] = filter_name
    if name.endswith(".xisf"):
        data = pixels(200, 300, index).astype(np.uint16)
        return write_xisf(folder / name, cards, data=data)
    shape = BIG if name == "m31_r_1.fits" else (240, 360)
    return write_fits(folder / name, cards, data=pixels(*shape, index))


@pytest.fixture
def server(app, make_user):
    # gunicorn on the app fixture's data folder: the same database and session secret.
    carol = make_user("carol", password_hash=generate_password_hash(PASSWORD))
    live = start_gunicorn(Path(app.config["DATA_DIR"]))
    try:
        yield live, carol
    finally:
        live.stop()


@pytest.fixture
def night(server, tmp_path):
    """The night's frames uploaded to the live server: files by name (with their sha256 and
    the uploaded path), the dataset, the night log."""
    live, carol = server

    def post(path: str, body: dict) -> dict:
        response = httpx.post(live.url + path, json=body, headers=carol.api, timeout=10)
        assert response.status_code == 201, response.text
        return response.json()

    site = post(
        "observingsites/",
        {
            "name": "OHP",
            "time_zone": "Europe/Paris",
            "coordinates": {"latitude": 43.93, "longitude": 5.71, "height": 650},
        },
    )
    scope = post("telescopes/", {"name": "T120", "observing_site": site["uuid"]})
    dataset = post("datasets/", {"name": "M31, 1 March", "telescope": scope["uuid"]})
    folder = tmp_path / "frames"
    folder.mkdir()
    paths = [write_frame(folder, i, frame) for i, frame in enumerate(NIGHT)]
    flagged = folder / FLAGGED
    flagged.write_bytes(b"SIMPLE  =                    T" + b" " * 50)  # a header cut short
    files = {}
    with httpx.Client(base_url=live.url, headers=carol.upload, timeout=30) as http:
        for path in [*paths, flagged]:
            response = http.post(
                "datafiles/",
                data={"dataset": dataset["uuid"]},
                files={"file": (path.name, path.read_bytes())},
            )
            assert response.status_code == 201, response.text
            files[path.name] = {
                **response.json(),
                "path": path,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            }
    assert files[FLAGGED]["header_status"] == "unreadable"
    logs = httpx.get(live.url + "nightlogs/", headers=carol.api, timeout=10).json()["results"]
    (log,) = logs
    return {"files": files, "dataset": dataset, "log": log}


@pytest.fixture
def browser(server, tmp_path):
    """Chromium with carol logged in, recording every request and console message."""
    live, _ = server
    with started(tmp_path / "chromium") as chromium:
        for domain in ("Network", "Runtime", "Log"):
            chromium.call(f"{domain}.enable")
        log_in(chromium, live.url, "carol", PASSWORD)
        yield chromium
        assert_offline_and_quiet(chromium, live.url)


def assert_offline_and_quiet(chromium: Chromium, url: str) -> None:
    """Nothing asked of another host; no error in the console, no failed load."""
    requests = [e["request"]["url"] for e in chromium.events("Network.requestWillBeSent")]
    assert requests, "no request recorded: the recording is broken"
    assert [r for r in requests if not r.startswith((url, "data:", "about:"))] == []
    failed = chromium.events("Network.loadingFailed")
    logged = chromium.events("Runtime.consoleAPICalled", "Runtime.exceptionThrown")
    entries = chromium.events("Log.entryAdded")
    assert failed == []
    assert [e for e in logged if e.get("type", "error") == "error"] == []
    assert [
        (e["entry"]["text"], e["entry"].get("url"))
        for e in entries
        if e["entry"]["level"] == "error"
    ] == []


def keep_screenshot(chromium: Chromium, path: Path) -> None:
    shot = screenshot(chromium, path)
    width, height = png_size(shot)
    assert width >= 800 and height >= 600 and len(shot) > 10_000
    assert path.read_bytes() == shot


# Loads every <img> matching `selector` as a reader would (scrolled into view: they are
# lazy), then gives [alt, naturalWidth, naturalHeight] of each.
LOADED_IMAGES = """
(async (selector) => {
  const found = [];
  for (const img of document.querySelectorAll(selector)) {
    img.scrollIntoView();
    if (!img.complete) {
      await new Promise((done) => {
        img.addEventListener("load", done, {once: true});
        img.addEventListener("error", done, {once: true});
      });
    }
    found.push([img.alt, img.naturalWidth, img.naturalHeight]);
  }
  window.scrollTo(0, 0);
  return found;
})(%s)
"""

MARKS = """
[...document.querySelectorAll("svg.timeline rect.frame")].map((rect) => {
  const box = rect.getBoundingClientRect();
  return {
    name: rect.querySelector("title").textContent.split(" · ")[0],
    kind: rect.dataset.kind,
    filter: rect.dataset.filter,
    left: box.left, width: box.width, top: box.top, height: box.height,
    fill: getComputedStyle(rect).fill,
  };
})
"""

LEGEND = """
[...document.querySelectorAll(%s)].map((span) => [
  span.textContent.trim(),
  getComputedStyle(span.querySelector("i")).backgroundColor,
  span.getClientRects().length > 0,
])
"""


def marks_by_name(chromium: Chromium) -> dict[str, dict]:
    return {m["name"]: m for m in chromium.evaluate(MARKS)}


def legend(chromium: Chromium, which: str) -> dict[str, str]:
    """label -> colour of the legend's entries that are shown (none when it is hidden)."""
    entries = chromium.evaluate(LEGEND % json.dumps(f".legend.by-{which} span"))
    return {label: colour for label, colour, shown in entries if shown}


def seconds(when: str) -> float:
    return (datetime.fromisoformat(when).replace(tzinfo=UTC) - NIGHT_START).total_seconds()


def test_the_night_log_page_draws_the_timeline_and_thumbnails(server, night, browser, tmp_path):
    live, _ = server
    browser.load("Page.navigate", url=f"{live.url}nightlogs/{night['log']['uuid']}/")
    assert browser.evaluate("document.title").startswith("Night of 2024-03-01")

    marks = marks_by_name(browser)
    assert sorted(marks) == sorted(frame[0] for frame in NIGHT)  # one mark per dated frame
    # On screen, left edges follow the times linearly: pixels per second from the first and
    # the last frame predict every other one's place to half a pixel.
    first, last = NIGHT[0], NIGHT[-1]
    scale = (marks[last[0]]["left"] - marks[first[0]]["left"]) / (
        seconds(last[2]) - seconds(first[2])
    )
    assert scale > 0
    shortest = MIN_MARK_WIDTH * 24 * 3600 / (WIDTH - LEFT - RIGHT)  # seconds
    for name, _, when, _, exposure in NIGHT:
        expected = marks[first[0]]["left"] + scale * (seconds(when) - seconds(first[2]))
        assert marks[name]["left"] == pytest.approx(expected, abs=0.5), name
        width = scale * max(exposure, shortest)
        assert marks[name]["width"] == pytest.approx(width, abs=0.3), name
    in_order = sorted(NIGHT, key=lambda f: f[2])
    lefts = [marks[f[0]]["left"] for f in in_order]
    assert lefts == sorted(lefts)
    # A frame spans its exposure: 600 s twice as wide as 300 s, and as wide as the scale says.
    assert marks["m31_ha_1.fits"]["width"] == pytest.approx(600 * scale, abs=0.3)
    assert marks["m31_r_1.fits"]["width"] == pytest.approx(300 * scale, abs=0.3)
    assert marks["m31_ha_1.fits"]["width"] == pytest.approx(
        2 * marks["m31_r_1.fits"]["width"], rel=0.08
    )
    assert marks["bias_1.fits"]["width"] > 0  # a bias (0 s) still shows
    # One lane per frame type, top to bottom: Light, Flats, Darks, Biases.
    tops = {m["kind"]: m["top"] for m in marks.values()}
    assert list(sorted(tops, key=tops.get)) == ["Light", "Flats", "Darks", "Biases"]

    axes = browser.evaluate(
        "Object.fromEntries(['local', 'utc', 'sun', 'axis'].map((c) => [c,"
        " [...document.querySelectorAll(`svg.timeline text.${c}`)]"
        ".filter((t) => t.getBBox().width > 0).map((t) => t.textContent)]))"
    )
    assert axes["local"][0] == "12:00" and axes["utc"][0] == "11:00"
    assert len(axes["local"]) == len(axes["utc"]) == 13  # every two hours, noon to noon
    assert axes["axis"] == ["local", "UTC"]
    assert [t.split()[0] for t in axes["sun"]] == ["sunset", "sunrise"]
    dark = browser.evaluate(
        "(() => { const d = document.querySelector('svg.timeline rect.dark')"
        ".getBoundingClientRect(); return [d.left, d.right]; })()"
    )
    # The dark hours start and end where the labelled sunset and sunrise (CET, to the
    # minute) fall on the scale: after the darks, before the lights, after the last light.
    for edge, label, day in ((dark[0], axes["sun"][0], 1), (dark[1], axes["sun"][1], 2)):
        hours, minutes = map(int, label.split()[1].split(":"))
        when = f"2024-03-0{day}T{hours - 1:02d}:{minutes:02d}:30"  # CET is UTC+1
        expected = marks[first[0]]["left"] + scale * (seconds(when) - seconds(first[2]))
        assert edge == pytest.approx(expected, abs=scale * 30 + 0.5), label
    assert marks["dark_2.fits"]["left"] < dark[0] < marks["m31_r_1.fits"]["left"]
    assert marks["m31_ha_3.fits"]["left"] < dark[1]

    # Thumbnails of every frame of the night, decoded.
    images = browser.evaluate(LOADED_IMAGES % json.dumps(".thumbs img"))
    assert sorted(alt for alt, _, _ in images) == sorted(frame[0] for frame in NIGHT)
    for alt, width, height in images:
        assert width > 0 and height > 0, alt
    sizes = {alt: (width, height) for alt, width, height in images}
    assert sizes["m31_r_1.fits"] == (1024, 682) and sizes["m31_r_2.fits"] == (360, 240)
    assert sizes["flat_r_1.xisf"] == (300, 200)

    # Coloured by frame type: each mark has its type's colour in the legend.
    by_type = legend(browser, "type")
    assert {"Light", "Flats", "Darks", "Biases"} <= set(by_type)
    assert legend(browser, "filter") == {}  # hidden
    for mark in marks.values():
        assert mark["fill"] == by_type[mark["kind"]], mark["name"]
    assert len({by_type[k] for k in ("Light", "Flats", "Darks", "Biases")}) == 4
    keep_screenshot(browser, tmp_path / "night-log.png")

    # The switch: coloured by filter, with the filter legend instead.
    browser.evaluate("document.querySelector('label[for=colour-by-filter]').click()")
    by_filter = legend(browser, "filter")
    assert set(by_filter) == {"no filter", "R", "Ha"} and legend(browser, "type") == {}
    assert len(set(by_filter.values())) == 3
    for mark in marks_by_name(browser).values():
        assert mark["fill"] == by_filter[mark["filter"]], mark["name"]
    assert marks_by_name(browser)["m31_r_1.fits"]["filter"] == "R"
    keep_screenshot(browser, tmp_path / "night-log-by-filter.png")
    browser.evaluate("document.querySelector('label[for=colour-by-type]').click()")
    assert marks_by_name(browser)["m31_r_1.fits"]["fill"] == by_type["Light"]


def test_the_data_file_page_shows_preview_header_and_downloads_the_exact_bytes(
    server, night, browser, tmp_path
):
    live, carol = server
    light = night["files"]["m31_r_1.fits"]
    browser.load("Page.navigate", url=f"{live.url}datafiles/{light['id']}/")
    ((alt, width, height),) = browser.evaluate(LOADED_IMAGES % json.dumps("#preview"))
    assert alt == "Preview of m31_r_1.fits"
    assert 0 < width <= 1024 and width == 1024 and height == 682
    shown = browser.evaluate(
        "(() => { const r = document.querySelector('#preview').getBoundingClientRect();"
        " return [r.width, r.height]; })()"
    )
    assert shown[0] > 300 and shown[1] > 200  # drawn on the page, not only decoded

    cards = httpx.get(
        f"{live.url}datafiles/{light['id']}/header/", headers=carol.api, timeout=10
    ).json()
    rows = browser.evaluate(
        "[...document.querySelectorAll('table.cards tbody tr')]"
        ".map((tr) => [...tr.cells].map((td) => td.textContent))"
    )
    assert len(rows) == len(cards) > 5
    assert [row[0] for row in rows] == [card["key"] for card in cards]
    assert ["FILTER", "R", ""] in rows
    assert browser.evaluate("document.querySelector('.flag').textContent") == "read"

    digest = browser.evaluate(
        """(async () => {
          const link = document.querySelector("a.button[download]");
          const response = await fetch(link.href);
          const bytes = await response.arrayBuffer();
          const sum = await crypto.subtle.digest("SHA-256", bytes);
          return [response.status, bytes.byteLength,
                  [...new Uint8Array(sum)].map((b) => b.toString(16).padStart(2, "0")).join("")];
        })()"""
    )
    assert digest == [200, light["path"].stat().st_size, light["sha256"]]
    keep_screenshot(browser, tmp_path / "datafile.png")


def test_a_flagged_file_page_shows_its_flag_and_no_image(server, night, browser, tmp_path):
    live, _ = server
    flagged = night["files"][FLAGGED]
    browser.load("Page.navigate", url=f"{live.url}datafiles/{flagged['id']}/")
    assert browser.evaluate("document.querySelectorAll('main img').length") == 0
    flag = browser.evaluate(
        "(() => { const f = document.querySelector('.flag');"
        " return [f.textContent, f.className, getComputedStyle(f).backgroundColor]; })()"
    )
    assert flag[:2] == ["unreadable", "flag unreadable"] and flag[2] != "rgba(0, 0, 0, 0)"
    text = browser.evaluate("document.body.innerText")
    assert "No preview: its header could not be read." in text
    assert flagged["header_error"] and flagged["header_error"] in text
    keep_screenshot(browser, tmp_path / "flagged.png")


def test_the_dataset_and_data_package_pages(server, night, browser, tmp_path):
    live, carol = server
    browser.load("Page.navigate", url=f"{live.url}datasets/{night['dataset']['uuid']}/")
    images = browser.evaluate(LOADED_IMAGES % json.dumps(".thumbs img"))
    assert sorted(alt for alt, _, _ in images) == sorted(frame[0] for frame in NIGHT)
    assert all(width > 0 and height > 0 for _, width, height in images), images
    no_preview = browser.evaluate(
        "[...document.querySelectorAll('.thumbs a')].filter((a) => !a.querySelector('img'))"
        ".map((a) => [a.querySelector('.name').textContent, a.querySelector('.none').textContent])"
    )
    assert no_preview == [[FLAGGED, "no preview"]]
    keep_screenshot(browser, tmp_path / "dataset.png")

    package = httpx.post(
        live.url + "datapackages/",
        json={"name": "M31 for Bob", "datasets": [night["dataset"]["uuid"]]},
        headers=carol.api,
        timeout=10,
    )
    assert package.status_code == 201, package.text
    browser.load("Page.navigate", url=f"{live.url}datapackages/{package.json()['uuid']}/")
    answer = browser.evaluate(
        """(async () => {
          const link = document.querySelector("#download");
          const response = await fetch(link.href);
          const bytes = new Uint8Array(await response.arrayBuffer());
          return [link.href, response.status, response.headers.get("Content-Type"),
                  bytes.length, String.fromCharCode(bytes[0], bytes[1])];
        })()"""
    )
    href, status, content_type, size, magic = answer
    assert href == package.json()["archive"]
    assert status == 200 and content_type == "application/zip" and magic == "PK"
    assert size > sum(f["path"].stat().st_size for f in night["files"].values())
    assert "M31, 1 March" in browser.evaluate("document.body.innerText")
    keep_screenshot(browser, tmp_path / "datapackage.png")
