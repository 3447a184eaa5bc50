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

    def load_multipart(self, req: Request, schema: Schema) -> Any:
        if req.mimetype != "multipart/form-data":
            raise Invalid("Send the file as multipart/form-data.", {"file": ["Not multipart."]})
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING: ClassVar[dict[str, str]] = {
        **flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "multipart": "multipart/form-data",
    }


def register(api: flask_smorest.Api, blp: Blueprint, path: str, portal: bool = True) -> None:
    """Register a resource at /<path>/ and, for portals, at /<subdomain>/<path>/."""
    api.register_blueprint(blp, url_prefix=f"/{path}")
    if portal:
        api.register_blueprint(blp, url_prefix=f"/<subdomain>/{path}", name=f"portal_{blp.name}")
