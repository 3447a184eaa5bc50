"""Night logs: derived from the data files (local noon to local noon), with notes."""

from __future__ import annotations

from marshmallow import fields

from ..repo import nightlogs
from .blueprint import Blueprint
from .fields import UUIDString
from .schemas import ListArgs, StrictSchema, page_schema
from .views import OwnedCollection, OwnedItem

blp = Blueprint("nightlogs", __name__, description="Night logs.")


class NightLogSchema(StrictSchema):
    uuid = fields.String(dump_only=True)
    date = fields.String(dump_only=True)
    telescope = fields.String(dump_only=True)
    observations = fields.List(fields.String(), dump_only=True)
    calibrations = fields.List(fields.String(), dump_only=True)
    notes = fields.String(required=True)
    creation_date = fields.String(dump_only=True)


class NightLogFilters(ListArgs):
    date = fields.Date()
    telescope = UUIDString()


@blp.route("/")
class NightLogs(OwnedCollection):
    repo = nightlogs.night_logs

    @blp.arguments(NightLogFilters, location="query")
    @blp.response(200, page_schema(NightLogSchema))
    def get(self, args):
        """List night logs."""
        return self.list_page(args)


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
