"""The browseable pages: negotiation, links, escaping, and the password login."""

from __future__ import annotations

import re

import pytest
from werkzeug.security import generate_password_hash

from arcsec_flask.browse.login import BAD_LOGIN, EXPIRED_FORM
from arcsec_flask.browse.pages import render_json_with_links

BROWSER = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
    "image/webp,*/*;q=0.8"
}
PASSWORD = "correct horse battery staple"


def fast_hash(password: str) -> str:
    return generate_password_hash(password, method="pbkdf2:sha256:1000")  # tests need no cost


@pytest.fixture
def carol(make_user):
    return make_user("carol", password_hash=fast_hash(PASSWORD))


def csrf_token(client, path: str = "/auth/login/") -> str:
    page = client.get(path)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def log_in(client, username: str = "carol", password: str = PASSWORD, **extra):
    token = csrf_token(client)
    form = {"username": username, "password": password, "csrf_token": token, **extra}
    return client.post("/auth/login/", data=form)


def create_datasets(client, user, *names: str) -> list[dict]:
    created = [client.post("/datasets/", json={"name": name}, headers=user.api) for name in names]
    assert all(response.status_code == 201 for response in created)
    return [response.json for response in created]


# --- render_json_with_links ---------------------------------------------------------------


def test_render_json_pretty_prints_and_links_only_this_servers_urls():
    data = {
        "count": 2,
        "next": "http://testserver/datasets/?page=2",
        "elsewhere": "https://example.org/x/",
        "script": "javascript:alert(1)",
        "items": [True, None, 1.5, {}, []],
    }
    rendered = render_json_with_links(data, "http://testserver/")
    assert str(rendered) == (
        "{\n"
        '  "count": 2,\n'
        '  "next": "<a href="http://testserver/datasets/?page=2">'
        'http://testserver/datasets/?page=2</a>",\n'
        '  "elsewhere": "https://example.org/x/",\n'
        '  "script": "javascript:alert(1)",\n'
        '  "items": [\n'
        "    true,\n"
        "    null,\n"
        "    1.5,\n"
        "    {},\n"
        "    []\n"
        "  ]\n"
        "}"
    )


def test_render_json_escapes_everything():
    data = {
        "name": "<script>alert(1)</script>",
        "<b>key</b>": "a & b",
        "url": 'http://testserver/x/?a=1&b="><script>alert(2)</script>',
    }
    rendered = str(render_json_with_links(data, "http://testserver/"))
    assert "<script>" not in rendered and "<b>" not in rendered
    assert '"&lt;script&gt;alert(1)&lt;/script&gt;"' in rendered
    assert '"&lt;b&gt;key&lt;/b&gt;": "a &amp; b"' in rendered
    assert 'href="http://testserver/x/?a=1&amp;b=&#34;&gt;&lt;script&gt;' in rendered


def test_render_json_link_for_gives_links_to_ids_on_this_server_only():
    def link_for(path, value):
        if path == ("results", 0, "id"):
            return f"http://testserver/datafiles/{value}/"
        return "javascript:alert(1)" if path == ("results", 0, "name") else None

    data = {"results": [{"id": 7, "name": "x", "is_raw": True}]}
    rendered = str(render_json_with_links(data, "http://testserver/", link_for))
    assert '"id": <a href="http://testserver/datafiles/7/">7</a>' in rendered
    assert '"name": "x"' in rendered and "javascript" not in rendered


