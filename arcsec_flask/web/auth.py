"""Who is calling, and may they do this? One table decides (docs/API.md §3).

Every key-protected blueprint has a row in ACCESS: per HTTP method, whether the
upload key may do it and the least organisation role it needs on portal routes.
A request to a blueprint that is not in ACCESS and not in PUBLIC is refused, so a
new resource cannot be left open by forgetting it here.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, g, request, session
from flask.globals import request_ctx
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from ..domain.errors import NotAuthenticated, NotFound, PermissionDenied
from ..repo import accounts, organisations
from .db import get_db

HEADER = "X-Arcsecond-API-Authorization"


@dataclass(frozen=True)
class Rule:
    upload_key: bool  # may the upload key do it?
    role: str  # least organisation role on portal routes
    anonymous: bool = False  # may a caller without a key do it (on public objects only)?


READ = Rule(upload_key=True, role="visitor")
UPLOAD = Rule(upload_key=True, role="member")  # create datasets, upload files
MEMBER_WRITE = Rule(upload_key=False, role="member")
ADMIN_WRITE = Rule(upload_key=False, role="admin")
FULL_READ = Rule(upload_key=False, role="visitor")  # e.g. downloading file contents

CRUD_ADMIN = {"GET": READ, "POST": ADMIN_WRITE, "PATCH": ADMIN_WRITE, "DELETE": ADMIN_WRITE}
CRUD_MEMBER = {"GET": READ, "POST": MEMBER_WRITE, "PATCH": MEMBER_WRITE, "DELETE": MEMBER_WRITE}

# Keyed by blueprint name (portal copies are named "portal_<name>"), or by
# "<blueprint>.<endpoint>" to single out one view.
ACCESS: dict[str, dict[str, Rule]] = {
    "organisations": {"GET": READ},
    "profiles": {"GET": READ},
    "observingsites": CRUD_ADMIN,
    "telescopes": CRUD_ADMIN,
    "datasets": {**CRUD_MEMBER, "POST": UPLOAD},
    "datafiles": {**CRUD_MEMBER, "POST": UPLOAD},
    "datafiles.DataFileContent": {"GET": FULL_READ},
    # A preview shows the pixels: who may download the file (not the upload key) may see it.
    "datafiles.DataFilePreview": {"GET": FULL_READ},
    # The frames that calibrate a light are datafile metadata (§3: the upload key reads
    # it), listed with why they suit: a station's script may check what it has before
    # the night's upload ends. Their contents stay FULL_READ (DataFileContent).
    "datafiles.DataFileCalibrations": {"GET": READ},
    # Public packages are listed, read and downloaded without a key (docs/API.md §6).
    "datapackages": {**CRUD_MEMBER, "GET": Rule(upload_key=True, role="visitor", anonymous=True)},
    "datapackages.DataPackageArchive": {
        "GET": Rule(upload_key=False, role="visitor", anonymous=True)
    },
    "nightlogs": CRUD_MEMBER,
    "observations": CRUD_MEMBER,
    "calibrations": CRUD_MEMBER,
    "targets": CRUD_MEMBER,
    "targetlists": CRUD_MEMBER,
    # Members read the list, admins write it; never the upload key (docs/API.md §3).
    "members": {
        "GET": Rule(upload_key=False, role="member"),
        "POST": ADMIN_WRITE,
        "PATCH": ADMIN_WRITE,
        "DELETE": ADMIN_WRITE,
    },
}

# Blueprints anyone may call: the API root, health, key verification, docs, login.
PUBLIC = {"root", "authkeys", "browse", "api-docs", "static"}


def rule_for(blueprint: str, endpoint: str, method: str) -> Rule | None:
    name = blueprint.removeprefix("portal_")
    view = endpoint.rsplit(".", 1)[-1]
    method = "GET" if method in ("HEAD", "OPTIONS") else method
    rules = ACCESS.get(f"{name}.{view}") or ACCESS.get(name) or {}
    return rules.get(method)


def authenticate() -> tuple[dict, str]:
    """The caller's account and scope ('api', 'upload' or 'session'), or a 401."""
    header = request.headers.get(HEADER)
    conn = get_db()
    if header is not None:
        kind, _, key = header.strip().partition(" ")
        account = accounts.find_by_key(conn, key.strip()) if kind == "Key" and key else None
        if account is None:
            raise NotAuthenticated("Invalid API key.")
        return account, account.pop("scope")
    account_id = session.get("account_id")
    account = accounts.get(conn, account_id) if account_id else None
    if account is None or session.get("epoch") != account["session_epoch"]:
        raise NotAuthenticated()
    return account, "session"


def check_access() -> None:
    """before_request: set g.account, g.scope, g.owner_id, g.organisation, g.role."""
    g.account = g.organisation = g.role = None
    if isinstance(request.routing_exception, MethodNotAllowed):
        # A verb the route lacks (PUT...) is checked as a GET of it would be: a caller
        # without a key gets the 401 a GET gets, not a 405 telling that the route exists.
        _check_as_get()
        return  # the 405 follows
    if request.url_rule is None or request.blueprint in PUBLIC:
        return  # routing errors and public routes
    rule = rule_for(request.blueprint or "", request.endpoint or "", request.method)
    if rule is None:
        if request.blueprint and request.method in request.url_rule.methods:
            raise PermissionDenied("This route has no access rule.")  # fail closed
        return  # a 405 follows
    _authorize(rule, request.method)


def _check_as_get() -> None:
    """The checks of the route's GET for a request whose method the route does not have."""
    adapter = request_ctx.url_adapter
    try:
        endpoint, values = adapter.match(method="GET") if adapter else ("", {})
    except HTTPException:
        return  # no GET there either: nothing to protect
    blueprint = endpoint.rpartition(".")[0]
    rule = rule_for(blueprint, endpoint, "GET")
    if rule is None or blueprint in PUBLIC:
        return
    g.subdomain = values.get("subdomain")
    _authorize(rule, "GET")


def _authorize(rule: Rule, method: str) -> None:
    if rule.anonymous and request.headers.get(HEADER) is None and not session.get("account_id"):
        _as_anonymous()
        return
    account, scope = authenticate()
    g.account, g.scope = account, scope
    if scope == "upload" and not rule.upload_key:
        raise PermissionDenied("The upload key does not allow this action.")
    if scope == "session" and method not in ("GET", "HEAD", "OPTIONS"):
        raise PermissionDenied("Writing needs an API key, not a browser session.")
    if g.subdomain is None:
        g.owner_id = account["owner_id"]
        return
    conn = get_db()
    org = organisations.get(conn, g.subdomain)
    role = organisations.role_of(conn, org["id"], account["id"]) if org else None
    if role is None:
        raise NotFound()  # do not reveal that the organisation exists
    if organisations.RANK[role] < organisations.RANK[rule.role]:
        raise PermissionDenied(f"Your role '{role}' does not allow this action.")
    g.owner_id, g.organisation, g.role = org["owner_id"], org, role


def _as_anonymous() -> None:
    """No key, on a route that shows public objects: g.owner_id is the portal's owner, or
    None (every owner's public objects); the repo shows public objects only."""
    g.scope = "anonymous"
    g.owner_id = None
    if g.subdomain is not None:
        org = organisations.get(get_db(), g.subdomain)
        if org is None:
            raise NotFound()
        g.owner_id, g.organisation = org["owner_id"], org


def init_app(app: Flask) -> None:
    app.before_request(check_access)
