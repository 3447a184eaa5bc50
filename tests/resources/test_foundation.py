"""Root, health, key verification, organisations, profiles; the error shape; 401/403/404."""

from __future__ import annotations

import pytest

from tests.conftest import HEADER


def test_root_lists_resource_urls(client):
    response = client.get("/")
    assert response.status_code == 200
    for url in response.json.values():
        assert url.startswith("http://localhost/") and url.endswith("/")


def test_healthcheck(client):
    assert client.get("/healthcheck/").json == {"status": "ok"}


def test_unknown_route_is_404_with_detail(client):
    response = client.get("/nothing-here/")
    assert response.status_code == 404
    assert response.json == {"detail": "Not found."}


def test_missing_trailing_slash_is_404_not_redirect(client, alice):
    response = client.get("/healthcheck", headers=alice.api)
    assert response.status_code == 404
    assert "Location" not in response.headers
    assert client.post("/auth/key/verify", json={}).status_code == 404


def test_wrong_verb_is_405_with_allow(client):
    response = client.delete("/healthcheck/")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert response.json["detail"] == 'Method "DELETE" not allowed.'


@pytest.mark.parametrize("scope", ["api", "upload"])
def test_verify_accepts_either_key(client, alice, scope):
    key = alice.api_key if scope == "api" else alice.upload_key
    response = client.post("/auth/key/verify/", json={"username": "alice", "key": key})
    assert response.status_code == 200
    assert response.json["scope"] == scope


def test_verify_accepts_the_email_as_username(client, alice):
    response = client.post(
        "/auth/key/verify/", json={"username": "alice@example.org", "key": alice.api_key}
    )
    assert response.status_code == 200


def test_verify_same_answer_for_wrong_key_and_unknown_user(client, alice, bob):
    wrong_key = client.post("/auth/key/verify/", json={"username": "alice", "key": "x" * 43})
    unknown = client.post("/auth/key/verify/", json={"username": "nobody", "key": alice.api_key})
    someone_elses = client.post("/auth/key/verify/", json={"username": "bob", "key": alice.api_key})
    assert wrong_key.status_code == unknown.status_code == someone_elses.status_code == 401
    assert wrong_key.json == unknown.json == someone_elses.json
    assert wrong_key.json["detail"] == "Invalid username or key."


def test_verify_validation_errors(client):
    response = client.post("/auth/key/verify/", json={"username": "alice"})
    assert response.status_code == 400
    assert response.json["errors"] == {"key": ["Missing data for required field."]}
    assert "key" in response.json["detail"]
    unknown_field = client.post("/auth/key/verify/", json={"username": "a", "key": "k", "x": 1})
    assert unknown_field.status_code == 400 and "x" in unknown_field.json["errors"]
    not_json = client.post("/auth/key/verify/", data="{", content_type="application/json")
    assert not_json.status_code == 400 and "detail" in not_json.json


def test_verify_organisation(client, make_user, make_org, alice, bob):
    carol = make_user("carol")
    make_org("obs", alice, {"bob": "visitor", "carol": "member"})
    url = "/auth/key/verify-organisation/"
    ok = client.post(
        url, json={"username": "carol", "key": carol.upload_key, "organisation": "obs"}
    )
    assert ok.status_code == 200
    owner = client.post(
        url, json={"username": "alice", "key": alice.api_key, "organisation": "obs"}
    )
    assert owner.status_code == 200
    visitor = client.post(url, json={"username": "bob", "key": bob.api_key, "organisation": "obs"})
    assert visitor.status_code == 403
    elsewhere = client.post(url, json={"username": "bob", "key": bob.api_key, "organisation": "x"})
    assert elsewhere.status_code == 403
    bad = client.post(url, json={"username": "carol", "key": "nope", "organisation": "obs"})
    assert bad.status_code == 401


def test_profile_is_the_account_itself(client, make_org, alice, bob):
    make_org("obs", alice)
    response = client.get("/profiles/alice/", headers=alice.upload)
    assert response.status_code == 200
    assert response.json["username"] == "alice"
    assert response.json["memberships"] == [
        {"organisation": {"subdomain": "obs", "name": "Obs"}, "role": "owner"}
    ]
    assert not any("key" in field for field in response.json)
    assert client.get("/profiles/bob/", headers=alice.api).status_code == 404
    assert client.get("/profiles/alice/", headers=bob.api).status_code == 404


