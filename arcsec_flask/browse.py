"""Browseable API: JSON answers as HTML pages for web browsers, and a password login.

A browser (its Accept header prefers text/html) gets the same data as a page where every
URL of this server is a link; API clients (Accept */* or application/json, or ?format=json)
get the JSON unchanged. The login sets a session cookie that auth.authenticate accepts for
reading only: writing still needs a key (API.md §3).
"""

from __future__ import annotations

import html
import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

from flask import (
    Blueprint,
    Flask,
    Response,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup, escape
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.security import check_password_hash, generate_password_hash

from .db import get_db
from .repo import accounts, logins
from .repo.common import canonical_uuid

bp = Blueprint("browse", __name__)

BAD_LOGIN = "Invalid username or password."
EXPIRED_FORM = "The form has expired. Please try again."
TOO_MANY = "Too many failed logins for this name. Please wait a few minutes."
# ?format= decides without negotiation: True for the page, False for JSON.
FORMATS = {"json": False, "api": True}
TITLES = {"meta.Root": "API Root"}
SINGULAR = {"observingsites": "Observing site", "nightlogs": "Night log"}
INDENT = "  "
# Fields holding the UUID (or a list of UUIDs) of another resource: linked on the page.
REFERENCES = {
    "telescope": "telescopes",
    "telescopes": "telescopes",
    "observing_site": "observingsites",
    "dataset": "datasets",
    "datasets": "datasets",
    "night_log": "nightlogs",
    "observation": "observations",
    "observations": "observations",
    "calibration": "calibrations",
    "calibrations": "calibrations",
}

LinkFor = Callable[[tuple, Any], str | None]


# --- the page --------------------------------------------------------------------------


def render_json_with_links(data: Any, host_url: str, link_for: LinkFor | None = None) -> Markup:
    """`data` as indented JSON for a <pre>: everything escaped, this server's URLs as links.

    `link_for(path, value)` may give a URL for a value that is not one itself (an id);
    `path` is the keys and indexes leading to the value, like ("results", 0, "uuid").
    """
    return Markup("".join(_json_parts(data, (), host_url, link_for)))


def _json_parts(value: Any, path: tuple, host_url: str, link_for: LinkFor | None) -> Iterator[str]:
    # Every piece is a plain str, already escaped; it becomes Markup once, at the end.
    inner = INDENT * (len(path) + 1)
    if isinstance(value, dict | list) and value:
        is_dict = isinstance(value, dict)
        yield "{\n" if is_dict else "[\n"
        for index, (key, item) in enumerate(value.items() if is_dict else enumerate(value)):
            yield f"{inner}{_escaped_json(str(key))}: " if is_dict else inner
            yield from _json_parts(item, (*path, key), host_url, link_for)
            yield ",\n" if index < len(value) - 1 else "\n"
        yield INDENT * len(path) + ("}" if is_dict else "]")
        return
    text = _escaped_json(value)
    url = None
    if isinstance(value, str | int) and not isinstance(value, bool):
        url = value if _is_our_url(value, host_url) else link_for and link_for(path, value)
    if not _is_our_url(url, host_url):  # links lead to this server only, never javascript:
        yield text
    elif text.startswith('"'):
        yield f'"<a href="{escape(url)}">{text[1:-1]}</a>"'
    else:
        yield f'<a href="{escape(url)}">{text}</a>'


def _escaped_json(value: Any) -> str:
    # Text inside <pre>: escaping &, < and > suffices, and quotes stay readable in the source.
    return html.escape(json.dumps(value, ensure_ascii=False), quote=False)


def _is_our_url(value: Any, host_url: str) -> bool:
    return isinstance(value, str) and value.startswith(host_url)


def browse_response(response: Response) -> Response:
    """after_request: a browser's GET of a JSON answer (errors too) becomes the HTML page."""
    if (
        request.method not in ("GET", "HEAD")
        or response.mimetype != "application/json"
        or response.direct_passthrough
    ):
        return response
    forced = request.args.get("format")
    if forced in FORMATS:
        as_page = FORMATS[forced]
    else:
        response.vary.add("Accept")  # caches must keep the JSON and the page apart
        as_page = request.accept_mimetypes.best_match(["application/json", "text/html"]) == (
            "text/html"
        )
    data = response.get_json(silent=True) if as_page else None
    if data is None:
        return response
    response.set_data(render_template("browse.html", **_page_context(data, response)))
    response.mimetype = "text/html"
    return response


def _page_context(data: Any, response: Response) -> dict[str, Any]:
    status = response.status_code
    rule = request.url_rule
    pages = data if isinstance(data, dict) else {}
    return {
        "title": _title(status),
        "method": request.method,
        "path": request.full_path.rstrip("?"),
        "status": f"{status} {HTTP_STATUS_CODES.get(status, '')}".strip(),
        "status_code": status,
        "allow": sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}) if rule else [],
        "body": render_json_with_links(data, request.host_url, _resource_link),
        "previous": _our_url_or_none(pages.get("previous")),
        "next": _our_url_or_none(pages.get("next")),
        "json_url": _with_format_json(),
        **_who(),
    }


def _our_url_or_none(value: Any) -> str | None:
    return value if _is_our_url(value, request.host_url) else None


