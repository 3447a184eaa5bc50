"""Base schemas: strict bodies, list arguments, and the page every list answers with."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


class ListArgs(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    page_size = fields.Integer(load_default=None, validate=validate.Range(min=1, max=1000))
    format = fields.String(validate=validate.OneOf(["json", "api"]))  # browse/ reads it


def page_schema(item: type[Schema]) -> type[Schema]:
    """The DRF page of `item`s: count, next, previous, results."""
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
