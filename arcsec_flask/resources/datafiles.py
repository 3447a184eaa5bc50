"""Data files: /[<subdomain>/]datafiles/, upload, header, content."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from flask import current_app, g, send_file
from flask.views import MethodView
from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate

from ..domain.errors import NotFound
from ..domain.ids import iso_utc
from ..headers.model import FRAME_TYPES
from ..repo import datafiles
from ..services import calibrations, previews, uploads
from ..web.db import get_db
from ..web.downloads import MISSING, presigned_redirect, send_object
from ..web.storage import get_backend
from .blueprint import Blueprint
from .fields import CommaTags, RowURL, Tags, UUIDString
from .schemas import LeanSchema, ListArgs, StrictSchema, page_schema
from .views import OwnedCollection, OwnedItem

blp = Blueprint("datafiles", __name__, description="Data files.")

HEADER_STATUSES = ("read", "none", "unreadable")


class HeaderFieldsSchema:
    """The values read from the header (docs/API.md, datafiles), all read-only."""

    target_name = fields.String(dump_only=True, allow_none=True)
    date_obs_source = fields.String(dump_only=True, allow_none=True)
    exposure_time = fields.Float(dump_only=True, allow_none=True)
    filter_name = fields.String(dump_only=True, allow_none=True)
    frame_type = fields.String(dump_only=True, allow_none=True)
    instrument_name = fields.String(dump_only=True, allow_none=True)
    telescope_name = fields.String(dump_only=True, allow_none=True)
    binning = fields.String(dump_only=True, allow_none=True)
    ccd_temperature = fields.Float(dump_only=True, allow_none=True)


class DataFileSchema(LeanSchema, StrictSchema, HeaderFieldsSchema):
    """A data file as every answer shows it; dumped by the plan LeanSchema compiles (an
    upload's answer included: marshmallow's dump was a tenth of a small upload's time)."""

    id = fields.Integer(dump_only=True)
    pk = fields.Integer(dump_only=True)
    dataset = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    file = RowURL("DataFileContent", "file_id", "id", dump_only=True)
    size = fields.Integer(dump_only=True)
    checksum = fields.String(dump_only=True)
    is_raw = fields.Boolean()
    tags = Tags()
    format = fields.String(dump_only=True)
    compression = fields.String(dump_only=True, allow_none=True)
    date_obs = fields.String(dump_only=True, allow_none=True)
    header_status = fields.String(dump_only=True)
    header_error = fields.String(dump_only=True, allow_none=True)
    observation = fields.String(dump_only=True, allow_none=True)
    calibration = fields.String(dump_only=True, allow_none=True)
    night_log = fields.String(dump_only=True, allow_none=True)
    creation_date = fields.String(dump_only=True)
    preview = RowURL(
        "DataFilePreview",
        "file_id",
        "id",
        when=previews.can_have_preview,
        dump_only=True,
        allow_none=True,
    )


class UploadSchema(StrictSchema):
    INLINE = True  # the multipart body, shown in place in the OpenAPI document

    dataset = UUIDString(required=True)
    is_raw = fields.Boolean(
        load_default=True,
        truthy={"true", "True", "TRUE", "1"},
        falsy={"false", "False", "FALSE", "0"},
    )
    tags = CommaTags(load_default=list)
    file = Upload(required=True)


class UTCInstant(fields.Field):
    """An ISO 8601 date or date and time (UTC when it has no offset), as stored: a
    `date_obs` range bound compared as text."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            instant = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ValidationError("Not an ISO 8601 date or date and time.") from None
        return iso_utc(instant if instant.tzinfo else instant.replace(tzinfo=UTC))


def _seconds() -> fields.Float:
    return fields.Float(allow_nan=False, validate=validate.Range(min=0, max=1e9))


class HeaderFilters:
    """Filters on the values read from headers: exact, and ranges (`__gte`, `__lte`)."""

    exposure_time = _seconds()
    exposure_time__gte = _seconds()
    exposure_time__lte = _seconds()
    filter_name = fields.String()
    frame_type = fields.String(validate=validate.OneOf(FRAME_TYPES))
    instrument_name = fields.String()
    telescope_name = fields.String()
    binning = fields.String(validate=validate.Regexp(r"^\d{1,2}x\d{1,2}$"))
    target_name = fields.String()
    date_obs__gte = UTCInstant()
    date_obs__lte = UTCInstant()


class DataFileFilters(ListArgs, HeaderFilters):
    dataset = UUIDString()
    name = fields.String()
    night_log = UUIDString()
    observation = UUIDString()
    calibration = UUIDString()
    is_raw = fields.Boolean()
    header_status = fields.String(validate=validate.OneOf(HEADER_STATUSES))
    tags = CommaTags()


class CardSchema(StrictSchema):
    key = fields.String()
    value = fields.Raw(allow_none=True)
    comment = fields.String()


def file_id_or_404(value: str) -> int:
    """A path data file id; anything but a plain number is a 404 (docs/API.md §1)."""
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise NotFound()
    return int(value)


@blp.route("/")
class DataFiles(OwnedCollection):
    repo = datafiles

    @blp.arguments(DataFileFilters, location="query")
    @blp.response(200, page_schema(DataFileSchema))
    def get(self, args):
        """List data files."""
        return self.list_page(args)

    @blp.arguments(UploadSchema, location="multipart")
    @blp.response(201, DataFileSchema)
    def post(self, form):
        """Upload a file into a dataset (multipart: dataset, is_raw, tags, file)."""
        upload = form.pop("file")
        return uploads.file_upload(
            get_db(),
            get_backend(),
            g.owner_id,
            form,
            upload.stream,
            upload.filename,
            upload.mimetype,
        )


@blp.route("/<file_id>/")
class DataFile(OwnedItem):
    repo = datafiles

    def key(self, value: str) -> int:
        return file_id_or_404(value)

    @blp.response(200, DataFileSchema)
    def get(self, file_id):
        """One data file."""
        return self.retrieve(file_id)

    @blp.arguments(DataFileSchema(partial=True))
    @blp.response(200, DataFileSchema)
    def patch(self, data, file_id):
        """Change is_raw or tags."""
        return self.update(file_id, data)

    @blp.response(204)
    def delete(self, file_id):
        """Delete the row, then the stored file and its preview; derived data follows."""
        removed = self.destroy(file_id)  # a file registered in place stays; its preview goes
        get_backend().remove(removed.stored)
        previews.discard(current_app.config["DATA_DIR"], removed.previewed)


@blp.route("/<file_id>/header/")
class DataFileHeader(MethodView):
    @blp.response(200, CardSchema(many=True))
    def get(self, file_id):
        """The header cards, in file order, repeated cards kept."""
        return datafiles.header(get_db(), g.owner_id, file_id_or_404(file_id))


@blp.route("/<file_id>/file/")
class DataFileContent(MethodView):
    @blp.response(200)
    def get(self, file_id):
        """The stored bytes (HTTP Range supported)."""
        found = datafiles.get(get_db(), g.owner_id, file_id_or_404(file_id))
        return _send(found)


@blp.route("/<file_id>/preview/")
class DataFilePreview(MethodView):
    @blp.response(200, content_type="image/png")
    def get(self, file_id):
        """A PNG preview of the file's first image, at most 1024 pixels on its long side."""
        found = datafiles.get(get_db(), g.owner_id, file_id_or_404(file_id))
        data_dir = current_app.config["DATA_DIR"]
        return _send_preview(previews.preview_of(data_dir, get_backend(), found))


class MatchSchema(Schema):
    """Why a calibration frame suits the light (domain/calibration.Match)."""

    kind = fields.String()
    master = fields.Boolean()
    delta_time = fields.Float(
        metadata={"description": "Seconds, this frame's time minus the light's."}
    )
    delta_exposure = fields.Float(allow_none=True)
    delta_temperature = fields.Float(allow_none=True)
    reason = fields.String()
    fallback = fields.Boolean(
        metadata={"description": "From a dataset without telescope: chosen after the rest."}
    )
    for_flat = fields.Integer(metadata={"description": "dark_flat only: the flat matched to."})


class MatchedDataFileSchema(DataFileSchema):
    match = fields.Nested(MatchSchema, dump_only=True)


def _matched() -> fields.List:
    return fields.List(fields.Nested(MatchedDataFileSchema))


class CalibrationMatchesSchema(LeanSchema):
    light = fields.Integer()
    window_days = fields.Integer()
    scope = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True))
    bias, dark, flat, dark_flat = _matched(), _matched(), _matched(), _matched()


