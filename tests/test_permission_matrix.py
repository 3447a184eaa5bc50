"""Every route, verb and caller, with the status derived from web/auth.ACCESS (issue 11).

Nothing here is a hand-copied table: the routes come from the app's URL map, the rule of
each (route, verb) from `auth.rule_for`, and the expected status from what docs/API.md
§2-§3 say a rule means:

* a verb the route lacks is checked as the route's GET would be, then answered 405 (§2);
* no key: 401, unless the rule lets anonymous callers read public objects;
  an unknown key: 401;
* the upload key: 403 where the rule does not allow it; a browser session: 403 on writes;
* on a portal (/<subdomain>/...): 404 to a caller who is not a member, 403 below the
  rule's least role;
* past those checks, what the view does with the request sent: a list answers 200; a
  detail 200 when the caller can see the object (its own, or the portal's), else 404;
  POST and PATCH are sent a body with an unknown field (400, nothing written); DELETE
  names an object that does not exist (404, nothing removed). So one world serves every
  cell and every answer tells whether the request got past the access checks.

A route that has no rule, or a path argument this file cannot fill, fails the test.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest

from arcsec_flask import create_app
from arcsec_flask.repo import accounts, organisations
from arcsec_flask.repo.sqlite import connect
from arcsec_flask.web.auth import HEADER, PUBLIC, Rule, rule_for
from tests.support.factories import light_frame_cards, write_fits
from tests.test_browse import csrf_token

VERBS = ("GET", "POST", "PATCH", "DELETE", "PUT")
PARIS = {"longitude": 2.35, "latitude": 48.85, "height": 35}
MISSING_UUID = "0b1c6f7e-2b6a-4d5e-9f00-1234567890ab"
BAD_BODY = {"no_such_field": 1}
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Caller:
    name: str
    headers: dict[str, str]
    scope: str  # "anonymous", "api", "upload" or "session"
    role: str | None  # role in the portal `local`, or None for no member
    is_alice: bool  # alice owns every seeded object


@dataclass
class World:
    client: object  # a test client; a session caller has its own
    session_client: object
    callers: list[Caller]
    ids: dict[str, str]  # path word -> seeded object id


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    from werkzeug.security import generate_password_hash

    tmp = tmp_path_factory.mktemp("matrix")
    app = create_app({"DATA_DIR": str(tmp / "data"), "TESTING": True})
    conn = connect(app.config["DATABASE"])
    alice = organisations.create_account(
        conn, "alice", "alice@example.org", generate_password_hash(PASSWORD)
    )  # the first account: owner of `local`
    keys = {"alice": alice}
    for name, role in (("olga", "owner"), ("erin", "admin"), ("dave", "member")):
        keys[name] = accounts.create(conn, name, f"{name}@example.org", None)
        organisations.add_member(conn, "local", name, role)
    keys["carol"] = accounts.create(conn, "carol", "carol@example.org", None)
    organisations.add_member(conn, "local", "carol", "visitor")
    keys["bob"] = accounts.create(conn, "bob", "bob@example.org", None)  # in no portal
    conn.close()

    def key(name: str, kind: str = "api_key") -> dict[str, str]:
        return {HEADER: f"Key {keys[name][kind]}"}

    callers = [
        Caller("anonymous", {}, "anonymous", None, False),
        Caller("unknown key", {HEADER: "Key " + "z" * 40}, "api", None, False),
        Caller("owner key", key("alice"), "api", "owner", True),
        Caller("upload key", key("alice", "upload_key"), "upload", "owner", True),
        Caller("browser session", {}, "session", "owner", True),
        Caller("other account", key("bob"), "api", None, False),
        Caller("portal owner", key("olga"), "api", "owner", False),
        Caller("admin", key("erin"), "api", "admin", False),
        Caller("member", key("dave"), "api", "member", False),
        Caller("visitor", key("carol"), "api", "visitor", False),
    ]
    client = app.test_client()
    session_client = app.test_client()
    form = {"username": "alice", "password": PASSWORD, "csrf_token": csrf_token(session_client)}
    assert session_client.post("/auth/login/", data=form).status_code == 303
    ids = _seed(client, key("alice"), tmp)
    return World(client, session_client, callers, ids)


def _seed(client, headers: dict[str, str], tmp, spaces=("", "local/")) -> dict[str, str]:
    """One object of every resource, alice's, in her personal space and in `local`."""
    ids: dict[str, str] = {}
    for space in spaces:

        def post(word: str, body: dict, space: str = space) -> dict:
            made = client.post(f"/{space}{word}/", json=body, headers=headers)
            assert made.status_code == 201, made.json
            return made.json

        site = post("observingsites", {"name": "OHP", "coordinates": PARIS})
        telescope = post("telescopes", {"name": "RC8", "observing_site": site["uuid"]})
        dataset = post("datasets", {"name": "d", "telescope": telescope["uuid"]})
        frame = write_fits(tmp / "m31.fits", light_frame_cards()).read_bytes()
        data = {"dataset": dataset["uuid"], "file": (io.BytesIO(frame), "m31.fits")}
        upload = client.post(f"/{space}datafiles/", data=data, headers=headers)
        assert upload.status_code == 201, upload.json
        datafile = upload.json
        package = post("datapackages", {"name": "p", "datasets": [dataset["uuid"]]})
        public = {"is_public": True}
        assert client.patch(
            f"/{space}datapackages/{package['uuid']}/", json=public, headers=headers
        ).json["is_public"]
        target = post("targets", {"name": "M31"})
        made = {
            "observingsites": site["uuid"],
            "telescopes": telescope["uuid"],
            "datasets": dataset["uuid"],
            "datafiles": str(datafile["id"]),
            "nightlogs": datafile["night_log"],
            "observations": datafile["observation"],
            "datapackages": package["uuid"],
            "targets": target["uuid"],
            "targetlists": post("targetlists", {"name": "l", "targets": [target["uuid"]]})["uuid"],
        }
        cards = [card for card in light_frame_cards() if card[0] != "IMAGETYP"]
        bias = write_fits(tmp / "bias.fits", [*cards, ("IMAGETYP", "Bias Frame")])
        data = {"dataset": dataset["uuid"], "file": (io.BytesIO(bias.read_bytes()), "bias.fits")}
        calibration = client.post(f"/{space}datafiles/", data=data, headers=headers).json
        made["calibrations"] = calibration["calibration"]
        assert all(made.values()), made
        ids.update({f"{space}{word}": value for word, value in made.items()})
    return ids


