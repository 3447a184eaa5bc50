"""Data packages: /[<subdomain>/]datapackages/, and their archive, a zip streamed as built."""

from __future__ import annotations

from flask import Response, g, request, stream_with_context
from flask.views import MethodView
from marshmallow import fields, validate

from ..domain.errors import NotFound
from ..repo import datapackages
from ..services import packages
from ..web.db import get_db
from ..web.storage import get_backend
from .blueprint import Blueprint
from .fields import RowURL, UUIDString, not_blank
from .schemas import ListArgs, StrictSchema, page_schema
from .views import OwnedCollection, OwnedItem, uuid_or_404

blp = Blueprint("datapackages", __name__, description="Data packages.")


class DataPackageSchema(StrictSchema):
    uuid = fields.String(dump_only=True)
    name = fields.String(required=True, validate=[not_blank, validate.Length(max=500)])
    description = fields.String(validate=validate.Length(max=100_000))
    datasets = fields.List(UUIDString(), validate=validate.Length(max=10_000))
    is_public = fields.Boolean()
    data_files_count = fields.Integer(dump_only=True)
    size = fields.Integer(dump_only=True)
    archive = RowURL("DataPackageArchive", "uuid", "uuid", dump_only=True)
    creation_date = fields.String(dump_only=True)


class DataPackageFilters(ListArgs):
    name = fields.String()
    is_public = fields.Boolean()


@blp.route("/")
class DataPackages(OwnedCollection):
    repo = datapackages

    @blp.arguments(DataPackageFilters, location="query")
    @blp.response(200, page_schema(DataPackageSchema))
    def get(self, args):
        """List data packages (without a key: the public ones)."""
        if g.scope == "anonymous":
            args = {**args, "is_public": True}
        return self.list_page(args)

    @blp.arguments(DataPackageSchema)
    @blp.response(201, DataPackageSchema)
    def post(self, data):
        """Create a data package of some of your datasets."""
        return self.create(data)


@blp.route("/<uuid>/")
class DataPackage(OwnedItem):
    repo = datapackages

    @blp.response(200, DataPackageSchema)
    def get(self, uuid):
        """One data package (without a key: a public one)."""
        return _readable(self.retrieve(uuid))

    @blp.arguments(DataPackageSchema(partial=True))
    @blp.response(200, DataPackageSchema)
    def patch(self, data, uuid):
        """Change some fields of a data package (`datasets` replaces the list)."""
        return self.update(uuid, data)

    @blp.response(204)
    def delete(self, uuid):
        """Delete a data package (its datasets and files stay)."""
        self.destroy(uuid)


@blp.route("/<uuid>/archive/")
class DataPackageArchive(MethodView):
    @blp.response(200, content_type="application/zip")
    def get(self, uuid):
        """The package as one zip, streamed as it is built (Range requests resume it)."""
        conn = get_db()
        package = _readable(datapackages.get(conn, g.owner_id, uuid_or_404(uuid)))
        archive = packages.archive_of(conn, get_backend(), package)
        return _send_archive(archive, package["name"])


def _readable(package: dict) -> dict:
    """Without a key only public packages exist (a private one is a 404, as another's)."""
    if g.scope == "anonymous" and not package["is_public"]:
        raise NotFound()
    return package


def _send_archive(archive: packages.Archive, name: str) -> Response:
    start, end, status = 0, archive.size, 200
    byte_range = request.range if request.if_range.etag in (None, archive.etag) else None
    if byte_range is not None and len(byte_range.ranges) == 1:
        bounds = byte_range.range_for_length(archive.size)
        if bounds is None:
            response = Response(status=416)
            response.headers["Content-Range"] = f"bytes */{archive.size}"
            return response
        (start, end), status = bounds, 206
    response = Response(
        stream_with_context(archive.iter_bytes(start, end)),
        status=status,
        mimetype="application/zip",
        direct_passthrough=True,
    )
    response.content_length = end - start
    if status == 206:
        response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{archive.size}"
    response.headers["Accept-Ranges"] = "bytes"
    response.set_etag(archive.etag)
    response.headers["Content-Disposition"] = packages.disposition(name)
    return response