# --- negotiation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "query", "page"),
    [
        (BROWSER, "", True),
        ({"Accept": "text/html"}, "", True),
        ({"Accept": "*/*"}, "", False),
        ({"Accept": "application/json"}, "", False),
        ({"Accept": "application/json, text/plain, */*"}, "", False),
        ({}, "", False),
        (BROWSER, "?format=json", False),
        ({"Accept": "*/*"}, "?format=api", True),
    ],
)
def test_html_for_browsers_json_for_clients(client, headers, query, page):
    response = client.get(f"/{query}", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == ("text/html" if page else "application/json")
    negotiated = not query
    assert ("Accept" in response.headers.get("Vary", "")) == negotiated
    if not page:
        assert "observingsites" in response.json


def test_root_page_links_every_resource(client):
    response = client.get("/", headers=BROWSER)
    assert "<title>API Root" in response.text
    for name in ("observingsites", "telescopes", "datasets", "datafiles", "nightlogs"):
        url = f"http://localhost/{name}/"
        assert f'"{name}": "<a href="{url}">{url}</a>"' in response.text


def test_head_from_a_browser_gets_the_page_headers(client):
    response = client.head("/", headers=BROWSER)
    assert response.status_code == 200 and response.mimetype == "text/html"


def test_writes_are_never_turned_into_pages(client, alice):
    response = client.post("/datasets/", json={"name": "n"}, headers={**alice.api, **BROWSER})
    assert response.status_code == 201 and response.mimetype == "application/json"


def test_list_page_links_items_pages_and_shows_allowed_methods(client, alice):
    first, second, third = create_datasets(client, alice, "m31", "m42", "m45")
    response = client.get("/datasets/?page=2&page_size=1", headers={**alice.api, **BROWSER})
    assert response.status_code == 200
    text = response.text
    assert "<title>Datasets" in text and "<h1>Datasets</h1>" in text
    assert "<strong>GET</strong> /datasets/?page=2&amp;page_size=1" in text
    assert "HTTP 200 OK" in text and "Allow: GET, POST" in text
    assert 'rel="prev" href="http://localhost/datasets/?page=1&amp;page_size=1"' in text
    assert 'rel="next" href="http://localhost/datasets/?page=3&amp;page_size=1"' in text
    detail = f"http://localhost/datasets/{second['uuid']}/"
    assert f'"uuid": "<a href="{detail}">{second["uuid"]}</a>"' in text
    assert first["uuid"] not in text and third["uuid"] not in text


def test_list_page_format_json_link_and_format_parameters(client, alice):
    create_datasets(client, alice, "m31")
    page = client.get("/datasets/", headers={**alice.api, **BROWSER})
    assert 'href="http://localhost/datasets/?format=json"' in page.text
    as_json = client.get("/datasets/?format=json", headers={**alice.api, **BROWSER})
    assert as_json.status_code == 200 and as_json.json["count"] == 1
    as_page = client.get("/datasets/?format=api", headers=alice.api)
    assert as_page.status_code == 200 and as_page.mimetype == "text/html"


def test_detail_page_links_references(client, alice):
    telescope = client.post("/telescopes/", json={"name": "C14"}, headers=alice.api).json
    dataset = client.post(
        "/datasets/", json={"name": "m31", "telescope": telescope["uuid"]}, headers=alice.api
    ).json
    response = client.get(
        f"/datasets/{dataset['uuid']}/?format=api", headers={**alice.api, **BROWSER}
    )
    assert "<h1>Dataset</h1>" in response.text
    assert "Allow: DELETE, GET, PATCH" in response.text
    telescope_url = f"http://localhost/telescopes/{telescope['uuid']}/"
    assert f'"telescope": "<a href="{telescope_url}">' in response.text


def test_dataset_name_is_escaped_on_the_page(client, alice):
    (dataset,) = create_datasets(client, alice, "<script>alert(1)</script>")
    response = client.get(
        f"/datasets/{dataset['uuid']}/?format=api", headers={**alice.api, **BROWSER}
    )
    assert "<script>alert(1)</script>" not in response.text
    assert '"name": "&lt;script&gt;alert(1)&lt;/script&gt;"' in response.text


def test_401_page_for_a_browser_links_to_the_login(client, alice):
    response = client.get("/profiles/alice/", headers=BROWSER)
    assert response.status_code == 401 and response.mimetype == "text/html"
    assert 'href="/auth/login/?next=/profiles/alice/"' in response.text
    assert "HTTP 401 Unauthorized" in response.text
    assert client.get("/profiles/alice/").json == {
        "detail": "Authentication credentials were not provided."
    }


def test_404_page_for_an_unknown_route(client):
    response = client.get("/nothing-here/", headers=BROWSER)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "<h1>Not Found</h1>" in response.text and "Allow:" not in response.text


# --- login, session, logout ----------------------------------------------------------------


def test_login_page_is_a_form(client):
    response = client.get("/auth/login/?next=/datasets/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert '<form method="post" action="/auth/login/">' in response.text
    assert 'name="password"' in response.text and 'value="/datasets/"' in response.text


def test_login_sets_an_httponly_samesite_session_cookie(client, carol):
    response = log_in(client, next="/profiles/carol/")
    assert response.status_code == 303
    assert response.headers["Location"] == "/profiles/carol/"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("arcsec_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Expires" not in cookie and "Max-Age" not in cookie  # a browser-session cookie


def test_login_by_email_too(client, carol):
    assert log_in(client, username="carol@example.org").status_code == 303


def test_login_gives_a_new_form_token(client, carol):
    csrf_token(client)
    with client.session_transaction() as session:
        before = session["csrf_token"]
    log_in(client)
    with client.session_transaction() as session:
        assert session["csrf_token"] != before and session["account_id"] == carol.account["id"]


@pytest.mark.parametrize(
    ("username", "password"),
    [("carol", "wrong"), ("nobody", PASSWORD), ("alice", ""), ("alice", "anything"), ("", "")],
)
def test_login_failure_has_one_message(client, carol, alice, username, password):
    response = log_in(client, username=username, password=password)
    assert response.status_code == 401 and response.mimetype == "text/html"
    assert BAD_LOGIN in response.text
    with client.session_transaction() as session:
        assert "account_id" not in session
    assert client.get("/profiles/carol/").status_code == 401


def test_login_refuses_a_wrong_form_token(client, carol):
    csrf_token(client)
    for token in ("forged", ""):
        form = {"username": "carol", "password": PASSWORD, "csrf_token": token}
        response = client.post("/auth/login/", data=form)
        assert response.status_code == 400 and EXPIRED_FORM in response.text
    fresh_client = client.application.test_client()  # no session, hence no token at all
    response = fresh_client.post("/auth/login/", data={**form, "csrf_token": "x"})
    assert response.status_code == 400
    assert client.get("/profiles/carol/").status_code == 401


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/datasets/",
        "https://evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "",
    ],
)
def test_login_never_redirects_off_site(client, carol, target):
    response = log_in(client, next=target)
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_login_redirects_to_a_local_path_with_its_query(client, carol):
    response = log_in(client, next="/datasets/?page=2")
    assert response.headers["Location"] == "/datasets/?page=2"


def test_session_reads_own_profile_and_organisations(client, carol, alice, make_org):
    make_org("obs", carol)
    make_org("other", alice)
    log_in(client)
    assert client.get("/profiles/carol/").json["username"] == "carol"
    assert client.get("/organisations/obs/").json["subdomain"] == "obs"
    assert client.get("/organisations/other/").status_code == 404
    assert client.get("/profiles/alice/").status_code == 404
    page = client.get("/profiles/carol/", headers=BROWSER)
    assert "Logged in as <strong>carol</strong>" in page.text
    assert 'action="/auth/logout/"' in page.text


def test_session_cannot_write(client, carol):
    log_in(client)
    response = client.post("/datasets/", json={"name": "m31"})
    assert response.status_code == 403
    assert response.json["detail"] == "Writing needs an API key, not a browser session."


def test_logout_ends_the_session(client, carol):
    log_in(client)
    page = client.get("/auth/logout/")
    assert "Log out carol" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert client.post("/auth/logout/", data={"csrf_token": "forged"}).status_code == 400
    assert client.get("/profiles/carol/").status_code == 200  # a forged logout did nothing
    response = client.post("/auth/logout/", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/auth/login/"
    assert client.get("/profiles/carol/").status_code == 401
    with client.session_transaction() as session:
        assert dict(session) == {}


def test_a_copied_cookie_dies_with_the_logout(app, client, carol):
    log_in(client)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    thief = app.test_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    assert thief.get("/profiles/carol/").status_code == 200
    page = client.get("/auth/logout/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post("/auth/logout/", data={"csrf_token": token})
    assert thief.get("/profiles/carol/").status_code == 401
    log_in(client)  # a new login works again
    assert client.get("/profiles/carol/").status_code == 200
    assert thief.get("/profiles/carol/").status_code == 401


def test_password_guessing_is_throttled(app, client, carol):
    from arcsec_flask.repo import logins

    for _ in range(logins.FREE_FAILURES):
        assert log_in(client, password="wrong").status_code == 401
    blocked = log_in(client)  # even the right password, for a while
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) == logins.FIRST_DELAY_S
    assert "Too many failed logins" in blocked.text
    # Another name is not held up, and the count is in the database, shared by workers.
    assert log_in(client, username="someone-else", password="x").status_code == 401
    other_worker = app.test_client()
    assert log_in(other_worker).status_code == 429


def test_throttle_delays_double_and_reset():
    from arcsec_flask.repo import logins
    from arcsec_flask.repo.sqlite import connect, init_schema

    conn = connect(":memory:")
    init_schema(conn)
    now = 1000.0
    for _ in range(logins.FREE_FAILURES):
        assert logins.claim_attempt(conn, "Carol", now) == 0
    delays = []
    for _ in range(12):
        wait = logins.claim_attempt(conn, "carol", now)  # case-insensitive
        assert wait > 0 and logins.claim_attempt(conn, "carol", now + wait - 1) > 0
        delays.append(wait)
        now += wait
        assert logins.claim_attempt(conn, "carol", now) == 0  # one more try, then wait
    assert delays[:4] == [2, 4, 8, 16] and max(delays) == logins.MAX_DELAY_S
    assert logins.retry_after(conn, "carol", now + logins.WINDOW_S) == 0  # forgotten
    logins.clear(conn, "carol")
    assert logins.retry_after(conn, "carol", now) == 0
    conn.close()


def test_a_success_clears_the_failures(client, carol):
    from arcsec_flask.repo import logins

    for _ in range(logins.FREE_FAILURES - 1):
        log_in(client, password="wrong")
    assert log_in(client).status_code == 303
    client.post("/auth/logout/", data={"csrf_token": csrf_token(client)})
    for _ in range(logins.FREE_FAILURES - 1):
        log_in(client, password="wrong")
    assert log_in(client).status_code == 303
