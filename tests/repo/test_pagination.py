"""Pages of a list at depth, through the API: `?page=N` by offset, `next`/`previous`
links that carry a keyset cursor past the first 1,000 rows, both giving the same rows."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest

from arcsec_flask.repo import datafiles
from arcsec_flask.repo.sqlite import transaction

FILES = 1234
SIZE = 50


@pytest.fixture
def filled(archive):
    """Two datasets whose files interleave in id order (as two nights uploaded at once)."""
    march, april = archive.dataset("March"), archive.dataset("April")
    with transaction(archive.conn):
        for night in range(FILES // 100 + 1):
            archive.add(march, min(100, FILES - night * 100), night=night)
            archive.add(april, 7, night=night)
    return archive, march, april


def get(client, user, url: str, **params) -> dict:
    response = client.get(url, query_string=params or None, headers=user.api)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def query_of(link: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(link).query)


def walk(client, user, first: str, direction: str = "next", **params) -> list[dict]:
    pages, page = [], get(client, user, first, **params)
    while True:
        pages.append(page)
        if page[direction] is None:
            return pages
        page = get(client, user, page[direction])


def test_next_links_walk_every_file_once_in_order_with_cursors_past_row_1000(client, filled):
    archive, march, _ = filled
    user = archive.user
    pages = walk(client, user, "/datafiles/", dataset=march["uuid"], page_size=SIZE)
    ids = [f["id"] for page in pages for f in page["results"]]
    everything = datafiles.list_(archive.conn, archive.owner_id, {"dataset": march["uuid"]}, 10**6)
    assert everything[0] == FILES
    assert ids == [f["id"] for f in everything[1]]
    assert {f["dataset"] for page in pages for f in page["results"]} == {march["uuid"]}
    assert {page["count"] for page in pages} == {FILES}
    assert len(pages) == -(-FILES // SIZE)
    for number, page in enumerate(pages[:-1], start=1):
        link = query_of(page["next"])
        assert link["page"] == [str(number + 1)]
        assert link["dataset"] == [march["uuid"]] and link["page_size"] == [str(SIZE)]
        # Plain ?page=N while the next page starts within the first 1,000 rows.
        assert ("cursor" in link) == (number * SIZE >= 1000), number
    assert pages[-1]["next"] is None and pages[0]["previous"] is None

    # ?page=N by offset gives the page the links reach, at every depth.
    for number in (1, 2, 19, 20, 21, 22, len(pages)):
        direct = get(
            client, user, "/datafiles/", dataset=march["uuid"], page_size=SIZE, page=number
        )
        assert direct["results"] == pages[number - 1]["results"], number
        assert direct["count"] == FILES
        assert (direct["next"] is None) == (number == len(pages))

    # previous links, from the last page reached by a cursor, walk back the same pages.
    backward = walk(client, user, pages[-2]["next"], "previous")
    assert [p["results"] for p in backward] == [p["results"] for p in reversed(pages)]
    assert "cursor" in query_of(pages[-1]["previous"])
    assert "cursor" not in query_of(backward[-2]["previous"])  # page 1 is plain ?page=1


def test_a_page_past_the_end_and_a_bad_cursor_are_404(client, archive):
    user = archive.user
    archive.add(archive.dataset("March"), 3)
    assert client.get("/datafiles/?page=3&page_size=1", headers=user.api).status_code == 200
    past = client.get("/datafiles/?page=4&page_size=1", headers=user.api)
    assert past.status_code == 404 and past.get_json()["detail"] == "Invalid page."
    for cursor in ("nonsense!", "YTA", base64.urlsafe_b64encode(b"c12").decode(), "x" * 65):
        response = client.get(f"/datafiles/?cursor={cursor}", headers=user.api)
        assert response.status_code in (400, 404), cursor
        if response.status_code == 404:
            assert response.get_json()["detail"] == "Invalid cursor."


def test_a_cursor_walk_neither_skips_nor_repeats_when_files_come_and_go(client, filled):
    """Offsets shift when an earlier row goes away; a keyset does not."""
    archive, march, _ = filled
    user = archive.user
    pages = [get(client, user, "/datafiles/", dataset=march["uuid"], page_size=SIZE, page=21)]
    assert "cursor" in query_of(pages[0]["next"])
    datafiles.delete(archive.conn, archive.owner_id, pages[0]["results"][0]["id"])  # behind
    archive.add(march, 5, night=30)  # after the end
    while pages[-1]["next"]:
        pages.append(get(client, user, pages[-1]["next"]))
    ids = [f["id"] for page in pages[1:] for f in page["results"]]
    everything = datafiles.list_(archive.conn, archive.owner_id, {"dataset": march["uuid"]}, 10**6)
    assert everything[0] == FILES + 4
    after = [f["id"] for f in everything[1] if f["id"] > pages[0]["results"][-1]["id"]]
    assert ids == after
    assert pages[-1]["count"] == FILES + 4


@pytest.mark.parametrize(
    "route, table",
    [("/nightlogs/", "night_logs"), ("/observations/", "observations"), ("/datasets/", "datasets")],
)
def test_every_list_route_takes_its_cursor(client, filled, route, table):
    """The keyset works the same for the other lists: the page after (or before) a row,
    asked by the cursor a link would carry, is the page that follows (or precedes) it."""
    from arcsec_flask.resources.pagination import _encode

    archive, _, _ = filled
    user = archive.user
    plain = walk(client, user, route, page_size=1)
    assert len(plain) >= 2

    def row_id(item: dict) -> int:  # the API shows uuids; the cursor holds the row's id
        sql = f"SELECT id FROM {table} WHERE uuid = ?"
        return archive.conn.execute(sql, (item["uuid"],)).fetchone()[0]

    for number, page in enumerate(plain[:-1], start=1):
        after = _encode("a", row_id(page["results"][-1]))
        following = get(client, user, route, page_size=1, page=number + 1, cursor=after)
        assert following["results"] == plain[number]["results"]
        before = _encode("b", row_id(plain[number]["results"][0]))
        preceding = get(client, user, route, page_size=1, page=number, cursor=before)
        assert preceding["results"] == page["results"]
        assert preceding["count"] == following["count"] == plain[0]["count"]