class CalibrationMatchArgs(StrictSchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    format = fields.String(validate=validate.OneOf(["json", "api"]))  # browse/ reads it


@blp.route("/<file_id>/calibrations/")
class DataFileCalibrations(MethodView):
    @blp.arguments(CalibrationMatchArgs, location="query")
    @blp.response(200, CalibrationMatchesSchema)
    def get(self, args, file_id):
        """The bias, dark, flat and dark-flat frames that suit a light frame, best first."""
        window = current_app.config["CALIBRATION_WINDOW_DAYS"]
        found = file_id_or_404(file_id)
        return calibrations.calibrations_for(get_db(), g.owner_id, found, window, args["limit"])


def _send_preview(preview: previews.Preview):
    response = send_file(preview.path, mimetype="image/png", conditional=True, etag=preview.etag)
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


def _send(found: dict):
    """The stored bytes: from the local folder (by nginx when X-Accel-Redirect is set), or
    from the bucket by a redirect to a presigned URL, or streamed through (docs/API.md)."""
    backend = get_backend()
    disposition = _disposition(found["name"])
    if found["external_path"]:  # registered in place: outside the storage, sent from there
        return _send_path(found, Path(found["external_path"]), disposition)
    path = backend.local_path(found["storage_path"])
    if path is None:
        return _send_object(backend, found, disposition)
    prefix = current_app.config["X_ACCEL_REDIRECT"]
    if not prefix:
        return _send_path(found, path, disposition)
    # nginx sends the bytes (and handles Range) from its internal location.
    response = current_app.response_class(mimetype=found["content_type"])
    response.headers["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + found["storage_path"]
    response.headers["Content-Disposition"] = disposition
    return response


def _send_path(found: dict, path: Path, disposition: str):
    try:
        response = send_file(
            path, mimetype=found["content_type"], conditional=True, etag=found["checksum"]
        )
    except FileNotFoundError:  # a row that lost its file: said, not a 500
        raise NotFound(MISSING) from None
    response.headers["Content-Disposition"] = disposition
    return response


def _send_object(backend, found: dict, disposition: str):
    url = backend.presigned_url(found["storage_path"], disposition, found["content_type"])
    if url is None:  # ARCSEC_S3_PRESIGN_SECONDS=0: through the app
        return send_object(
            backend,
            found["storage_path"],
            found["size"],
            found["checksum"],
            found["content_type"],
            disposition,
        )
    return presigned_redirect(backend, found["storage_path"], url)


def _disposition(name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
