"""Telescopes: /telescopes/ and /<subdomain>/telescopes/."""

from __future__ import annotations

from marshmallow import fields, validate

from ..repo import telescopes
from .blueprint import Blueprint
from .fields import UUIDString, not_blank
from .schemas import ListArgs, StrictSchema, page_schema
from .views import OwnedCollection, OwnedItem

blp = Blueprint("telescopes", __name__, description="Telescopes.")


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


@blp.route("/")
class Telescopes(OwnedCollection):
    repo = telescopes

    @blp.arguments(TelescopeFilters, location="query")
    @blp.response(200, page_schema(TelescopeSchema))
    def get(self, args):
        """List telescopes."""
        return self.list_page(args)

    @blp.arguments(TelescopeSchema)
    @blp.response(201, TelescopeSchema)
    def post(self, data):
        """Create a telescope."""
        return self.create(data)


@blp.route("/<uuid>/")
class Telescope(OwnedItem):
    repo = telescopes

    @blp.response(200, TelescopeSchema)
    def get(self, uuid):
        """One telescope."""
        return self.retrieve(uuid)

    @blp.arguments(TelescopeSchema(partial=True))
    @blp.response(200, TelescopeSchema)
    def patch(self, data, uuid):
        """Change some fields of a telescope."""
        return self.update(uuid, data)

    @blp.response(204)
    def delete(self, uuid):
        """Delete a telescope (its datasets keep their files, without a telescope)."""
        self.destroy(uuid)
