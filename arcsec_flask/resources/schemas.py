"""Base schemas: strict bodies, list arguments, and the page every list answers with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, fields, pre_load, validate

from ..domain.names import clean_name
from .fields import UUIDString, not_blank
from .lean import compile_page_dumper

# Body fields that name something: their invisible format characters (bidirectional
# controls, zero-width spaces) are removed before validation (domain/names.clean_name).
NAME_FIELDS = frozenset({"name", "alias"})

# How the document shows a UUID: the JSON form is the lower-case hyphenated one; bodies
# and filters also take upper case (UUIDString lowers it), paths only the canonical form.
UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
CANONICAL_UUID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class StrictSchema(Schema):
    """Bodies as Django REST framework reads them (docs/API.md §4a): a field the object
    shows but nobody writes (uuid, creation_date, counts, URLs...) is ignored when sent
    back, so a client may return an object exactly as it read it; a field the resource
    does not have at all is an error naming it."""

    class Meta:
        unknown = RAISE
        ordered = True

    @pre_load
    def _ignore_read_only(self, data: Any, **_kwargs: Any) -> Any:
        read_only = {f.data_key or name for name, f in self.fields.items() if f.dump_only}
        if hasattr(data, "getlist"):
            return _clean_query_names(data)  # no read-only fields in queries and forms
        if not isinstance(data, Mapping):
            return data
        return {
            key: clean_name(value) if key in NAME_FIELDS and isinstance(value, str) else value
            for key, value in data.items()
            if key not in read_only
        }


def _clean_query_names(data: Any) -> Any:
    """A `?name=` filter cleaned as names are stored: the client's `GET datasets/?name=N`
    must find the dataset its `POST {"name": N}` made, or each run makes another."""
    if not any(key in NAME_FIELDS for key in data):
        return data
    cleaned = data.copy()
    for key in NAME_FIELDS & set(data):
        cleaned.setlist(key, [clean_name(v) for v in data.getlist(key)])
    return cleaned


class ListArgs(StrictSchema):
    # Bounded: OFFSET is a 64-bit integer in SQLite, and no archive has a billion pages.
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000_000))
    page_size = fields.Integer(load_default=None, validate=validate.Range(min=1, max=1000))
    # The opaque position the `next`/`previous` links carry (resources/pagination.py).
    cursor = fields.String(validate=validate.Length(max=64))
    format = fields.String(validate=validate.OneOf(["json", "api"]))  # browse/ reads it


class LeanSchema(Schema):
    """An answer of many rows, dumped by a plan compiled from its fields once
    (resources/lean.py): the same JSON as marshmallow's dump, without its cost per row and
    field. Every list page is one (PageSchema); so is any answer listing data files."""

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        if many or not isinstance(obj, Mapping):
            return super().dump(obj, many=many)
        dumper = self.__dict__.get("_lean")
        if dumper is None:
            dumper = self._lean = compile_page_dumper(self)
        return dumper(obj)


class PageSchema(LeanSchema):
    """A list's page: count, next, previous, results (page_schema)."""


def page_schema(item: type[Schema]) -> type[Schema]:
    """The DRF page of `item`s: count, next, previous, results."""
    return type(
        f"{item.__name__.removesuffix('Schema')}PageSchema",
        (PageSchema,),
        {
            "count": fields.Integer(),
            "next": fields.String(allow_none=True),
            "previous": fields.String(allow_none=True),
            "results": fields.List(fields.Nested(item)),
        },
    )


class ErrorSchema(Schema):
    """Every error answer (web/errors.py): a sentence, and the messages of each field at fault."""

    class Meta:
        ordered = True

    detail = fields.String(required=True, metadata={"description": "What went wrong, in words."})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Field name to its messages, when fields are at fault."},
    )


def field_rules(_converter: Any, field: fields.Field, **_kwargs: Any) -> dict[str, Any]:
    """What the marshmallow plugin cannot see in our own fields and validators: a UUID
    reference is a UUID, and a `not_blank` string has a character that is not a space. A
    field may also say what it is itself, in an `OPENAPI` mapping (e.g. a list written as
    UUIDs and read as objects)."""
    rules: dict[str, Any] = dict(getattr(field, "OPENAPI", {}))
    if isinstance(field, UUIDString):
        rules.update(format="uuid", pattern=UUID_PATTERN)
    validators = field.validators if isinstance(field.validators, list | tuple) else []
    if not_blank in validators:
        rules.update(minLength=1, pattern=r"\S")
    return rules
