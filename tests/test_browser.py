"""A real headless Chromium against a real gunicorn: log in, list datasets, open one.

Chromium is driven through its DevTools protocol (tests/support/browser.py); the pages for
people (night log, data file, dataset, data package) are in test_browser_pages.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from werkzeug.security import generate_password_hash

from tests.support.browser import CHROMIUM, SKIP_REASON, log_in, png_size, screenshot, started
from tests.support.servers import start_gunicorn

PASSWORD = "correct horse battery staple"

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)]


@pytest.fixture
def chromium(tmp_path):
    with started(tmp_path / "chromium") as browser:
        yield browser


@pytest.fixture
def server(app, make_user):
    # gunicorn on the app fixture's data folder: the same database and session secret.
    carol = make_user("carol", password_hash=generate_password_hash(PASSWORD))
    live = start_gunicorn(Path(app.config["DATA_DIR"]))
    try:
        yield live, carol
    finally:
        live.stop()


def test_log_in_list_datasets_and_open_one(server, chromium, tmp_path):
    live, carol = server
    assert live.url.startswith("http://127.0.0.1:")
    datasets = [
        httpx.post(live.url + "datasets/", json={"name": name}, headers=carol.api, timeout=10)
        for name in ("M31 Andromeda", "M42 Orion", "M45 Pleiades")
    ]
    assert [response.status_code for response in datasets] == [201, 201, 201]
    orion = datasets[1].json()

    log_in(chromium, live.url, "carol", PASSWORD)
    assert "Logged in as carol" in chromium.evaluate("document.body.innerText")
    assert "arcsec_session" not in chromium.evaluate("document.cookie")  # HttpOnly

    chromium.load("Page.navigate", url=live.url + "datasets/")
    listing = chromium.evaluate("document.body.innerText")
    assert "Datasets" in listing and "HTTP 200 OK" in listing and "M42 Orion" in listing
    detail = f"{live.url}datasets/{orion['uuid']}/"
    chromium.load(f"document.querySelector('pre a[href={json.dumps(detail)}]').click()")
    assert chromium.evaluate("location.href") == detail
    text = chromium.evaluate("document.body.innerText")
    assert "M42 Orion" in text and orion["uuid"] in text and "M31 Andromeda" not in text
    chromium.load("Page.navigate", url=detail + "?format=api")  # the generic JSON page
    assert "Allow: DELETE, GET, PATCH" in chromium.evaluate("document.body.innerText")

    shot = screenshot(chromium, tmp_path / "dataset.png")
    width, height = png_size(shot)
    assert width >= 800 and height >= 600 and len(shot) > 10_000

    # The session reads; it does not write.
    status = chromium.evaluate(
        "fetch('/datasets/', {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify({name: 'from the browser'})}).then(r => r.status)"
    )
    assert status == 403
