"""Datasets: /datasets/ and /<subdomain>/datasets/."""

from __future__ import annotations

from flask import current_app
from marshmallow import fields, validate

from .. import storage
from ..repo import datasets
from .common import ListArgs, StrictSchema
from .crud import crud_blueprint
from .fields import Tags, UUIDString, not_blank


class DatasetSchema(StrictSchema):
    uuid = fields.String(dump_only=True)
    name = fields.String(required=True, validate=[not_blank, validate.Length(max=500)])
    description = fields.String()
    telescope = UUIDString(allow_none=True)
    tags = Tags()
    data_files_count = fields.Integer(dump_only=True)
    creation_date = fields.String(dump_only=True)


class DatasetFilters(ListArgs):
    name = fields.String()
    telescope = UUIDString()
    tags = fields.List(fields.String())


def _remove_files(paths: list[str]) -> None:
    storage.remove(current_app.config["FILES_DIR"], paths)


blp = crud_blueprint(
    "datasets", datasets, DatasetSchema, DatasetFilters, "datasets", after_delete=_remove_files
)
