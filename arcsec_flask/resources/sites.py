"""Observing sites: /observingsites/ and /<subdomain>/observingsites/."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates

from ..domain import timezones
from ..repo import sites
from .blueprint import Blueprint
from .fields import not_blank
from .schemas import ListArgs, StrictSchema, page_schema
from .views import OwnedCollection, OwnedItem

blp = Blueprint("observingsites", __name__, description="Observing sites.")


class CoordinatesSchema(StrictSchema):
    longitude = fields.Float(required=True, validate=validate.Range(-180, 180), allow_nan=False)
    latitude = fields.Float(required=True, validate=validate.Range(-90, 90), allow_nan=False)
    height = fields.Float(load_default=None, allow_none=True, allow_nan=False)


class ObservingSiteSchema(StrictSchema):
    uuid = fields.String(dump_only=True)
    name = fields.String(required=True, validate=[not_blank, validate.Length(max=200)])
    coordinates = fields.Nested(CoordinatesSchema, allow_none=True)
    time_zone = fields.String(allow_none=True)
    country = fields.String(validate=validate.Length(max=100))
    telescopes = fields.List(fields.String(), dump_only=True)
    creation_date = fields.String(dump_only=True)

    @validates("time_zone")
    def _known_zone(self, value, **_kwargs):
        if value and not timezones.is_valid(value):
            raise ValidationError(f"Unknown IANA time zone '{value}'.")


class ObservingSiteFilters(ListArgs):
    name = fields.String()
    country = fields.String()
    time_zone = fields.String()


@blp.route("/")
class ObservingSites(OwnedCollection):
    repo = sites

    @blp.arguments(ObservingSiteFilters, location="query")
    @blp.response(200, page_schema(ObservingSiteSchema))
    def get(self, args):
        """List observing sites."""
        return self.list_page(args)

    @blp.arguments(ObservingSiteSchema)
    @blp.response(201, ObservingSiteSchema)
    def post(self, data):
        """Create an observing site (its time zone derived from its coordinates if omitted)."""
        return self.create(data)


@blp.route("/<uuid>/")
class ObservingSite(OwnedItem):
    repo = sites

    @blp.response(200, ObservingSiteSchema)
    def get(self, uuid):
        """One observing site."""
        return self.retrieve(uuid)

    @blp.arguments(ObservingSiteSchema(partial=True))
    @blp.response(200, ObservingSiteSchema)
    def patch(self, data, uuid):
        """Change some fields of an observing site (night logs follow its time zone)."""
        return self.update(uuid, data)

    @blp.response(204)
    def delete(self, uuid):
        """Delete an observing site (its telescopes stay, without a site)."""
        self.destroy(uuid)
