"""Members of a portal, the caller's organisations, and the `local` portal of a fresh install."""

from __future__ import annotations

import json

import pytest

from arcsec_flask.repo import accounts, organisations


@pytest.fixture
def obs(make_user, make_org, alice, bob):
    """An organisation 'obs': alice owns it, bob is admin, mia member, vic visitor."""
    for name in ("mia", "vic"):
        make_user(name)
    make_org("obs", alice, {"bob": "admin", "mia": "member", "vic": "visitor"})
    return {"alice": alice, "bob": bob}


def names(page) -> list[str]:
    return [m["username"] for m in page["results"]]


def key(db, username: str) -> dict[str, str]:
    """A fresh API key header for an existing account."""
    return {"X-Arcsecond-API-Authorization": f"Key {accounts.rotate_keys(db, username)['api_key']}"}


# --- reading ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", "bob", "mia"])
def test_members_list_for_members_and_above(client, db, obs, who):
    page = client.get("/obs/members/", headers=key(db, who))
    assert page.status_code == 200, page.json
    assert set(page.json) == {"count", "next", "previous", "results"}
    assert page.json["count"] == 4
    assert names(page.json) == ["alice", "bob", "mia", "vic"]  # the order they joined
    first = page.json["results"][0]
    assert first["role"] == "owner" and first["date_joined"].endswith("Z")


def test_visitor_stranger_and_upload_key(client, db, make_user, obs, alice):
    assert client.get("/obs/members/", headers=key(db, "vic")).status_code == 403
    assert client.get("/obs/members/alice/", headers=key(db, "vic")).status_code == 403
    carol = make_user("carol")
    assert client.get("/obs/members/", headers=carol.api).status_code == 404
    assert client.get("/nowhere/members/", headers=carol.api).status_code == 404
    # Members are not for the upload key, even the owner's.
    assert client.get("/obs/members/", headers=alice.upload).status_code == 403
    body = {"username": "carol", "role": "member"}
    assert client.post("/obs/members/", json=body, headers=alice.upload).status_code == 403


def test_no_personal_members_route(client, alice):
    assert client.get("/members/", headers=alice.api).status_code == 404
    assert client.get("/members/alice/", headers=alice.api).status_code == 404


def test_member_detail_case_insensitive_and_unknown(client, obs, alice):
    one = client.get("/obs/members/BoB/", headers=alice.api)
    assert one.status_code == 200
    assert one.json["username"] == "bob" and one.json["role"] == "admin"
    assert one.json["date_joined"] == one.json["creation_date"]
    assert client.get("/obs/members/nobody/", headers=alice.api).status_code == 404
    assert client.get("/obs/members/bob", headers=alice.api).status_code == 404  # no slash


def test_filters_and_pagination(client, obs, alice):
    page = client.get("/obs/members/?role=admin", headers=alice.api).json
    assert names(page) == ["bob"]
    assert names(client.get("/obs/members/?username=MIA", headers=alice.api).json) == ["mia"]
    assert client.get("/obs/members/?username=zed", headers=alice.api).json["count"] == 0
    bad_role = client.get("/obs/members/?role=king", headers=alice.api)
    assert bad_role.status_code == 400 and "role" in bad_role.json["errors"]
    unknown = client.get("/obs/members/?colour=red", headers=alice.api)
    assert unknown.status_code == 400 and "colour" in unknown.json["errors"]
    first = client.get("/obs/members/?page_size=3", headers=alice.api).json
    assert first["count"] == 4 and names(first) == ["alice", "bob", "mia"]
    assert first["next"] == "http://localhost/obs/members/?page_size=3&page=2"
    second = client.get(first["next"], headers=alice.api).json
    assert names(second) == ["vic"] and second["next"] is None and second["previous"]
    assert client.get("/obs/members/?page=3&page_size=3", headers=alice.api).status_code == 404


def test_verbs_and_405s(client, obs, alice):
    assert client.put("/obs/members/", json={}, headers=alice.api).status_code == 405
    assert client.delete("/obs/members/", headers=alice.api).status_code == 405
    put = client.put("/obs/members/bob/", json={"role": "member"}, headers=alice.api)
    assert put.status_code == 405 and "PATCH" in put.headers["Allow"]


# --- writing ---------------------------------------------------------------------------


def test_admin_adds_a_member_and_member_cannot(client, db, make_user, obs):
    make_user("carol")
    make_user("dan")
    created = client.post(
        "/obs/members/", json={"username": "carol", "role": "visitor"}, headers=key(db, "bob")
    )
    assert created.status_code == 201, created.json
    assert created.json["username"] == "carol" and created.json["role"] == "visitor"
    assert created.json["date_joined"].endswith("Z")
    refused = client.post(
        "/obs/members/", json={"username": "dan", "role": "member"}, headers=key(db, "mia")
    )
    assert refused.status_code == 403
    by_visitor = client.post("/obs/members/", json={"username": "dan"}, headers=key(db, "vic"))
    assert by_visitor.status_code == 403
    # The role defaults to member; a username in any case names the account.
    default = client.post("/obs/members/", json={"username": "DAN"}, headers=key(db, "bob"))
    assert default.status_code == 201 and default.json == {
        **default.json,
        "username": "dan",
        "role": "member",
    }


