"""The OpenAPI document against the answers: schemathesis over every operation (issue 11).

A real threaded werkzeug server serves an app on a SQLite file in tmp_path, with a seeded
account (owner of `local`), its keys, and one object of every resource made through the
API. schemathesis loads /openapi.json from it, and for every operation generates requests
(with the owner's key, the upload key or no key; path ids generated, or half the time
the seeded object's) and runs its checks on each answer: no 5xx, a documented status,
the documented content type, a body matching the documented schema. Every failure is
collected, so one run lists all of them. FUZZ_EXAMPLES=N raises the examples per
operation of the suite's run (8); the slow variant runs 100.

schemathesis' own pytest plugin loads fine with pytest 9 here; it is not used: its engine
is driven from these plain tests, one hypothesis run per operation.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.serving import make_server

from arcsec_flask import create_app
from arcsec_flask.repo import accounts, organisations
from arcsec_flask.repo.sqlite import connect

HEADER = "X-Arcsecond-API-Authorization"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Deliberate exclusions, each with its reason (no check is turned off).
PARIS = {"longitude": 2.35, "latitude": 48.85, "height": 35}
EXCLUDED_OPERATIONS = {
    # Swagger UI's own files, served from swagger-ui-bundle: not part of the API.
    "GET /docs/static/{filename}",
}


@dataclass
class Seeded:
    url: str
    keys: dict[str, dict[str, str]]  # caller name -> headers
    ids: dict[str, str]  # path word ("datasets", ...) -> the id of a seeded object


def _seed(url: str, headers: dict[str, str], tmp_path) -> dict[str, str]:
    """One object of every resource, through the API: a generated request names a real
    object half the time, so detail, edit and delete answers are checked too."""
    import httpx

    from tests.support.factories import light_frame_cards, write_fits

    def post(path: str, body: dict) -> dict:
        made = httpx.post(f"{url}/{path}/", json=body, headers=headers)
        assert made.status_code == 201, made.text
        return made.json()

    site = post("observingsites", {"name": "OHP", "coordinates": PARIS})
    telescope = post("telescopes", {"name": "RC8", "observing_site": site["uuid"]})
    dataset = post("datasets", {"name": "seed", "telescope": telescope["uuid"], "tags": ["a"]})
    frame = write_fits(tmp_path / "m31.fits", light_frame_cards())
    with frame.open("rb") as handle:
        upload = httpx.post(
            f"{url}/datafiles/",
            data={"dataset": dataset["uuid"]},
            files={"file": ("m31.fits", handle)},
            headers=headers,
        )
    assert upload.status_code == 201, upload.text
    datafile = upload.json()
    package = post("datapackages", {"name": "p", "datasets": [dataset["uuid"]], "is_public": True})
    target = post("targets", {"name": "M31"})
    targetlist = post("targetlists", {"name": "l", "targets": [target["uuid"]]})
    return {
        "observingsites": site["uuid"],
        "telescopes": telescope["uuid"],
        "datasets": dataset["uuid"],
        "datafiles": str(datafile["id"]),
        "nightlogs": datafile["night_log"],
        "observations": datafile["observation"],
        "calibrations": _a_calibration(url, headers, dataset["uuid"], tmp_path),
        "datapackages": package["uuid"],
        "targets": target["uuid"],
        "targetlists": targetlist["uuid"],
        "subdomain": "local",
        "username": "alice",
    }


def _a_calibration(url: str, headers: dict[str, str], dataset: str, tmp_path) -> str:
    import httpx

    from tests.support.factories import light_frame_cards, write_fits

    cards = [(k, *rest) for k, *rest in light_frame_cards() if k != "IMAGETYP"]
    frame = write_fits(tmp_path / "bias.fits", [*cards, ("IMAGETYP", "Bias Frame")])
    with frame.open("rb") as handle:
        upload = httpx.post(
            f"{url}/datafiles/",
            data={"dataset": dataset},
            files={"file": ("bias.fits", handle)},
            headers=headers,
        )
    assert upload.status_code == 201 and upload.json()["calibration"], upload.text
    return upload.json()["calibration"]


@pytest.fixture
def seeded_server(tmp_path) -> Iterator[Seeded]:
    app = create_app({"DATA_DIR": str(tmp_path / "data")})
    conn = connect(app.config["DATABASE"])
    owner = organisations.create_account(conn, "alice", "alice@example.org", None)
    # Another account, so that a generated username may name someone who is not a member.
    accounts.create(conn, "bob", "bob@example.org", None)
    conn.close()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    keys = {
        "owner": {HEADER: f"Key {owner['api_key']}"},
        "upload": {HEADER: f"Key {owner['upload_key']}"},
        "anonymous": {},
    }
    try:
        yield Seeded(url, keys, _seed(url, keys["owner"], tmp_path))
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _seeded_path(operation, seeded: Seeded, parameters: dict) -> dict:
    """`parameters` with each id replaced by the seeded object's of that resource."""
    words = operation.path.strip("/").split("/")
    resource = next((w for w in words if w in seeded.ids), None)
    chosen = dict(parameters)
    for name in parameters:
        if name in ("uuid", "file_id") and resource:
            value = seeded.ids[resource]
            chosen[name] = int(value) if name == "file_id" else value
        elif name in seeded.ids:
            chosen[name] = seeded.ids[name]
    return chosen


def _operations(schema) -> list:
    found = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if f"{operation.method.upper()} {operation.path}" not in EXCLUDED_OPERATIONS:
            found.append(operation)
    return found


def fuzz(seeded: Seeded, examples: int) -> tuple[int, dict[str, str]]:
    """Run every check over every operation; (operations run, failures by operation)."""
    schema = schemathesis.openapi.from_url(f"{seeded.url}/openapi.json")
    operations = _operations(schema)
    failures: dict[str, str] = {}
    callers = st.sampled_from(sorted(seeded.keys))

    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        try:
            _exercise(operation, seeded, callers, examples)
        except (Exception, BaseExceptionGroup) as error:  # collected, reported below
            failures[label] = f"{type(error).__name__}: {error}"[:3000]
    return len(operations), failures


def _exercise(operation, seeded: Seeded, callers, examples: int) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    @given(case=operation.as_strategy(), caller=callers, real=st.booleans())
    def run(case, caller, real):
        if real and case.path_parameters:
            case.path_parameters = _seeded_path(operation, seeded, case.path_parameters)
        case.call_and_validate(
            base_url=seeded.url, headers=dict(seeded.keys[caller]), checks=CHECKS
        )

    run()


def _report(failures: dict[str, str]) -> str:
    """Each failing operation with the titles of its distinct failures (the full text,
    with the curl line to reproduce each, is in the captured output)."""
    lines = []
    for label, text in sorted(failures.items()):
        titles = [line.strip() for line in text.splitlines() if line.startswith("- ")]
        lines.append(f"{label}: {'; '.join(titles) or text.splitlines()[0]}")
    print("\n\n".join(f"== {label}\n{text}" for label, text in sorted(failures.items())))
    return "\n".join(lines)


def test_every_operation_matches_the_document(seeded_server):
    count, failures = fuzz(seeded_server, examples=EXAMPLES)
    assert count > 100  # every resource, in both URL forms
    assert not failures, _report(failures)


@pytest.mark.slow
def test_every_operation_matches_the_document_at_length(seeded_server):
    _count, failures = fuzz(seeded_server, examples=100)
    assert not failures, _report(failures)
