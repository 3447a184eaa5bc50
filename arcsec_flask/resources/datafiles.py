"""Data files: /[<subdomain>/]datafiles/, upload, header, content."""

from __future__ import annotations

from flask import current_app, g, request, send_file, url_for
from flask.views import MethodView
from marshmallow import fields

from .. import ingest, storage
from ..db import get_db
from ..exceptions import Invalid, NotFound
from ..repo import datafiles
from .common import Blueprint, ListArgs, StrictSchema, page_schema, paginate
from .fields import Tags, UUIDString

blp = Blueprint("datafiles", __name__, description="Data files.")


def _file_url(obj: dict) -> str:
    endpoint = f"{request.blueprint}.DataFileContent"
    values = {"subdomain": g.subdomain} if g.subdomain else {}
    return url_for(endpoint, file_id=obj["id"], _external=True, **values)


class DataFileSchema(StrictSchema):
    id = fields.Integer(dump_only=True)
    pk = fields.Integer(dump_only=True)
    dataset = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    file = fields.Function(_file_url, dump_only=True)
    size = fields.Integer(dump_only=True)
    checksum = fields.String(dump_only=True)
    is_raw = fields.Boolean()
    tags = Tags()
    format = fields.String(dump_only=True)
    compression = fields.String(dump_only=True, allow_none=True)
    date_obs = fields.String(dump_only=True, allow_none=True)
    observation = fields.String(dump_only=True, allow_none=True)
    calibration = fields.String(dump_only=True, allow_none=True)
    night_log = fields.String(dump_only=True, allow_none=True)
    creation_date = fields.String(dump_only=True)


class CommaTags(fields.Field):
    """Tags as one comma-separated string, or as the part repeated."""

    def _deserialize(self, value, attr, data, **kwargs):
        values = value if isinstance(value, list) else [value]
        tags = [t.strip() for v in values for t in str(v).split(",")]
        return [t for t in tags if t]


class UploadFormSchema(StrictSchema):
    dataset = UUIDString(required=True)
    is_raw = fields.Boolean(
        load_default=True,
        truthy={"true", "True", "TRUE", "1"},
        falsy={"false", "False", "FALSE", "0"},
    )
    tags = CommaTags(load_default=list)


class DataFileFilters(ListArgs):
    dataset = UUIDString()
    name = fields.String()
    night_log = UUIDString()
    observation = UUIDString()
    calibration = UUIDString()
    is_raw = fields.Boolean()


class CardSchema(StrictSchema):
    key = fields.String()
    value = fields.Raw(allow_none=True)
    comment = fields.String()


def _file_id(value: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise NotFound()
    return int(value)


# The multipart body is parsed by hand (the file part streams to disk), so it is
# described here for the OpenAPI document.
UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["dataset", "file"],
                "properties": {
                    "dataset": {"type": "string", "format": "uuid"},
                    "is_raw": {"type": "string", "enum": ["True", "False"], "default": "True"},
                    "tags": {"type": "string", "description": "Comma-separated, or repeated."},
                    "file": {"type": "string", "format": "binary"},
                },
            }
        }
    },
}


@blp.route("/")
class DataFiles(MethodView):
    @blp.arguments(DataFileFilters, location="query")
    @blp.response(200, page_schema(DataFileSchema))
    def get(self, args):
        """List data files."""
        return paginate(args, lambda f, n, skip: datafiles.list_(get_db(), g.owner_id, f, n, skip))

    @blp.doc(requestBody=UPLOAD_BODY)
    @blp.response(201, DataFileSchema)
    def post(self):
        """Upload a file into a dataset (multipart: dataset, is_raw, tags, file)."""
        form = UploadFormSchema().load(_form_fields())
        upload = request.files.get("file")
        if upload is None:
            raise Invalid("No file was sent.", {"file": ["No file was submitted."]})
        return ingest.create_from_upload(
            get_db(),
            current_app.config["FILES_DIR"],
            g.owner_id,
            form,
            upload.stream,
            upload.filename,
            upload.mimetype,
        )


def _form_fields() -> dict:
    if not request.mimetype.startswith("multipart/form-data"):
        raise Invalid("Send the file as multipart/form-data.", {"file": ["Not multipart."]})
    form = request.form
    return {key: (form.getlist(key) if key == "tags" else form[key]) for key in form}


@blp.route("/<file_id>/")
class DataFile(MethodView):
    @blp.response(200, DataFileSchema)
    def get(self, file_id):
        """One data file."""
        return datafiles.get(get_db(), g.owner_id, _file_id(file_id))

    @blp.arguments(DataFileSchema(partial=True))
    @blp.response(200, DataFileSchema)
    def patch(self, data, file_id):
        """Change is_raw or tags."""
        return datafiles.update(get_db(), g.owner_id, _file_id(file_id), data)

    @blp.response(204)
    def delete(self, file_id):
        """Delete the row, then the stored file; derived data follows."""
        path = datafiles.delete(get_db(), g.owner_id, _file_id(file_id))
        storage.remove(current_app.config["FILES_DIR"], [path])


@blp.route("/<file_id>/header/")
class DataFileHeader(MethodView):
    @blp.response(200, CardSchema(many=True))
    def get(self, file_id):
        """The header cards, in file order, repeated cards kept."""
        return datafiles.header(get_db(), g.owner_id, _file_id(file_id))


@blp.route("/<file_id>/file/")
class DataFileContent(MethodView):
    @blp.response(200)
    def get(self, file_id):
        """The stored bytes (HTTP Range supported)."""
        found = datafiles.get(get_db(), g.owner_id, _file_id(file_id))
        return _send(found)


def _send(found: dict):
    prefix = current_app.config["X_ACCEL_REDIRECT"]
    if prefix:  # nginx sends the bytes (and handles Range) from its internal location
        response = current_app.response_class(mimetype=found["content_type"])
        response.headers["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + found["storage_path"]
    else:
        path = storage.absolute(current_app.config["FILES_DIR"], found["storage_path"])
        response = send_file(
            path, mimetype=found["content_type"], conditional=True, etag=found["checksum"]
        )
    response.headers["Content-Disposition"] = _disposition(found["name"])
    return response


def _disposition(name: str) -> str:
    from urllib.parse import quote

    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