def _resource_link(path: tuple, value: Any) -> str | None:
    """The API has no `url` fields: link each listed object to its page, and references."""
    if len(path) == 3 and path[0] == "results" and path[2] in ("uuid", "id"):
        return f"{request.base_url}{quote(str(value), safe='')}/"
    # A reference is a field's value, or an item of a field's list.
    field = path[-2] if len(path) > 1 and isinstance(path[-1], int) else path[-1] if path else None
    resource = REFERENCES.get(field) if isinstance(field, str) else None
    if resource is None or not isinstance(value, str) or canonical_uuid(value) is None:
        return None
    portal = f"{g.subdomain}/" if g.get("subdomain") else ""
    return f"{request.url_root}{portal}{resource}/{canonical_uuid(value)}/"


def _title(status: int) -> str:
    """The resource's name: "Datasets", "Dataset", "Data File Header", "API Root"."""
    endpoint = request.endpoint or ""
    if endpoint in TITLES:
        return TITLES[endpoint]
    resource, _, view = endpoint.rpartition(".")
    resource = resource.removeprefix("portal_")
    singular = SINGULAR.get(resource, resource.capitalize().removesuffix("s"))
    if view in ("Collection", "Item"):  # the views crud.py builds for every resource
        return singular + "s" if view == "Collection" else singular
    if not view:  # no route matched
        return HTTP_STATUS_CODES.get(status, "Error")
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", view)


def _with_format_json() -> str:
    query = request.args.to_dict(flat=False)
    query["format"] = ["json"]
    return f"{request.base_url}?{urlencode(query, doseq=True)}"


def _who() -> dict[str, Any]:
    """The session's username and the logout form's token, or where to log in."""
    account_id = session.get("account_id")
    account = accounts.get(get_db(), account_id) if account_id else None
    if account is None:
        back_to = request.full_path.rstrip("?")
        return {"user": None, "login_url": url_for("browse.login", next=back_to)}
    return {"user": account["username"], "csrf_token": _csrf_token(), "login_url": None}


# --- login and logout ------------------------------------------------------------------


@bp.route("/auth/login/", methods=["GET", "POST"])
def login():
    """The login form; a right password starts a browsing session."""
    back_to = _local_path(request.values.get("next"))
    if request.method == "GET":
        return _login_page(back_to)
    if not _csrf_ok():
        return _login_page(back_to, EXPIRED_FORM, 400)
    username = request.form.get("username", "").strip()
    now = time.time()
    wait = logins.retry_after(get_db(), username, now)
    if wait:
        body, status = _login_page(back_to, TOO_MANY, 429, username)
        return body, status, {"Retry-After": str(wait)}
    account = _check_password(username, request.form.get("password", ""))
    if account is None:
        logins.record_failure(get_db(), username, now)
        return _login_page(back_to, BAD_LOGIN, 401, username)
    logins.clear(get_db(), username)
    session.clear()  # no state from before the login survives it (session fixation)
    session.permanent = False  # gone when the browser closes
    session["account_id"] = account["id"]
    session["epoch"] = account["session_epoch"]
    session["csrf_token"] = secrets.token_urlsafe(32)
    return redirect(request.script_root + back_to, 303)


@bp.route("/auth/logout/", methods=["GET", "POST"])
def logout():
    """GET shows the logout button; POST ends the session."""
    if request.method == "GET":
        return render_template("login.html", logout=True, **_who())
    if session.get("account_id") and not _csrf_ok():
        return render_template("login.html", logout=True, error=EXPIRED_FORM, **_who()), 400
    if session.get("account_id"):
        # A copy of the cookie must not outlive the logout.
        accounts.end_sessions(get_db(), session["account_id"])
    session.clear()
    return redirect(url_for("browse.login"), 303)


def _login_page(back_to: str, error: str | None = None, status: int = 200, username: str = ""):
    page = render_template(
        "login.html",
        logout=False,
        error=error,
        username=username,
        next=back_to,
        **{**_who(), "csrf_token": _csrf_token(), "login_url": None},
    )
    return page, status


def _local_path(target: str | None) -> str:
    """`target` when it is a path on this site, else "/": never an open redirect."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target  # browsers read "/\evil.example" as "//evil.example"
        or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target)  # they drop tabs too
    ):
        return "/"
    return target


def _check_password(login: str, password: str) -> dict[str, Any] | None:
    account = accounts.get_by_login(get_db(), login) if login else None
    stored = account["password_hash"] if account else None
    # Hash even with nothing to compare: the answer time does not tell whether the user exists.
    matches = check_password_hash(stored or _dummy_hash(), password)
    return account if stored and matches else None


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))


def _csrf_token() -> str:
    """The session's form token (SameSite=Lax already stops cross-site posts; belt and braces)."""
    if "csrf_token" not in session:
        session["csrf_token"] = secrets.token_urlsafe(32)
    return session["csrf_token"]


def _csrf_ok() -> bool:
    sent = request.form.get("csrf_token", "").encode()
    expected = session.get("csrf_token", "").encode()
    return bool(expected) and secrets.compare_digest(sent, expected)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.after_request(browse_response)
