"""Datasets: /datasets/ and /<subdomain>/datasets/."""

from __future__ import annotations

from flask import current_app
from marshmallow import fields, validate

from ..repo import datasets
from ..services import previews
from ..web.storage import get_backend
from .blueprint import Blueprint
from .fields import TEXT_MAX, CommaTags, Tags, UUIDString, not_blank
from .schemas import ListArgs, StrictSchema, page_schema
from .views import OwnedCollection, OwnedItem

blp = Blueprint("datasets", __name__, description="Datasets.")


class DatasetSchema(StrictSchema):
    uuid = fields.String(dump_only=True)
    name = fields.String(required=True, validate=[not_blank, validate.Length(max=500)])
    description = fields.String(validate=validate.Length(max=TEXT_MAX))
    telescope = UUIDString(allow_none=True)
    tags = Tags()
    data_files_count = fields.Integer(dump_only=True)
    creation_date = fields.String(dump_only=True)


class DatasetFilters(ListArgs):
    name = fields.String()
    telescope = UUIDString()
    tags = CommaTags()


@blp.route("/")
class Datasets(OwnedCollection):
    repo = datasets

    @blp.arguments(DatasetFilters, location="query")
    @blp.response(200, page_schema(DatasetSchema))
    def get(self, args):
        """List datasets."""
        return self.list_page(args)

    @blp.arguments(DatasetSchema)
    @blp.response(201, DatasetSchema)
    def post(self, data):
        """Create a dataset."""
        return self.create(data)


@blp.route("/<uuid>/")
class Dataset(OwnedItem):
    repo = datasets

    @blp.response(200, DatasetSchema)
    def get(self, uuid):
        """One dataset."""
        return self.retrieve(uuid)

    @blp.arguments(DatasetSchema(partial=True))
    @blp.response(200, DatasetSchema)
    def patch(self, data, uuid):
        """Change some fields of a dataset (night logs follow its telescope)."""
        return self.update(uuid, data)

    @blp.response(204)
    def delete(self, uuid):
        """Delete a dataset, its data files' rows, then their stored files and previews."""
        removed = self.destroy(uuid)
        get_backend().remove(removed.stored)
        previews.discard(current_app.config["DATA_DIR"], removed.previewed)
