"""Telescopes: /telescopes/ and /<subdomain>/telescopes/."""

from __future__ import annotations

from marshmallow import fields, validate

from ..repo import telescopes
from .common import ListArgs, StrictSchema
from .crud import crud_blueprint
from .fields import UUIDString, not_blank


class TelescopeSchema(StrictSchema):
    uuid = fields.String(dump_only=True)
    name = fields.String(required=True, validate=[not_blank, validate.Length(max=200)])
    alias = fields.String(validate=validate.Length(max=200))
    observing_site = UUIDString(allow_none=True)
    creation_date = fields.String(dump_only=True)


class TelescopeFilters(ListArgs):
    name = fields.String()
    alias = fields.String()
    observing_site = UUIDString()


blp = crud_blueprint("telescopes", telescopes, TelescopeSchema, TelescopeFilters, "telescopes")