def test_add_validation(client, db, obs, alice):
    unknown = client.post("/obs/members/", json={"username": "ghost"}, headers=alice.api)
    assert unknown.status_code == 400 and "username" in unknown.json["errors"]
    duplicate = client.post("/obs/members/", json={"username": "MIA"}, headers=alice.api)
    assert duplicate.status_code == 400 and "already" in duplicate.json["detail"]
    assert "username" in duplicate.json["errors"]
    for body, field in (
        ({"role": "member"}, "username"),
        ({"username": "mia", "role": "king"}, "role"),
        ({"username": "mia", "colour": "red"}, "colour"),
    ):
        response = client.post("/obs/members/", json=body, headers=alice.api)
        assert response.status_code == 400 and field in response.json["errors"], body
    assert client.get("/obs/members/", headers=alice.api).json["count"] == 4


def test_add_ignores_read_only_fields(client, make_user, obs, alice):
    make_user("carol")
    body = {"username": "carol", "role": "member", "date_joined": "x", "creation_date": "y"}
    created = client.post("/obs/members/", json=body, headers=alice.api)  # docs/API.md §4a
    assert created.status_code == 201 and created.json["date_joined"].endswith("Z")


def test_patch_role(client, db, obs, alice):
    changed = client.patch("/obs/members/MIA/", json={"role": "admin"}, headers=key(db, "bob"))
    assert changed.status_code == 200 and changed.json["role"] == "admin"
    assert client.get("/obs/members/mia/", headers=alice.api).json["role"] == "admin"
    # The whole object sent back: the read-only fields are ignored, the role applies.
    whole = {**changed.json, "role": "visitor"}
    back = client.patch("/obs/members/mia/", json=whole, headers=alice.api)
    assert back.status_code == 200 and back.json["role"] == "visitor"
    bad = client.patch("/obs/members/mia/", json={"role": "king"}, headers=alice.api)
    assert bad.status_code == 400 and "role" in bad.json["errors"]
    missing = client.patch("/obs/members/ghost/", json={"role": "member"}, headers=alice.api)
    assert missing.status_code == 404
    by_member = client.patch("/obs/members/vic/", json={"role": "member"}, headers=key(db, "mia"))
    assert by_member.status_code == 403


def test_last_owner_stays(client, db, obs, alice):
    demote = client.patch("/obs/members/alice/", json={"role": "admin"}, headers=alice.api)
    assert demote.status_code == 400 and "last owner" in demote.json["detail"]
    remove = client.delete("/obs/members/alice/", headers=alice.api)
    assert remove.status_code == 400 and "last owner" in remove.json["detail"]
    assert client.get("/obs/members/alice/", headers=alice.api).json["role"] == "owner"
    # With a second owner, the first may step down, and be removed.
    promoted = client.patch("/obs/members/bob/", json={"role": "owner"}, headers=alice.api)
    assert promoted.status_code == 200
    stepped = client.patch("/obs/members/alice/", json={"role": "admin"}, headers=alice.api)
    assert stepped.status_code == 200 and stepped.json["role"] == "admin"
    bob = key(db, "bob")
    last = client.patch("/obs/members/bob/", json={"role": "admin"}, headers=bob)
    assert last.status_code == 400
    back = client.patch("/obs/members/alice/", json={"role": "owner"}, headers=bob)
    assert back.status_code == 200
    assert client.delete("/obs/members/bob/", headers=alice.api).status_code == 204
    assert client.delete("/obs/members/alice/", headers=alice.api).status_code == 400


def test_only_owners_make_change_or_remove_owners(client, db, make_user, obs, alice):
    make_user("carol")
    bob = key(db, "bob")  # an admin
    as_owner = {"username": "carol", "role": "owner"}
    assert client.post("/obs/members/", json=as_owner, headers=bob).status_code == 403
    assert client.patch("/obs/members/mia/", json={"role": "owner"}, headers=bob).status_code == 403
    assert client.patch("/obs/members/bob/", json={"role": "owner"}, headers=bob).status_code == 403
    # Nor may an admin demote or remove an owner, even with another owner around.
    assert client.post("/obs/members/", json=as_owner, headers=alice.api).status_code == 201
    demote = client.patch("/obs/members/carol/", json={"role": "member"}, headers=bob)
    assert demote.status_code == 403 and "owner" in demote.json["detail"]
    assert client.delete("/obs/members/carol/", headers=bob).status_code == 403
    assert client.get("/obs/members/carol/", headers=alice.api).json["role"] == "owner"
    # Admins do manage admins, members and visitors.
    assert client.patch("/obs/members/vic/", json={"role": "admin"}, headers=bob).status_code == 200
    assert client.delete("/obs/members/vic/", headers=bob).status_code == 204
    # And owners manage owners.
    assert client.delete("/obs/members/carol/", headers=alice.api).status_code == 204


