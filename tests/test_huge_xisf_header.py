"""A 16 MB XISF header (issue 11: 370,000 cards once became 15.6 MB of JSON in one row, and
its header page took 8 s): uploaded through a real gunicorn, it is stored (201, never
refused for its content, docs/API.md §8), its values are derived from every card, and
only the first cards are kept, as headers/cap.py says; the stored JSON and the header
page are bounded in size (not timed)."""

from __future__ import annotations

import re
import sqlite3
from xml.sax.saxutils import quoteattr

import httpx
import pytest

from arcsec_flask.headers.cap import MAX_CARDS, MAX_TEXT, TRUNCATED_COMMENT
from arcsec_flask.headers.xisf import MAX_HEADER_LENGTH
from tests.support.factories import xisf_bytes

HEADER = "X-Arcsecond-API-Authorization"
PROPERTIES = 370_000
PIXELS = b"\x01\x00" * 64  # 8x8 UInt16


def huge_xisf(count: int) -> bytes:
    """A monolithic XISF file, its XML assembled by hand (docs/formats.md): `count` FITS
    keywords in its Image, the ones that matter first and last, then the 8x8 image."""
    keywords = [
        '<FITSKeyword name="IMAGETYP" value="\'LIGHT\'" comment="Type of exposure"/>',
        '<FITSKeyword name="OBJECT" value="\'M31\'" comment=""/>',
        '<FITSKeyword name="DATE-OBS" value="\'2024-03-02T01:00:00\'" comment=""/>',
    ]
    keywords += [f'<FITSKeyword name="K{i:05x}" value="{i:07d}"/>' for i in range(count)]
    # Past every cap, still read: the exposure time comes from the very last card.
    keywords.append('<FITSKeyword name="EXPTIME" value="300." comment="[s]"/>')
    start = '<?xml version="1.0" encoding="UTF-8"?><xisf version="1.0" xmlns="http://www.pixinsight.com/xisf">'
    position = "{:010d}"  # fixed width: the XML's length does not depend on it
    image = (
        '<Image geometry="8:8:1" sampleFormat="UInt16" colorSpace="Gray"'
        f" location={quoteattr('attachment:' + position + ':128')}>"
    )
    xml = start + image + "".join(keywords) + "</Image></xisf>"
    length = len(xml.encode())
    xml = xml.replace(position, f"{16 + length:010d}")
    return xisf_bytes(xml) + PIXELS


def _stored_sizes(database) -> int:
    """Characters of every text column of the one datafile row, and of any table holding
    its header apart (the listing work moves it out of datafiles)."""
    conn = sqlite3.connect(database)
    try:
        total = 0
        for table in ("datafiles", "datafile_headers"):
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            for column in columns:
                row = conn.execute(f'SELECT SUM(LENGTH("{column}")) FROM {table}').fetchone()
                total += row[0] or 0
        return total
    finally:
        conn.close()


@pytest.mark.parametrize(
    "count",
    [
        2 * MAX_CARDS,  # past the card cap
        pytest.param(PROPERTIES, marks=pytest.mark.slow),  # 16 MB: past the text cap too
    ],
)
def test_a_huge_xisf_header_is_stored_capped(live_server, count):
    content = huge_xisf(count)
    assert len(content) < MAX_HEADER_LENGTH
    if count == PROPERTIES:
        assert len(content) > 15_000_000
    keys = live_server.new_user("alice")
    api = {HEADER: f"Key {keys['api_key']}"}
    dataset = httpx.post(live_server.url + "datasets/", json={"name": "d"}, headers=api).json()
    upload = httpx.post(
        live_server.url + "datafiles/",
        data={"dataset": dataset["uuid"]},
        files={"file": ("huge.xisf", content)},
        headers={HEADER: f"Key {keys['upload_key']}"},
        timeout=120,
    )
    assert upload.status_code == 201, upload.text
    datafile = upload.json()
    assert datafile["format"] == "xisf" and datafile["header_status"] == "read"
    assert datafile["size"] == len(content)
    # Derived from every card, the last one too.
    assert datafile["exposure_time"] == 300.0 and datafile["target_name"] == "M31"
    assert datafile["frame_type"] == "light" and datafile["observation"]

    page = httpx.get(live_server.url + f"datafiles/{datafile['id']}/header/", headers=api)
    assert page.status_code == 200
    cards = page.json()
    assert len(cards) <= MAX_CARDS + 1
    assert cards[0] == {"key": "IMAGETYP", "value": "LIGHT", "comment": "Type of exposure"}
    assert cards[-1]["comment"] == TRUNCATED_COMMENT
    kept, total = re.search(r"first ([\d,]+) of ([\d,]+) cards", cards[-1]["value"]).groups()
    # Every keyword counted, and the Image's attributes (Image:geometry, ...) after them.
    assert int(kept.replace(",", "")) == len(cards) - 1
    assert int(total.replace(",", "")) == count + 4 + 4
    assert len(page.content) < 2 * MAX_TEXT  # JSON of at most MAX_TEXT characters of cards
    stored = _stored_sizes(live_server.data_dir / "arcsec.sqlite3")
    assert stored < 2 * MAX_TEXT, stored  # was 15.6 MB in one row
