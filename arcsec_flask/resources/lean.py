"""A list page dumped without marshmallow's per-row machinery, to the same JSON.

marshmallow's `Schema.dump` costs, per field of every row, a `serialize` call, an accessor
and a `_serialize` dispatch; for a page of 100 data files that was half of a request (and
two `url_for` per row a fifth of it). The schemas stay the source of the OpenAPI document
and of input validation: `compile_dumper(schema)` reads a schema's dump fields once and
returns a function of a row that copies what marshmallow only copies (strings, integers,
floats, booleans, lists of them, nested schemas compiled the same way), builds row URLs
from one `url_for` per page (fields.RowURL), and hands any other field to marshmallow
itself. A schema with dump hooks is dumped by marshmallow whole. tests/resources/
test_lean_dump.py holds the two paths equal for every schema a list answers with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields
from marshmallow.utils import missing

from .fields import RowURL

Row = dict[str, Any]
Dumper = Callable[[Any], Any]

# How a field's value becomes its JSON value (the kinds of a compiled plan).
COPY, TEXT, INTEGER, FLOAT, CALL, NESTED, MANY, ROWS, ROW_URL, WHOLE = range(10)


def compile_dumper(schema: Schema) -> Callable[..., Row]:
    """A function of one row giving what `schema.dump(row)` gives, for rows that are dicts.
    Call it within the request (row URLs are built against it); `urls` keeps each
    RowURL's page builder from one row to the next."""
    if schema._hooks["pre_dump"] or schema._hooks["post_dump"] or schema.many:
        return lambda row, urls=None: schema.dump(row)
    plan = [_step(name, field) for name, field in schema.dump_fields.items()]
    names: dict[str, Any] = {"M": missing, "accessor": schema.get_attribute}
    lines = ["def dump(row, urls=None):", "    out = {}", "    get = row.get"]
    lines += (
        ["    if urls is None:", "        urls = {}"] if any(p[2] == ROW_URL for p in plan) else []
    )
    for number, (key, source, kind, how) in enumerate(plan):
        names[f"how{number}"] = how
        lines += _source(repr(key), repr(source), kind, f"how{number}", id(how))
    lines.append("    return out")
    # One function per schema, its fields unrolled: no loop over the plan, no dispatch on
    # the kind per row and field. Only names and keys of our own schemas reach the text.
    exec("\n".join(lines), names)
    return names["dump"]


def _source(key: str, source: str, kind: int, how: str, ident: int) -> list[str]:
    """The lines of the generated dump for one field (its value in `v`)."""
    if kind == ROW_URL:  # the page's builder, made on the first row
        return [
            f"    b = urls.get({ident})",
            "    if b is None:",
            f"        b = urls[{ident}] = {how}.page_builder()",
            f"    out[{key}] = b(row)",
        ]
    if kind == WHOLE:  # a field marshmallow serializes itself (Function, Method...)
        return [
            f"    v = {how}.serialize({source}, row, accessor=accessor)",
            f"    if v is not M: out[{key}] = v",
        ]
    value = {
        COPY: "v",
        TEXT: "v if v is None or v.__class__ is str else str(v)",
        INTEGER: "v if v is None or v.__class__ is int else int(v)",
        FLOAT: "v if v is None or v.__class__ is float else float(v)",
        NESTED: f"None if v is None else {how}(v, urls)",
        MANY: f"None if v is None else [{how}(e) for e in v]",
        ROWS: f"None if v is None else [None if e is None else {how}(e, urls) for e in v]",
        CALL: f"{how}(v, {source}, row)",
    }[kind]
    return [f"    v = get({source}, M)", f"    if v is not M: out[{key}] = {value}"]


def compile_page_dumper(page_schema: Schema) -> Callable[[Row], Row]:
    """The dump of a whole page (count, next, previous, results), row URLs built from one
    `url_for` per page and field."""
    dump_page = compile_dumper(page_schema)
    return lambda page: dump_page(page, {})


def _step(name: str, field: fields.Field) -> tuple[str, str, int, Any]:
    key = field.data_key if field.data_key is not None else name
    source = field.attribute or name
    if isinstance(field, RowURL):
        return key, source, ROW_URL, field
    simple = field._CHECK_ATTRIBUTE and "." not in source and field.dump_default is missing
    kind, how = _kind(field) if simple else (WHOLE, field)
    return key, source, kind, how


def _kind(field: fields.Field) -> tuple[int, Any]:
    serialize = type(field)._serialize
    if serialize is fields.Field._serialize:  # Raw, Boolean: the value as it is
        return COPY, None
    if serialize is fields.String._serialize:
        return TEXT, None
    number = serialize is fields.Number._serialize and not getattr(field, "as_string", True)
    if number and type(field)._format_num is fields.Number._format_num:  # type: ignore[attr-defined]
        num_type = field.num_type  # type: ignore[attr-defined]
        if num_type is int:
            return INTEGER, None
        if num_type is float:
            return FLOAT, None
    if serialize is fields.Nested._serialize and not field.many:  # type: ignore[attr-defined]
        nested = field.schema  # type: ignore[attr-defined]
        if not nested.many:
            return NESTED, compile_dumper(nested)
    if serialize is fields.List._serialize:
        inner = field.inner  # type: ignore[attr-defined]
        rows = type(inner)._serialize is fields.Nested._serialize and not inner.many
        if rows and not inner.schema.many:
            return ROWS, compile_dumper(inner.schema)
        kind, _ = _kind(inner)
        if kind in (COPY, TEXT) and inner.dump_default is missing:
            return MANY, _scalar(kind)
    return CALL, field._serialize


def _scalar(kind: int) -> Dumper:
    if kind == TEXT:
        return lambda value: value if value is None or value.__class__ is str else str(value)
    return lambda value: value
