"""Night logs: derived from the data files (local noon to local noon), with notes."""

from __future__ import annotations

from marshmallow import fields, validate

from ..repo import nightlogs
from .blueprint import Blueprint
from .fields import UUIDString
from .schemas import ListArgs, StrictSchema, page_schema
from .views import OwnedCollection, OwnedItem

blp = Blueprint("nightlogs", __name__, description="Night logs.")


class NightLogSchema(StrictSchema):
    uuid = fields.String(dump_only=True)
    date = fields.String(dump_only=True)
    name = fields.String(dump_only=True, metadata={"description": "`<date> <telescope name>`"})
    telescope = fields.String(dump_only=True)
    observations = fields.List(fields.String(), dump_only=True)
    calibrations = fields.List(fields.String(), dump_only=True)
    data_files_count = fields.Integer(dump_only=True)
    notes = fields.String(validate=validate.Length(max=100_000))
    creation_date = fields.String(dump_only=True)


class NewNightLogSchema(NightLogSchema):
    """A night log made by hand: its telescope and the date of its evening."""

    date = fields.Date(required=True)
    telescope = UUIDString(required=True)
    notes = fields.String(load_default="", validate=validate.Length(max=100_000))


class NightLogFilters(ListArgs):
    date = fields.Date()
    telescope = UUIDString()
    name = fields.String()


@blp.route("/")
class NightLogs(OwnedCollection):
    repo = nightlogs.night_logs

    @blp.arguments(NightLogFilters, location="query")
    @blp.response(200, page_schema(NightLogSchema))
    def get(self, args):
        """List night logs."""
        return self.list_page(args)

    @blp.arguments(NewNightLogSchema)
    @blp.response(201, NightLogSchema)
    def post(self, data):
        """Make a night log by hand, for notes before (or without) its files."""
        return self.create(data)


@blp.route("/<uuid>/")
class NightLog(OwnedItem):
    repo = nightlogs.night_logs

    @blp.response(200, NightLogSchema)
    def get(self, uuid):
        """One night log."""
        return self.retrieve(uuid)

    @blp.arguments(NightLogSchema(partial=True))
    @blp.response(200, NightLogSchema)
    def patch(self, data, uuid):
        """Change a night log's notes."""
        return self.update(uuid, data)

    @blp.response(204)
    def delete(self, uuid):
        """Delete a night log that holds no file."""
        self.destroy(uuid)
