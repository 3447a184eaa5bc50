"""Browseable API: JSON answers as HTML pages for web browsers.

A browser (its Accept header prefers text/html) gets the same data as a page where every
URL of this server is a link; API clients (Accept */* or application/json, or ?format=json)
get the JSON unchanged. A data file, night log, dataset or data package has a page of its
own (browse/views.py); `?format=api` shows its generic page.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlencode

from flask import Response, g, render_template, request
from markupsafe import Markup, escape
from werkzeug.http import HTTP_STATUS_CODES

from ..domain.ids import canonical_uuid
from . import views
from .session import who

# ?format= decides without negotiation: True for the page, False for JSON.
FORMATS = {"json": False, "api": True}
TITLES = {"root.Root": "API Root"}
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
    context = _page_context(data, response)
    page = None
    if response.status_code == 200 and forced != "api":  # ?format=api: the generic page
        page = views.rich_page(views.view_name(), data, context)
    response.set_data(page or render_template("browse.html", **context))
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
        "json_url": _with_format(json=True),
        "api_url": _with_format(json=False),
        **who(),
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
    """The view's name in words: "Datasets", "Dataset", "Data File Header", "API Root"."""
    endpoint = request.endpoint or ""
    if endpoint in TITLES:
        return TITLES[endpoint]
    view = endpoint.rpartition(".")[2]
    if not view:  # no route matched
        return HTTP_STATUS_CODES.get(status, "Error")
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", view)


def _with_format(json: bool) -> str:
    query = request.args.to_dict(flat=False)
    query["format"] = ["json" if json else "api"]
    return f"{request.base_url}?{urlencode(query, doseq=True)}"
