"""Pieces every resource uses: the strict blueprint, list arguments, pagination."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import flask_smorest
from flask import current_app, request
from marshmallow import RAISE, Schema, fields, validate
from webargs.flaskparser import FlaskParser

from ..exceptions import NotFound
from ..repo.common import canonical_uuid


class StrictParser(FlaskParser):
    """Unknown query parameters and JSON fields are errors, never ignored (API.md §4)."""

    DEFAULT_UNKNOWN_BY_LOCATION: dict[str, str | None] = {
        location: None for location in FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION
    }


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictParser()


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


class ListArgs(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    page_size = fields.Integer(load_default=None, validate=validate.Range(min=1, max=1000))
    format = fields.String(validate=validate.OneOf(["json", "api"]))  # browse.py reads it


def page_schema(item: type[Schema]) -> type[Schema]:
    return type(
        f"{item.__name__.removesuffix('Schema')}PageSchema",
        (Schema,),
        {
            "count": fields.Integer(),
            "next": fields.String(allow_none=True),
            "previous": fields.String(allow_none=True),
            "results": fields.List(fields.Nested(item)),
        },
    )


Fetch = Callable[[dict[str, Any], int, int], tuple[int, list[dict[str, Any]]]]


def paginate(args: dict[str, Any], fetch: Fetch) -> dict[str, Any]:
    """Run `fetch(filters, limit, offset)` for the page asked, and wrap it as DRF does."""
    args = dict(args)
    page = args.pop("page", 1)
    args.pop("format", None)  # the page or JSON choice (browse.py), not a filter
    size = args.pop("page_size", None) or current_app.config["PAGE_SIZE"]
    size = min(size, current_app.config["MAX_PAGE_SIZE"])
    count, results = fetch(args, size, (page - 1) * size)
    if page > 1 and (page - 1) * size >= count:
        raise NotFound("Invalid page.")
    return {
        "count": count,
        "next": _page_url(page + 1) if page * size < count else None,
        "previous": _page_url(page - 1) if page > 1 else None,
        "results": results,
    }


def _page_url(page: int) -> str:
    query = request.args.to_dict(flat=False)
    query["page"] = [str(page)]
    return f"{request.base_url}?{urlencode(query, doseq=True)}"


def uuid_or_404(value: str) -> str:
    """A path UUID in canonical form; anything else is a 404 (API.md §1)."""
    canonical = canonical_uuid(value)
    if canonical is None:
        raise NotFound()
    return canonical


def register(api: flask_smorest.Api, blp: Blueprint, path: str, portal: bool = True) -> None:
    """Register a resource at /<path>/ and, for portals, at /<subdomain>/<path>/."""
    api.register_blueprint(blp, url_prefix=f"/{path}")
    if portal:
        api.register_blueprint(blp, url_prefix=f"/<subdomain>/{path}", name=f"portal_{blp.name}")
