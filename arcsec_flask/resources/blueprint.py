"""The strict blueprint every resource uses, its registration in both URL forms, and the
Api whose OpenAPI document says what the routes really answer.

Each operation's error statuses are derived, not written by hand: 400 where it reads
arguments, 413 where it reads a body, 401 and 403 from its rule in web/auth.ACCESS, 404
where its path names something (or its list has pages). A view adds the rest with
`@blp.alt_response`. Every GET of a JSON answer also documents `?format=json|api` and the
HTML page a browser gets (browse/).
"""

from __future__ import annotations

import http
from copy import deepcopy
from functools import wraps
from typing import Any, ClassVar

import flask_smorest
from flask import Request, request
from flask.views import MethodView
from marshmallow import Schema
from marshmallow.utils import missing
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.routing import Rule as UrlRule

from ..domain.errors import Invalid
from ..web import auth
from .schemas import CANONICAL_UUID_PATTERN, ErrorSchema

FORMATS = ("json", "api")
FORMAT_DESCRIPTION = (
    "`json`: the JSON answer; `api`: the browseable HTML page. Without it, the Accept"
    " header decides (a browser gets the page)."
)
HTML = "text/html"
# Path parameters as the views read them (a malformed one is a 404, docs/API.md §1).
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "uuid": {"type": "string", "format": "uuid", "pattern": CANONICAL_UUID_PATTERN},
    "file_id": {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
    "subdomain": {"type": "string", "minLength": 1, "maxLength": 63},
    "username": {"type": "string", "minLength": 1, "maxLength": 150},
}


class StrictParser(FlaskParser):
    """Unknown query parameters and JSON fields are errors, never ignored (docs/API.md §4).

    Adds the "multipart" location: the form fields and the files of a multipart body in
    one schema (an upload's `dataset`, `is_raw`, `tags` and `file`).
    """

    DEFAULT_VALIDATION_STATUS = 400  # as docs/API.md §5 says, and as the document says
    DEFAULT_UNKNOWN_BY_LOCATION: ClassVar[dict[str, str | None]] = {
        location: None for location in (*FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "multipart")
    }
    __location_map__: ClassVar[dict[str, str]] = {
        **FlaskParser.__location_map__,
        "multipart": "load_multipart",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._schemas: dict[type[Schema], Schema] = {}

    def _get_schema(self, argmap: Any, req: Request) -> Schema:
        # One instance per schema class, made on first use: webargs would build one per
        # request (deep-copying every declared field, ~9 % of a list page). A loaded
        # schema keeps no state between loads, so threads may share it.
        if isinstance(argmap, type) and issubclass(argmap, Schema):
            found = self._schemas.get(argmap)
            if found is None:
                found = self._schemas.setdefault(argmap, argmap())
            return found
        return super()._get_schema(argmap, req)

    def _raw_load_json(self, req: Request) -> Any:
        # The C decoder recurses once per nesting level; a string may hold a lone UTF-16
        # surrogate, which SQLite cannot store. Both are the client's error, not ours.
        body = req.get_data(cache=True)  # capped before the view (web/multipart.py)
        if not body.strip():
            return missing  # no body: nothing to change (a PATCH of nothing is a no-op)
        if not is_json_request(req):
            # Read as no body, it would be a silent no-op that drops every field sent.
            raise Invalid(
                "Send the body as JSON, with Content-Type: application/json.",
                {"json": [f"Not JSON: {req.mimetype or 'no Content-Type'}."]},
            )
        try:
            data = super()._raw_load_json(req)
        except RecursionError:
            raise Invalid("The JSON body is nested too deeply.") from None
        except ValueError as error:  # e.g. an integer of more than 4300 digits
            raise Invalid(f"The JSON body could not be read: {error}") from None
        if _holds_surrogate(data):
            raise Invalid("The JSON body holds text that is not valid Unicode (a lone surrogate).")
        return data

    def load_multipart(self, req: Request, schema: Schema) -> Any:
        if req.mimetype != "multipart/form-data":
            raise Invalid("Send the file as multipart/form-data.", {"file": ["Not multipart."]})
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)


def _holds_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_holds_surrogate(k) or _holds_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_surrogate(v) for v in value)
    return False


def checks_format(get: Any) -> Any:
    """A GET that reads no query arguments still refuses a `format` it does not know, and
    documents the parameter."""

    @wraps(get)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        value = request.args.get("format")
        if value is not None and value not in FORMATS:
            message = f"Must be one of: {', '.join(FORMATS)}."
            raise Invalid(f"Invalid input. format: {message}", {"format": [message]})
        return get(*args, **kwargs)

    wrapper._apidoc = deepcopy(getattr(get, "_apidoc", {}))
    manual = wrapper._apidoc.setdefault("manual_doc", {})
    manual["parameters"] = [format_parameter()]
    wrapper._checks_format = True
    return wrapper