def test_organisation_for_members_only(client, make_org, make_user, alice, bob):
    visitor = make_user("vera")
    make_org("obs", alice, {"vera": "visitor"})
    assert client.get("/organisations/obs/", headers=alice.api).json["name"] == "Obs"
    assert client.get("/organisations/obs/", headers=visitor.upload).status_code == 200
    hidden = client.get("/organisations/obs/", headers=bob.api)
    missing = client.get("/organisations/nope/", headers=bob.api)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json == missing.json


@pytest.mark.parametrize(
    "header",
    [None, "Key nope", "Key ", "Token abc", "Bearer abc", "nonsense"],
)
def test_missing_or_unknown_key_is_401(client, alice, header):
    headers = {HEADER: header} if header is not None else {}
    response = client.get("/profiles/alice/", headers=headers)
    assert response.status_code == 401
    assert set(response.json) == {"detail"}


def test_password_or_session_token_in_key_header_is_refused(app, client, make_user):
    from werkzeug.security import generate_password_hash

    make_user("dora", password_hash=generate_password_hash("pa55word"))
    for value in ("Key pa55word", "pa55word", "Key " + app.config["SECRET_KEY"]):
        assert client.get("/profiles/dora/", headers={HEADER: value}).status_code == 401


def test_rotated_keys_stop_working(client, db, alice):
    from arcsec_flask.repo import accounts

    accounts.rotate_keys(db, "alice")
    assert client.get("/profiles/alice/", headers=alice.api).status_code == 401


def test_openapi_and_offline_docs(client):
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    assert "/auth/key/verify/" in spec.json["paths"]
    page = client.get("/docs/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'src="static/swagger-ui-bundle.js"' in html  # relative, served by us
    assert "cdn" not in html.lower()
    asset = client.get("/docs/static/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000
    asset.close()


def test_proxy_headers_when_trusted(tmp_path):
    from arcsec_flask import create_app

    app = create_app({"DATA_DIR": str(tmp_path), "PROXY_FIX": 1})
    headers = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "obs.example.org",
        "X-Forwarded-Prefix": "/api",
    }
    root = app.test_client().get("/", headers=headers).json
    assert all(url.startswith("https://obs.example.org/api/") for url in root.values())


def test_proxy_headers_ignored_by_default(client):
    root = client.get("/", headers={"X-Forwarded-Host": "evil.example"}).json
    assert all("evil" not in url for url in root.values())


def test_every_api_route_is_documented_with_a_summary(app, client):
    """Like Datasette's docs tests: a route missing from /openapi.json fails here."""
    import re

    spec = client.get("/openapi.json").json
    documented = {path: ops for path, ops in spec["paths"].items()}
    undocumented_blueprints = {"browse", "api-docs", None}
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else None
        if blueprint in undocumented_blueprints or rule.endpoint in ("static", "docs_static"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        assert path in documented, path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = documented[path][method.lower()]
            assert operation.get("summary"), (path, method)


def test_openapi_describes_the_upload_and_the_key(client):
    spec = client.get("/openapi.json").json
    assert spec["security"] == [{"ApiKey": []}]
    scheme = spec["components"]["securitySchemes"]["ApiKey"]
    assert scheme == {"type": "apiKey", "in": "header", "name": "X-Arcsecond-API-Authorization"}
    body = spec["paths"]["/datafiles/"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert body["schema"]["properties"]["file"] == {"type": "string", "format": "binary"}


def test_public_routes_need_no_key_in_the_docs(client):
    paths = client.get("/openapi.json").json["paths"]
    for path, method in [
        ("/", "get"),
        ("/healthcheck/", "get"),
        ("/auth/key/verify/", "post"),
        ("/auth/key/verify-organisation/", "post"),
    ]:
        assert paths[path][method]["security"] == []
    assert "security" not in paths["/datasets/"]["get"]  # the global ApiKey applies
