"""Target lists: /targetlists/ and /<subdomain>/targetlists/."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from marshmallow import fields, validate

from ..repo import targetlists
from .blueprint import Blueprint
from .fields import UUIDString, not_blank
from .schemas import UUID_PATTERN, ListArgs, StrictSchema, page_schema
from .targets import TargetSchema
from .views import OwnedCollection, OwnedItem

blp = Blueprint("targetlists", __name__, description="Target lists.")


class TargetRef(UUIDString):
    """A target by UUID; a target object as read (with its `uuid`) is taken for its UUID,
    so that a list read back can be sent back as it is (docs/API.md §4a)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, Mapping) and "uuid" in value:
            value = value["uuid"]
        return super()._deserialize(value, attr, data, **kwargs)


class TargetRefs(fields.List):
    """Written as target UUIDs, in order; read as the target objects, in that order."""

    # Either, in the document: a body may also send the objects back as it read them.
    OPENAPI: ClassVar[dict] = {
        "items": {
            "anyOf": [
                {"type": "string", "format": "uuid", "pattern": UUID_PATTERN},
                {"$ref": "#/components/schemas/Target"},
            ]
        }
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {"description": "Target UUIDs; read: the targets."})
        super().__init__(TargetRef(), validate=validate.Length(max=10_000), **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else TargetSchema(many=True).dump(value)


class TargetListSchema(StrictSchema):
    uuid = fields.String(dump_only=True)
    name = fields.String(required=True, validate=[not_blank, validate.Length(max=200)])
    description = fields.String(validate=validate.Length(max=100_000))
    targets = TargetRefs()
    creation_date = fields.String(dump_only=True)


class TargetListFilters(ListArgs):
    name = fields.String()


@blp.route("/")
class TargetLists(OwnedCollection):
    repo = targetlists

    @blp.arguments(TargetListFilters, location="query")
    @blp.response(200, page_schema(TargetListSchema))
    def get(self, args):
        """List target lists, each with its targets."""
        return self.list_page(args)

    @blp.arguments(TargetListSchema)
    @blp.response(201, TargetListSchema)
    def post(self, data):
        """Create a target list of some of your targets, in order."""
        return self.create(data)


@blp.route("/<uuid>/")
class TargetList(OwnedItem):
    repo = targetlists

    @blp.response(200, TargetListSchema)
    def get(self, uuid):
        """One target list, with its targets in order."""
        return self.retrieve(uuid)

    @blp.arguments(TargetListSchema(partial=True))
    @blp.response(200, TargetListSchema)
    def patch(self, data, uuid):
        """Change some fields of a target list (`targets` replaces the list)."""
        return self.update(uuid, data)

    @blp.response(204)
    def delete(self, uuid):
        """Delete a target list (its targets stay)."""
        self.destroy(uuid)
