"""Targets: /targets/ and /<subdomain>/targets/."""

from __future__ import annotations

from marshmallow import fields, validate

from ..repo import targets
from .blueprint import Blueprint
from .fields import CommaTags, Tags, not_blank
from .schemas import ListArgs, StrictSchema, page_schema
from .views import OwnedCollection, OwnedItem

blp = Blueprint("targets", __name__, description="Targets of observation.")

TARGET_CLASSES = (
    "AstronomicalObject",
    "Exoplanet",
    "StandardStar",
    "SolarSystemPlanet",
    "SmallBody",
    "Microlensing",
    "Transient",
)


class SkyCoordinatesSchema(StrictSchema):
    right_ascension = fields.Float(
        required=True, allow_nan=False, validate=validate.Range(0, 360, max_inclusive=False)
    )
    declination = fields.Float(required=True, allow_nan=False, validate=validate.Range(-90, 90))


class Whole(fields.Nested):
    """A nested object written whole, PATCH included: coordinates are a pair, and a
    right ascension without its declination is no position."""

    def _deserialize(self, value, attr, data, partial=None, **kwargs):
        return super()._deserialize(value, attr, data, partial=None, **kwargs)


class TargetSchema(StrictSchema):
    uuid = fields.String(dump_only=True)
    name = fields.String(required=True, validate=[not_blank, validate.Length(max=200)])
    identifier = fields.String(validate=validate.Length(max=200))
    target_class = fields.String(validate=validate.OneOf(TARGET_CLASSES))
    coordinates = Whole(SkyCoordinatesSchema, allow_none=True)
    mode = fields.String(validate=validate.Length(max=200))
    notes = fields.String(validate=validate.Length(max=100_000))
    tags = Tags(validate=validate.Length(max=1000))
    observations_count = fields.Integer(dump_only=True)
    creation_date = fields.String(dump_only=True)


class TargetFilters(ListArgs):
    name = fields.String()
    target_class = fields.String(validate=validate.OneOf(TARGET_CLASSES))
    tags = CommaTags()  # ?tags=a&tags=b or ?tags=a,b: each tag must be there


@blp.route("/")
class Targets(OwnedCollection):
    repo = targets

    @blp.arguments(TargetFilters, location="query")
    @blp.response(200, page_schema(TargetSchema))
    def get(self, args):
        """List targets, each with the count of its observations."""
        return self.list_page(args)

    @blp.arguments(TargetSchema)
    @blp.response(201, TargetSchema)
    def post(self, data):
        """Create a target."""
        return self.create(data)


@blp.route("/<uuid>/")
class Target(OwnedItem):
    repo = targets

    @blp.response(200, TargetSchema)
    def get(self, uuid):
        """One target."""
        return self.retrieve(uuid)

    @blp.arguments(TargetSchema(partial=True))
    @blp.response(200, TargetSchema)
    def patch(self, data, uuid):
        """Change some fields of a target."""
        return self.update(uuid, data)

    @blp.response(204)
    def delete(self, uuid):
        """Delete a target (the target lists holding it lose it)."""
        self.destroy(uuid)