def _routes(app) -> list:
    """Every key-protected route of the app (public blueprints have no rule to check)."""
    found = []
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rpartition(".")[0]
        if blueprint and blueprint not in PUBLIC:
            found.append(rule)
    return found


def _path(rule, ids: dict[str, str], missing: bool) -> str:
    """The route's URL naming alice's seeded object (or, `missing`, one that does not
    exist); the portal is always `local`."""
    portal = "subdomain" in rule.arguments and rule.rule.startswith("/<subdomain>/")
    words = [w for w in rule.rule.strip("/").split("/") if not w.startswith("<")]
    resource = ("local/" if portal else "") + words[0]
    values = {}
    for argument in rule.arguments:
        if argument == "subdomain":
            values[argument] = "local"
        elif argument == "uuid":
            values[argument] = MISSING_UUID if missing else ids[resource]
        elif argument == "file_id":
            values[argument] = "999999" if missing else ids[resource]
        elif argument == "username":  # a member of `local`, or alice's own profile
            values[argument] = "nobody-here" if missing else "alice"
        else:
            pytest.fail(f"{rule.rule}: no value for <{argument}>; teach _path about it")
    path = rule.rule
    for argument, value in values.items():
        path = path.replace(f"<{argument}>", value)
    return path


def _denial(rule: Rule, verb: str, caller: Caller, portal: bool) -> int | None:
    """The status web/auth answers before the view, or None when the request gets past."""
    if caller.scope == "anonymous":
        return None if rule.anonymous else 401
    if caller.name == "unknown key":
        return 401
    if caller.scope == "upload" and not rule.upload_key:
        return 403
    if caller.scope == "session" and verb != "GET":
        return 403
    if portal:
        if caller.role is None:
            return 404
        if organisations.RANK[caller.role] < organisations.RANK[rule.role]:
            return 403
    return None


