"""The strict blueprint every resource uses, and its registration in both URL forms."""

from __future__ import annotations

from typing import Any, ClassVar

import flask_smorest
from flask import Request
from marshmallow import Schema
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from ..domain.errors import Invalid


class StrictParser(FlaskParser):
    """Unknown query parameters and JSON fields are errors, never ignored (docs/API.md §4).

    Adds the "multipart" location: the form fields and the files of a multipart body in
    one schema (an upload's `dataset`, `is_raw`, `tags` and `file`).
    """

    DEFAULT_UNKNOWN_BY_LOCATION: ClassVar[dict[str, str | None]] = {
        location: None for location in (*FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "multipart")
    }
    __location_map__: ClassVar[dict[str, str]] = {
        **FlaskParser.__location_map__,
        "multipart": "load_multipart",
    }

    def _raw_load_json(self, req: Request) -> Any:
        # The C decoder recurses once per nesting level; a string may hold a lone UTF-16
        # surrogate, which SQLite cannot store. Both are the client's error, not ours.
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


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING: ClassVar[dict[str, str]] = {
        **flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "multipart": "multipart/form-data",
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