def test_removed_member_loses_the_portal(client, db, obs, alice):
    mia = key(db, "mia")
    assert client.get("/obs/datasets/", headers=mia).status_code == 200
    removed = client.delete("/obs/members/MIA/", headers=alice.api)
    assert removed.status_code == 204 and removed.data == b""
    assert client.get("/obs/datasets/", headers=mia).status_code == 404
    assert client.get("/obs/members/", headers=mia).status_code == 404
    assert client.get("/organisations/obs/", headers=mia).status_code == 404
    assert client.get("/obs/members/mia/", headers=alice.api).status_code == 404
    assert client.delete("/obs/members/mia/", headers=alice.api).status_code == 404


# --- the caller's organisations ----------------------------------------------------------


def test_organisations_list_is_the_callers(client, make_user, make_org, alice, bob):
    carol = make_user("carol")
    make_org("zeta", alice)
    make_org("obs", bob, {"alice": "visitor"})
    page = client.get("/organisations/", headers=alice.api)
    assert page.status_code == 200
    assert page.json["count"] == 2 and page.json["next"] is None
    assert [o["subdomain"] for o in page.json["results"]] == ["obs", "zeta"]  # by subdomain
    first = page.json["results"][0]
    assert first["name"] == "Obs" and first["role"] == "visitor"
    assert first["creation_date"].endswith("Z")
    assert [
        o["subdomain"] for o in client.get("/organisations/", headers=bob.api).json["results"]
    ] == ["obs"]
    assert client.get("/organisations/", headers=carol.api).json == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }
    # The upload key may read it; unknown filters are refused; pages as everywhere.
    assert client.get("/organisations/", headers=alice.upload).json["count"] == 2
    assert client.get("/organisations/?role=owner", headers=alice.api).status_code == 400
    small = client.get("/organisations/?page_size=1", headers=alice.api).json
    assert small["next"] == "http://localhost/organisations/?page_size=1&page=2"
    assert client.get("/organisations/").status_code == 401
    assert client.post("/organisations/", json={}, headers=alice.api).status_code == 405


# --- the `local` portal -------------------------------------------------------------------


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def _counts(db) -> tuple[int, int, int]:
    return tuple(
        db.execute(
            "SELECT (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM organisations),"
            " (SELECT COUNT(*) FROM memberships)"
        ).fetchone()
    )


def test_bootstrap_makes_the_first_account_owner_of_local(runner, client, db):
    result = runner.invoke(args=["bootstrap", "--json"])
    assert result.exit_code == 0, result.output
    keys = json.loads(result.output)  # --json: only the keys
    assert set(keys) == {"username", "api_key", "upload_key"}
    account = accounts.get_by_username(db, keys["username"])
    local = organisations.get(db, "local")
    assert local is not None
    assert organisations.role_of(db, local["id"], account["id"]) == "owner"
    headers = {"X-Arcsecond-API-Authorization": f"Key {keys['api_key']}"}
    assert client.get("/local/datasets/", headers=headers).json["count"] == 0
    upload = {"X-Arcsecond-API-Authorization": f"Key {keys['upload_key']}"}
    assert client.post("/local/datasets/", json={"name": "n1"}, headers=upload).status_code == 201
    assert client.get("/organisations/local/", headers=upload).status_code == 200
    # Again: nothing changes, no new keys.
    before = _counts(db)
    again = runner.invoke(args=["bootstrap", "--json"])
    assert again.exit_code == 0 and again.output == ""
    plain = runner.invoke(args=["bootstrap"])
    assert plain.exit_code == 0 and "exist already" in plain.output and "local" not in plain.output
    assert _counts(db) == before == (1, 1, 1)
    assert client.get("/local/datasets/", headers=headers).json["count"] == 1


def test_bootstrap_adds_local_to_an_existing_install(runner, db, alice, bob):
    result = runner.invoke(args=["bootstrap"])
    assert result.exit_code == 0 and "Created the organisation 'local'" in result.output
    local = organisations.get(db, "local")
    assert organisations.role_of(db, local["id"], alice.account["id"]) == "owner"
    assert organisations.role_of(db, local["id"], bob.account["id"]) is None
    assert accounts.count(db) == 2  # no new account
    before = _counts(db)
    assert "Created" not in runner.invoke(args=["bootstrap"]).output
    assert _counts(db) == before


def test_users_create_gives_local_to_the_first_account_only(runner, db):
    first = runner.invoke(args=["users", "create", "ann"])
    assert first.exit_code == 0 and "'local'" in first.output
    second = runner.invoke(args=["users", "create", "ben", "--json"])
    assert set(json.loads(second.output)) == {"username", "api_key", "upload_key"}
    local = organisations.get(db, "local")
    ann, ben = accounts.get_by_username(db, "ann"), accounts.get_by_username(db, "ben")
    assert organisations.role_of(db, local["id"], ann["id"]) == "owner"
    assert organisations.role_of(db, local["id"], ben["id"]) is None


def test_local_stays_a_valid_subdomain():
    from arcsec_flask.domain.names import RESERVED, check_subdomain

    assert "local" not in RESERVED
    check_subdomain("local")
