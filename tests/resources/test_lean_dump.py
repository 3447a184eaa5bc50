"""The lean page dump (resources/lean.py) and marshmallow's dump of the same schema give the
same JSON, for every list's page schema, personal and portal, rows with every field set,
with nulls, with values of another type than the field's, and real data files."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flask import g
from marshmallow import Schema, fields

from arcsec_flask.repo import datafiles
from arcsec_flask.resources.fields import RowURL
from arcsec_flask.resources.schemas import LeanSchema, PageSchema
from arcsec_flask.web.db import get_db
from tests.support.factories import write_fits

UUID = "0f3c9a4e-2b7d-4c1e-9a55-6d2e8f1b3c70"


def page_schemas(app) -> list[type[Schema]]:
    """The page schema of every list route of the app (each `page_schema(...)` made)."""
    found: dict[str, type[Schema]] = {}
    for view in app.view_functions.values():
        for method in ("get",):
            handler = getattr(getattr(view, "view_class", None), method, None)
            for response in getattr(handler, "_apidoc", {}).get("response", {}).values():
                for answer in response.get(200, []) if isinstance(response, dict) else []:
                    schema = answer.get("schema") if isinstance(answer, dict) else None
                    schema = schema if isinstance(schema, type) else type(schema)
                    if isinstance(schema, type) and issubclass(schema, PageSchema):
                        found[schema.__name__] = schema
    return list(found.values())


def sample(field: fields.Field, variant: str) -> Any:
    """A value for `field` as a repo row holds it: set, null, or of a neighbouring type."""
    if variant == "null":
        return None
    other = variant == "other"
    if isinstance(field, fields.Nested):
        nested = field.schema
        return row_for(nested, variant) if not field.many else [row_for(nested, variant)]
    if isinstance(field, fields.List):
        return [sample(field.inner, variant), sample(field.inner, variant)]
    if isinstance(field, fields.Boolean):
        return 1 if other else True  # SQLite gives 0/1
    if isinstance(field, fields.Integer):
        return True if other else 41
    if isinstance(field, fields.Float):
        return 30 if other else 1.5  # an integer stored in a REAL column's place
    if isinstance(field, fields.String):
        return 7 if other else "Ñame “x” é"
    if isinstance(field, fields.Dict | fields.Raw):
        return {"a": [1, 2.5, None, "b"]}
    return "x"


def row_for(schema: Schema, variant: str) -> dict[str, Any]:
    row = {name: sample(field, variant) for name, field in schema.dump_fields.items()}
    row.update(id=12345, pk=12345, uuid=UUID)  # keys are never null
    return row


def dumped_both_ways(schema_class: type[Schema], page: dict[str, Any]) -> tuple[str, str]:
    schema = schema_class()
    lean = schema.dump(page)
    plain = Schema.dump(schema, page)  # marshmallow's own path, field by field
    return json.dumps(lean), json.dumps(plain)


@pytest.mark.parametrize("variant", ["set", "null", "other", "absent"])
@pytest.mark.parametrize("subdomain", [None, "lesud"])
def test_every_page_schema_dumps_as_marshmallow_does(app, variant, subdomain):
    schemas = page_schemas(app)
    assert len(schemas) >= 10  # every list: datafiles, datasets, night logs, targets...
    prefix = f"/{subdomain}" if subdomain else ""
    for schema_class in schemas:
        item = schema_class().fields["results"].inner.schema
        if variant == "absent":  # a row without some of the fields: both leave them out
            rows = [{"id": 1, "uuid": UUID, "format": "fits", "header_status": "read"}]
        else:
            rows = [row_for(item, variant), {**row_for(item, variant), "id": 7, "pk": 7}]
        page = {"count": 2, "next": "http://localhost/x/?page=2", "previous": None}
        blueprint = "datafiles" if "DataFile" in schema_class.__name__ else "datapackages"
        with app.test_request_context(f"{prefix}/{blueprint}/", base_url="https://arc.example"):
            g.subdomain = subdomain
            lean, plain = dumped_both_ways(schema_class, {**page, "results": rows})
        assert lean == plain, schema_class.__name__


def test_row_urls_quote_keys_as_werkzeug_does(app):
    """Keys that are not plain ids or UUIDs still give url_for's own URL."""

    class Odd(Schema):
        id = fields.String()
        file = RowURL("DataFileContent", "file_id", "id")

    class OddPage(PageSchema):
        results = fields.List(fields.Nested(Odd))
        count, next, previous = fields.Integer(), fields.String(), fields.String()

    keys = ["a b", "é", "x/y", "50%", "a?b#c", "", "-"]
    page = {"count": 1, "next": None, "previous": None, "results": [{"id": k} for k in keys]}
    with app.test_request_context("/datafiles/"):
        g.subdomain = None
        lean, plain = dumped_both_ways(OddPage, page)
    assert lean == plain
    assert "a%20b" in lean


