"""Calibrations: the files of one night log (or dataset) and one calibration type."""

from __future__ import annotations

from marshmallow import fields, validate

from ..repo import nightlogs
from .blueprint import Blueprint
from .fields import UUIDString, not_blank
from .schemas import ListArgs, StrictSchema, page_schema
from .views import OwnedCollection, OwnedItem

blp = Blueprint("calibrations", __name__, description="Calibrations.")

CALIBRATION_TYPES = ("Biases", "Darks", "Flats", "Others")


class CalibrationSchema(StrictSchema):
    uuid = fields.String(dump_only=True)
    name = fields.String(required=True, validate=[not_blank, validate.Length(max=500)])
    type = fields.String(dump_only=True)
    night_log = fields.String(dump_only=True, allow_none=True)
    data_files_count = fields.Integer(dump_only=True)
    creation_date = fields.String(dump_only=True)


class CalibrationFilters(ListArgs):
    night_log = UUIDString()
    name = fields.String()
    type = fields.String(validate=validate.OneOf(CALIBRATION_TYPES))


@blp.route("/")
class Calibrations(OwnedCollection):
    repo = nightlogs.calibrations

    @blp.arguments(CalibrationFilters, location="query")
    @blp.response(200, page_schema(CalibrationSchema))
    def get(self, args):
        """List calibrations."""
        return self.list_page(args)


@blp.route("/<uuid>/")
class Calibration(OwnedItem):
    repo = nightlogs.calibrations

    @blp.response(200, CalibrationSchema)
    def get(self, uuid):
        """One calibration."""
        return self.retrieve(uuid)

    @blp.arguments(CalibrationSchema(partial=True))
    @blp.response(200, CalibrationSchema)
    def patch(self, data, uuid):
        """Rename a calibration."""
        return self.update(uuid, data)