def format_parameter() -> dict[str, Any]:
    return {
        "in": "query",
        "name": "format",
        "required": False,
        "description": FORMAT_DESCRIPTION,
        "schema": {"type": "string", "enum": list(FORMATS)},
    }


def _answers_json(doc: dict[str, Any]) -> bool:
    ok = doc.get("response", {}).get("responses", {}).get(200, [])
    return bool(ok) and all(
        not isinstance(r, dict) or r.get("content_type") in (None, "application/json") for r in ok
    )


def _reads_query(doc: dict[str, Any]) -> bool:
    return any(p["in"] == "query" for p in doc.get("arguments", {}).get("parameters", []))


def error_statuses(name: str, endpoint: str, method: str, rule: UrlRule, doc: dict) -> set[int]:
    """The error statuses an operation can answer, from what it reads and its access rule."""
    locations = {p["in"] for p in doc.get("arguments", {}).get("parameters", [])}
    statuses: set[int] = set()
    if locations:
        statuses.add(400)
    if method in ("POST", "PATCH"):
        statuses.add(413)  # every body but an upload's is capped (web/multipart.py)
    access = auth.rule_for(name, f"{name}.{endpoint}", method)
    portal = "subdomain" in rule.arguments and name.startswith("portal_")
    if access is not None:
        statuses.add(401)
        # Writes refuse a browser session; reads refuse the upload key or too low a role.
        if method != "GET" or not access.upload_key or (portal and access.role != "visitor"):
            statuses.add(403)
    if rule.arguments or "query" in locations:
        statuses.add(404)  # a path naming nothing of the caller's, or a page past the end
    return statuses


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING: ClassVar[dict[str, str]] = {
        **flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "multipart": "multipart/form-data",
    }

    def add_url_rule(self, rule, endpoint=None, view_func=None, **kwargs):
        if isinstance(view_func, type) and issubclass(view_func, MethodView):
            get = getattr(view_func, "get", None)
            doc = getattr(get, "_apidoc", {})
            fresh = get and not hasattr(get, "_checks_format")
            if fresh and _answers_json(doc) and not _reads_query(doc):
                view_func.get = checks_format(get)
        return super().add_url_rule(rule, endpoint, view_func, **kwargs)

    def register_views_in_doc(self, api, app, spec, *, name, parameters):
        """Document, for each operation of this registration (`name` is "<blp>" or
        "portal_<blp>"), its error statuses, its path parameters and its HTML page."""
        docs = self._docs
        self._docs = deepcopy(docs)
        try:
            for endpoint, info in self._docs.items():
                rule = next(app.url_map.iter_rules(f"{name}.{endpoint}"))
                info["parameters"] = [
                    {"in": "path", "name": arg, "required": True, "schema": PATH_PARAMETERS[arg]}
                    for arg in sorted(rule.arguments)
                    if arg in PATH_PARAMETERS
                ] + list(info.get("parameters") or [])
                for method, doc in info.items():
                    if method != "parameters":
                        self._document_answers(name, endpoint, method.upper(), rule, doc)
            super().register_views_in_doc(api, app, spec, name=name, parameters=parameters)
        finally:
            self._docs = docs

    @staticmethod
    def _document_answers(name: str, endpoint: str, method: str, rule: UrlRule, doc: dict):
        responses = doc.setdefault("response", {}).setdefault("responses", {})
        for status in sorted(error_statuses(name, endpoint, method, rule, doc)):
            if status not in responses:
                responses[status] = [http.HTTPStatus(status).name]
        access = auth.rule_for(name, f"{name}.{endpoint}", method)
        if access is not None and access.anonymous:
            # Public objects are read without a key too (docs/API.md §6): the key is optional.
            doc.setdefault("manual_doc", {})["security"] = [{}, {"ApiKey": []}]
        if method == "GET" and _answers_json(doc):
            page = {"description": "The browseable page (`?format=api`, or a browser)."}
            page.update(schema={"type": "string"}, content_type=HTML)
            responses[200].append(page)


class Api(flask_smorest.Api):
    """The Api whose error responses are ours: {"detail", "errors"?} (web/errors.py), as
    JSON, or as the HTML page when a browser asked for a GET."""

    ERROR_SCHEMA = ErrorSchema

    def _register_responses(self):
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["content"] = self._error_content()
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Any other error.", "content": self._error_content()}
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def _error_content(self) -> dict[str, Any]:
        return {
            "application/json": {"schema": self.ERROR_SCHEMA},
            HTML: {"schema": {"type": "string"}},
        }


def register(
    api: flask_smorest.Api, blp: Blueprint, path: str, portal: bool = True, personal: bool = True
) -> None:
    """Register a resource at /<path>/ (unless not `personal`) and, for portals, at
    /<subdomain>/<path>/ (the portal copy is named "portal_<name>")."""
    if personal:
        api.register_blueprint(blp, url_prefix=f"/{path}")
    if portal:
        api.register_blueprint(blp, url_prefix=f"/<subdomain>/{path}", name=f"portal_{blp.name}")