def telescope_dataset(client, alice) -> dict:
    """A dataset of a telescope at a site: its frames get night logs and observations."""
    site = client.post(
        "/observingsites/", json={"name": "OHP", "time_zone": "UTC"}, headers=alice.api
    ).json
    scope = client.post(
        "/telescopes/", json={"name": "T", "observing_site": site["uuid"]}, headers=alice.api
    ).json
    dataset = client.post(
        "/datasets/", json={"name": "M31", "telescope": scope["uuid"]}, headers=alice.api
    ).json
    return dataset


def test_real_data_files_dump_as_marshmallow_does(app, client, alice, tmp_path):
    """Rows as the repo returns them, from real uploads: a FITS light (header read), a
    file that is no FITS (no preview), both in the personal and the portal form."""
    dataset = telescope_dataset(client, alice)
    cards = [("IMAGETYP", "LIGHT"), ("OBJECT", "M31"), ("DATE-OBS", "2024-03-01T21:00:00")]
    cards += [("EXPTIME", 30), ("FILTER", "Ha"), ("XBINNING", 2), ("YBINNING", 2)]
    light = write_fits(tmp_path / "light.fits", cards).read_bytes()
    for body, name in ((light, "light.fits"), (b"just text", "notes.txt")):
        sent = {"dataset": dataset["uuid"], "file": (io.BytesIO(body), name), "tags": "a,b"}
        assert client.post("/datafiles/", data=sent, headers=alice.upload).status_code == 201
    listed = client.get("/datafiles/", headers=alice.api).json["results"]
    assert {f["preview"] is None for f in listed} == {True, False}
    schema_class = next(s for s in page_schemas(app) if s.__name__ == "DataFilePageSchema")
    for path, subdomain in (("/datafiles/", None), ("/lesud/datafiles/", "lesud")):
        with app.test_request_context(path):
            g.subdomain = subdomain
            count, rows = datafiles.list_(get_db(), alice.account["id"], {}, 100, 0, None, None)
            page = {"count": count, "next": None, "previous": None, "results": rows}
            lean, plain = dumped_both_ways(schema_class, page)
        assert lean == plain
        results = json.loads(lean)["results"]
        if subdomain is None:
            assert results == listed  # and what the list route answers
        else:
            assert all("/lesud/datafiles/" in f["file"] for f in results)


@pytest.mark.parametrize("variant", ["set", "null", "other"])
def test_the_calibration_matches_dump_as_marshmallow_does(app, variant):
    """The other answer of many data files (resources/datafiles.CalibrationMatchesSchema)."""
    from arcsec_flask.resources.datafiles import CalibrationMatchesSchema, MatchedDataFileSchema

    assert issubclass(CalibrationMatchesSchema, LeanSchema)
    rows = [row_for(MatchedDataFileSchema(), variant) for _ in range(2)]
    for row, kind in zip(rows, ("bias", "dark"), strict=True):
        row["match"] = {"kind": kind, "master": False, "delta_time": -60.0, "reason": "r"}
    answer = {
        "light": 3, "window_days": 30, "scope": {"telescope": UUID, "instrument": None},
        "bias": rows[:1], "dark": rows[1:], "flat": [], "dark_flat": [],
    }  # fmt: skip
    with app.test_request_context("/datafiles/3/calibrations/", base_url="https://arc.example"):
        g.subdomain = None
        lean, plain = dumped_both_ways(CalibrationMatchesSchema, answer)
    assert lean == plain


@pytest.mark.parametrize("variant", ["set", "null", "other"])
@pytest.mark.parametrize("subdomain", [None, "lesud"])
def test_one_data_file_dumps_as_marshmallow_does(app, variant, subdomain):
    """Every answer of one data file (an upload's, a GET's, a PATCH's) takes the lean path."""
    from arcsec_flask.resources.datafiles import DataFileSchema

    assert issubclass(DataFileSchema, LeanSchema)
    row = row_for(DataFileSchema(), variant)
    prefix = f"/{subdomain}" if subdomain else ""
    with app.test_request_context(f"{prefix}/datafiles/", base_url="https://arc.example"):
        g.subdomain = subdomain
        lean, plain = dumped_both_ways(DataFileSchema, row)
    assert lean == plain
    assert json.loads(lean)["file"].startswith(f"https://arc.example{prefix}/datafiles/12345/")


def test_an_upload_answers_what_a_get_of_it_answers(client, alice, tmp_path):
    dataset = telescope_dataset(client, alice)
    cards = [("IMAGETYP", "LIGHT"), ("OBJECT", "M31"), ("DATE-OBS", "2024-03-01T21:00:00")]
    light = write_fits(tmp_path / "light.fits", [*cards, ("EXPTIME", 30)]).read_bytes()
    sent = {"dataset": dataset["uuid"], "file": (io.BytesIO(light), "light.fits"), "tags": "a"}
    made = client.post("/datafiles/", data=sent, headers=alice.upload)
    assert made.status_code == 201
    got = client.get(f"/datafiles/{made.json['id']}/", headers=alice.api).json
    assert made.json == got
    assert got["observation"] and got["night_log"] and got["exposure_time"] == 30
