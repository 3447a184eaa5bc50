"""Observing sites: /observingsites/ and /<subdomain>/observingsites/."""

from __future__ import annotations

from marshmallow import fields, validate, validates

from .. import timezones
from ..repo import sites
from .common import ListArgs, StrictSchema
from .crud import crud_blueprint
from .fields import not_blank


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
            from marshmallow import ValidationError

            raise ValidationError(f"Unknown IANA time zone '{value}'.")


class ObservingSiteFilters(ListArgs):
    name = fields.String()
    country = fields.String()
    time_zone = fields.String()


blp = crud_blueprint(
    "observingsites", sites, ObservingSiteSchema, ObservingSiteFilters, "observing sites"
)