def _sees(url_rule, caller: Caller, portal: bool) -> bool:
    """Whether the caller may see alice's seeded object named by the route."""
    if caller.scope == "anonymous":
        return "datapackages" in url_rule.rule  # only public packages, and they are
    if url_rule.endpoint.startswith("profiles."):
        return caller.is_alice  # one's own profile only
    return portal or caller.is_alice


def expected(url_rule, verb: str, caller: Caller) -> int:
    blueprint = url_rule.endpoint.rpartition(".")[0]
    methods = url_rule.methods - {"HEAD", "OPTIONS"}
    portal = "subdomain" in url_rule.arguments
    checked_as = verb if verb in methods else "GET"  # docs/API.md §2: the key first
    rule = rule_for(blueprint, url_rule.endpoint, checked_as)
    assert rule is not None, f"{url_rule.rule} {checked_as}: no row in auth.ACCESS"
    denial = _denial(rule, checked_as, caller, portal)
    if denial is not None:
        return denial
    if verb not in methods:
        return 405
    if verb in ("POST", "PATCH"):
        return 400  # past the checks, the unknown field is refused
    if verb == "DELETE":
        return 404  # past the checks, the object named does not exist
    if not url_rule.arguments - {"subdomain"}:
        return 200  # a list (or a portal's organisation itself)
    return 200 if _sees(url_rule, caller, portal) else 404


def _call(world: World, url_rule, verb: str, caller: Caller):
    client = world.session_client if caller.scope == "session" else world.client
    path = _path(url_rule, world.ids, missing=verb == "DELETE")
    body = {"json": BAD_BODY} if verb in ("POST", "PATCH", "PUT") else {}
    return client.open(path, method=verb, headers=caller.headers, buffered=True, **body)


def test_every_route_verb_and_caller_answers_what_the_access_table_says(world):
    app = world.client.application
    routes = _routes(app)
    assert len(routes) > 50  # every resource, in both URL forms
    cells, wrong = 0, []
    for url_rule in routes:
        for verb in VERBS:
            for caller in world.callers:
                want = expected(url_rule, verb, caller)
                answer = _call(world, url_rule, verb, caller)
                cells += 1
                if answer.status_code != want:
                    detail = (answer.get_json(silent=True) or {}).get("detail", "")
                    wrong.append(
                        f"{verb} {url_rule.rule} as {caller.name}: {answer.status_code}"
                        f" (expected {want}) {detail}"
                    )
                if answer.status_code == 405:
                    assert answer.headers["Allow"]
    assert not wrong, f"{len(wrong)} of {cells} cells:\n" + "\n".join(wrong)
    assert cells == len(routes) * len(VERBS) * len(world.callers)


def test_the_matrix_cannot_pass_by_itself(world):
    """The derivation tells the callers apart: on a portal write, each kind of caller
    has its own answer, so a server answering one status everywhere would fail."""
    app = world.client.application
    rule = next(r for r in app.url_map.iter_rules() if r.rule == "/<subdomain>/telescopes/")
    by_caller = {c.name: expected(rule, "POST", c) for c in world.callers}
    assert by_caller == {
        "anonymous": 401,
        "unknown key": 401,
        "owner key": 400,
        "upload key": 403,
        "browser session": 403,
        "other account": 404,
        "portal owner": 400,
        "admin": 400,
        "member": 403,
        "visitor": 403,
    }
