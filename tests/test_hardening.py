"""What an attacker without a key, a slow network and a full disk do (issue: hardening)."""

from __future__ import annotations

import io
import json
import time

import pytest

from arcsec_flask import create_app
from arcsec_flask.storage import StreamingFile, sweep_stale_parts
from tests.test_browse import csrf_token


@pytest.mark.parametrize("path", ["/auth/key/verify/", "/datasets/"])
def test_large_json_bodies_are_refused_before_reading(client, alice, path):
    body = b'{"name": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    response = client.post(path, data=body, content_type="application/json", headers=alice.api)
    assert response.status_code == 413 and response.json["detail"]
    assert client.get("/datasets/", headers=alice.api).json["count"] == 0


def test_large_forms_to_the_login_page_are_refused(client):
    body = "username=" + "x" * (5 * 1024 * 1024)
    response = client.post(
        "/auth/login/", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413


def test_uploads_are_not_capped(client, alice, app):
    app.config["MAX_BODY_BYTES"] = 1024  # far below the upload
    dataset = client.post("/datasets/", json={"name": "d"}, headers=alice.api).json
    content = b"y" * 100_000
    data = {"dataset": dataset["uuid"], "file": (io.BytesIO(content), "big.txt")}
    response = client.post("/datafiles/", data=data, headers=alice.upload)
    assert response.status_code == 201 and response.json["size"] == len(content)


@pytest.mark.parametrize("path", ["/", "/datasets/", "/docs/", "/auth/login/", "/nowhere/"])
def test_security_headers_on_every_answer(client, alice, path):
    response = client.get(path, headers={**alice.api, "Accept": "text/html"})
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert ("'unsafe-inline'" in csp.split("script-src")[1].split(";")[0]) == (path == "/docs/")


def test_downloads_carry_the_headers_too(client, alice):
    dataset = client.post("/datasets/", json={"name": "d"}, headers=alice.api).json
    page = b"<html><script>alert(1)</script></html>"
    data = {"dataset": dataset["uuid"], "file": (io.BytesIO(page), "page.html")}
    stored = client.post("/datafiles/", data=data, headers=alice.upload).json
    with client.get(f"/datafiles/{stored['id']}/file/", headers=alice.api) as response:
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "attachment" in response.headers["Content-Disposition"]
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def _login(client, secure: bool):
    base = "https://localhost" if secure else "http://localhost"
    client.get("/auth/login/", base_url=base)
    return client.post(
        "/auth/login/",
        base_url=base,
        data={"username": "carol", "password": "pw", "csrf_token": csrf_token(client)},
    )


def test_session_cookie_is_secure_over_https(app, client, make_user):
    from werkzeug.security import generate_password_hash

    make_user("carol", password_hash=generate_password_hash("pw"))
    over_https = _login(client, secure=True)
    assert over_https.status_code == 303
    assert "Secure" in over_https.headers["Set-Cookie"]
    plain = _login(app.test_client(), secure=False)
    assert plain.status_code == 303 and "Secure" not in plain.headers["Set-Cookie"]


def test_only_allowed_hosts_make_urls(tmp_path):
    app = create_app(
        {"DATA_DIR": str(tmp_path), "TESTING": True, "ALLOWED_HOSTS": "obs.example.org"}
    )
    client = app.test_client()
    assert client.get("/", base_url="http://obs.example.org").status_code == 200
    evil = client.get("/", base_url="http://evil.example")
    assert evil.status_code == 400 and "http://evil.example" not in evil.text


ATTACKER = {"REMOTE_ADDR": "203.0.113.9"}
OWNER = {"REMOTE_ADDR": "198.51.100.7"}


def _time_passes(db, seconds: float) -> None:
    """Every recorded failure gets `seconds` older: the clock moved on."""
    db.execute("UPDATE login_failures SET at = at - ?", (seconds,))


def _password_login(client, password: str, environ: dict):
    form = {"username": "carol", "password": password, "csrf_token": csrf_token(client)}
    return client.post("/auth/login/", data=form, environ_base=environ)


def test_a_guesser_waits_ever_longer_and_does_not_lock_the_owner_out(client, db, make_user):
    from werkzeug.security import generate_password_hash

    from arcsec_flask.repo import logins

    make_user("carol", password_hash=generate_password_hash("pw"))
    for _ in range(logins.FREE_FAILURES):
        assert _password_login(client, "guess", ATTACKER).status_code == 401
    waits = []
    for delay in (2, 4, 8, 16):  # doubling
        waiting = _password_login(client, "pw", ATTACKER)  # even the right one, while waiting
        assert waiting.status_code == 429 and "Too many failed logins" in waiting.text
        waits.append(int(waiting.headers["Retry-After"]))
        assert _password_login(client, "pw", OWNER).status_code == 303  # the owner, elsewhere
        _time_passes(db, delay)
        assert _password_login(client, "guess", ATTACKER).status_code == 401  # one more try
    # What is left of each delay, counted from the failure: a loaded machine may take a
    # second or more between the failure and the next try (password hashing), never less.
    delays = (2, 4, 8, 16)
    assert all(d - 2 <= w <= d for w, d in zip(waits, delays, strict=True)), waits
    assert waits[-1] > 8  # not stuck at the first delays
    _time_passes(db, 32)
    assert _password_login(client, "pw", ATTACKER).status_code == 303  # after the delay: in
    assert _password_login(client, "guess", ATTACKER).status_code == 401  # and forgiven


def test_key_checks_are_throttled_like_passwords(client, db, alice):
    from arcsec_flask.repo import logins

    wrong = {"username": "alice", "key": "x" * 40}
    right = {"username": "alice", "key": alice.upload_key}
    for _ in range(logins.FREE_FAILURES):
        answer = client.post("/auth/key/verify/", json=wrong, environ_base=ATTACKER)
        assert answer.status_code == 401
    waiting = client.post("/auth/key/verify/", json=right, environ_base=ATTACKER)
    assert waiting.status_code == 429 and waiting.headers["Retry-After"] == "2"
    assert "Try again in 2 s" in waiting.json["detail"]
    org_check = {**right, "organisation": "local"}
    assert (
        client.post("/auth/key/verify-organisation/", json=org_check, environ_base=ATTACKER)
    ).status_code == 429
    assert client.post("/auth/key/verify/", json=right, environ_base=OWNER).status_code == 200
    _time_passes(db, 2)
    assert client.post("/auth/key/verify/", json=right, environ_base=ATTACKER).status_code == 200


def test_parallel_guesses_to_several_workers_get_one_try_between_them(live_server, tmp_path):
    """The count is in SQLite and claimed in one transaction: ten guesses sent at once to
    a real gunicorn with two workers get one answer 401 and nine 429s."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from arcsec_flask.repo import logins
    from arcsec_flask.repo.sqlite import connect

    keys = live_server.new_user("dora")
    wrong = {"username": "dora", "key": "y" * 40}
    url = live_server.url + "auth/key/verify/"
    # Enough failures long ago that the next try is free now and the one after waits 2 min.
    conn = connect(live_server.data_dir / "arcsec.sqlite3")
    old = [("key|dora|127.0.0.1", time.time() - 3600)] * (logins.FREE_FAILURES + 5)
    conn.executemany("INSERT INTO login_failures (login, at) VALUES (?, ?)", old)
    conn.close()
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: httpx.post(url, json=wrong), range(10)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [401] + [429] * 9, statuses
    assert all(int(a.headers["Retry-After"]) > 100 for a in answers if a.status_code == 429)
    right = {"username": "dora", "key": keys["api_key"]}
    assert httpx.post(url, json=right).status_code == 429


def test_crash_leftovers_are_swept_at_start_running_uploads_are_not(tmp_path):
    files_dir = tmp_path / "data" / "files"
    running = StreamingFile(files_dir)  # held: an upload in progress
    leftover = files_dir / ".tmp" / "upload-killed.part"  # nobody holds it: a crash's
    leftover.write_bytes(b"x" * 1000)
    create_app({"DATA_DIR": str(tmp_path / "data")})
    assert not leftover.exists() and running.path.exists()
    assert sweep_stale_parts(files_dir) == 0
    running.discard()


def test_a_dataset_deleted_while_its_file_is_filed_is_a_400(client, alice, db):
    """The race a deleter wins between an upload's checks and its insert: the insert finds
    the dataset gone and answers as the missing dataset it is, never a 500."""
    from arcsec_flask.domain.errors import Invalid
    from arcsec_flask.headers import HeaderInfo
    from arcsec_flask.repo import datafiles, datasets

    made = client.post("/datasets/", json={"name": "d"}, headers=alice.api).json
    dataset = datasets.writable(db, alice.account["owner_id"], made["uuid"])  # checks passed
    assert client.delete(f"/datasets/{made['uuid']}/", headers=alice.api).status_code == 204
    stored = datafiles.StoredFile("z.txt", f"{made['uuid']}/0123", 1, "0" * 64)
    with pytest.raises(Invalid) as raised:
        datafiles.create(
            db, alice.account["owner_id"], dataset, stored, HeaderInfo("other", None), {}
        )
    assert "dataset" in raised.value.errors
    assert json.loads(client.get("/datafiles/", headers=alice.api).data)["count"] == 0


ITEM = "/datasets/0b1c6f7e-2b6a-4d5e-9f00-1234567890ab/"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", ITEM),
        ("post", ITEM),
        ("put", "/datasets/"),
        ("patch", "/datasets/"),
        ("put", "/local/datasets/"),
        ("put", "/nightlogs/" + ITEM.split("/")[2] + "/"),
    ],
)
def test_a_verb_the_route_lacks_is_401_without_a_key_like_get(client, alice, method, path):
    anonymous = getattr(client, method)(path, json={})
    assert anonymous.status_code == 401 and "Allow" not in anonymous.headers
    bad_key = getattr(client, method)(
        path, json={}, headers={"X-Arcsecond-API-Authorization": "Key nope"}
    )
    assert bad_key.status_code == 401
    with_key = getattr(client, method)(path.replace("/local", ""), json={}, headers=alice.api)
    assert with_key.status_code == 405 and "GET" in with_key.headers["Allow"]


def test_a_verb_the_route_lacks_on_a_foreign_portal_is_404_like_get(client, alice, bob, make_org):
    make_org("obs", bob)
    assert client.get("/obs/datasets/", headers=alice.api).status_code == 404
    assert client.put("/obs/datasets/", json={}, headers=alice.api).status_code == 404
    assert client.put("/obs/datasets/", json={}, headers=bob.api).status_code == 405


@pytest.mark.parametrize("path", ["/auth/key/verify/", "/healthcheck/", "/datapackages/"])
def test_public_routes_still_answer_405_to_a_verb_they_lack(client, path):
    response = client.put(path, json={})
    assert response.status_code == 405 and response.headers["Allow"]


def test_a_body_that_is_not_json_is_a_400_not_a_silent_no_op(client, alice):
    made = client.post("/datasets/", json={"name": "d"}, headers=alice.api).json
    url = f"/datasets/{made['uuid']}/"
    sent = client.patch(url, data='{"name": "e"}', content_type="text/plain", headers=alice.api)
    assert sent.status_code == 400 and "application/json" in sent.json["detail"]
    assert "json" in sent.json["errors"]
    assert client.get(url, headers=alice.api).json["name"] == "d"
    created = client.post("/datasets/", data="name=x", headers=alice.api)
    assert created.status_code == 400 and "JSON" in created.json["detail"]


@pytest.mark.parametrize("body", [None, ""])
def test_a_patch_without_a_body_changes_nothing(client, alice, body):
    made = client.post("/datasets/", json={"name": "d"}, headers=alice.api).json
    url = f"/datasets/{made['uuid']}/"
    kwargs = {} if body is None else {"data": body, "content_type": "application/json"}
    answer = client.patch(url, headers=alice.api, **kwargs)
    assert answer.status_code == 200 and answer.json == made


def test_the_document_says_which_routes_need_no_key(client):
    doc = client.get("/openapi.json").json
    assert doc["security"] == [{"ApiKey": []}]
    for path in ("/datapackages/", "/{subdomain}/datapackages/{uuid}/archive/"):
        assert doc["paths"][path]["get"]["security"] == [{}, {"ApiKey": []}]
    assert "security" not in doc["paths"]["/datasets/"]["get"]
    root = doc["paths"]["/"]["get"]["responses"]["200"]["content"]
    assert set(root) == {"application/json", "text/html"}
