"""Observations: the files of one night log (or dataset) and one target."""

from __future__ import annotations

from marshmallow import fields, validate

from ..repo import nightlogs
from .blueprint import Blueprint
from .fields import UUIDString, not_blank
from .schemas import ListArgs, StrictSchema, page_schema
from .views import OwnedCollection, OwnedItem

blp = Blueprint("observations", __name__, description="Observations.")


class ObservationSchema(StrictSchema):
    uuid = fields.String(dump_only=True)
    name = fields.String(required=True, validate=[not_blank, validate.Length(max=500)])
    target_name = fields.String(dump_only=True)
    night_log = fields.String(dump_only=True, allow_none=True)
    data_files_count = fields.Integer(dump_only=True)
    creation_date = fields.String(dump_only=True)


class ObservationFilters(ListArgs):
    night_log = UUIDString()
    name = fields.String()
    target_name = fields.String()


@blp.route("/")
class Observations(OwnedCollection):
    repo = nightlogs.observations

    @blp.arguments(ObservationFilters, location="query")
    @blp.response(200, page_schema(ObservationSchema))
    def get(self, args):
        """List observations."""
        return self.list_page(args)


@blp.route("/<uuid>/")
class Observation(OwnedItem):
    repo = nightlogs.observations

    @blp.response(200, ObservationSchema)
    def get(self, uuid):
        """One observation."""
        return self.retrieve(uuid)

    @blp.arguments(ObservationSchema(partial=True))
    @blp.response(200, ObservationSchema)
    def patch(self, data, uuid):
        """Rename an observation."""
        return self.update(uuid, data)
