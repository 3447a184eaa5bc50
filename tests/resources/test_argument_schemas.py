"""Argument schemas are made once per class (resources/blueprint.StrictParser) and shared
by every request: one request's arguments or errors never reach the next one's."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from arcsec_flask.resources.blueprint import Blueprint
from arcsec_flask.resources.datafiles import DataFileFilters


def test_one_instance_per_class(app, client, alice):
    parser = Blueprint.ARGUMENTS_PARSER
    for _ in range(2):
        assert client.get("/datafiles/?page_size=5", headers=alice.api).status_code == 200
    first = parser._schemas[DataFileFilters]
    client.get("/datafiles/?is_raw=true", headers=alice.api)
    assert parser._schemas[DataFileFilters] is first


def test_shared_schema_keeps_no_state_between_requests(client, alice):
    """Bad, good and unknown arguments in turn, from several threads at once: each answer
    is about its own request only."""
    asks = {
        "/datafiles/?page_size=abc": (400, "page_size"),
        "/datafiles/?nonsense=1": (400, "nonsense"),
        "/datafiles/?page_size=2&is_raw=false": (200, None),
        "/datasets/?name=%E2%80%8BM31": (200, None),
    }

    def ask(url: str) -> tuple[str, int, dict]:
        response = client.get(url, headers=alice.api)
        return url, response.status_code, response.json

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(ask, list(asks) * 10))
    for url, status, body in answers:
        expected, field = asks[url]
        assert status == expected, (url, body)
        if field is None:
            assert body["results"] == [] and "errors" not in body
        else:
            assert list(body["errors"]) == [field], (url, body)
