"""Night logs, observations and calibrations: derived from the data files, read-mostly."""

from __future__ import annotations

from marshmallow import fields, validate

from ..repo import nights
from .common import ListArgs, StrictSchema
from .crud import crud_blueprint
from .fields import UUIDString, not_blank

DERIVED_VERBS = ("GET", "PATCH")
CALIBRATION_TYPES = ("Biases", "Darks", "Flats", "Others")


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


nightlogs_blp = crud_blueprint(
    "nightlogs",
    nights.night_logs,
    NightLogSchema,
    NightLogFilters,
    "night logs",
    verbs=DERIVED_VERBS,
)
observations_blp = crud_blueprint(
    "observations",
    nights.observations,
    ObservationSchema,
    ObservationFilters,
    "observations",
    verbs=DERIVED_VERBS,
)
calibrations_blp = crud_blueprint(
    "calibrations",
    nights.calibrations,
    CalibrationSchema,
    CalibrationFilters,
    "calibrations",
    verbs=DERIVED_VERBS,
)
