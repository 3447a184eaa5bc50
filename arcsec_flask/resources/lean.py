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
ValueOf = Callable[[Row, dict[int, Any]], Any]  # a field's JSON value, or `missing`

# How a field's value becomes its JSON value (the kinds of a compiled plan).
COPY, TEXT, INTEGER, FLOAT, CALL, NESTED, MANY, ROWS, ROW_URL, WHOLE = range(10)


def compile_dumper(schema: Schema) -> Callable[..., Row]:
    """A function of one row giving what `schema.dump(row)` gives, for rows that are dicts.
    Call it within the request (row URLs are built against it); `urls` keeps each
    RowURL's page builder from one row to the next."""
    if schema._hooks["pre_dump"] or schema._hooks["post_dump"] or schema.many:
        return lambda row, urls=None: schema.dump(row)
    accessor = schema.get_attribute
    steps = [_step(n, f) for n, f in schema.dump_fields.items()]
    plan = [(key, _value_of(source, kind, how, accessor)) for key, source, kind, how in steps]

    def by_plan(row: Row, urls: dict[int, Any]) -> Row:
        out = {}
        for key, value_of in plan:
            value = value_of(row, urls)
            if value is not missing:
                out[key] = value
        return out

    return _generated(steps, plan, by_plan)


# A plain field's value in the generated dump: None as it is, another type converted.
_INLINE = {
    COPY: "row[{source}]",
    TEXT: "(v if (v := row[{source}]) is None or v.__class__ is str else str(v))",
    INTEGER: "(v if (v := row[{source}]) is None or v.__class__ is int else int(v))",
    FLOAT: "(v if (v := row[{source}]) is None or v.__class__ is float else float(v))",
}


def _generated(
    steps: list[tuple[str, str, int, Any]], plan: list[tuple[str, ValueOf]], by_plan: Any
) -> Callable[..., Row]:
    """The plan as one generated function building the row's dict in one display: no call
    per plain field (a page of 100 data files made ~6,000 of them). A row lacking a plain
    field's key (a KeyError) goes by the plan, which leaves that key out as marshmallow
    does; other steps are the plan's own functions, their `missing` removed after."""
    names: dict[str, Any] = {"by_plan": by_plan, "missing": missing}
    items, optional = [], []
    for i, ((key, source, kind, _), (_, value_of)) in enumerate(zip(steps, plan, strict=True)):
        inline = _INLINE.get(kind)
        if inline is not None:
            items.append(f"{key!r}: {inline.format(source=repr(source))}")
        else:
            names[f"step{i}"] = value_of
            items.append(f"{key!r}: step{i}(row, urls)")
            optional.append(key)
    lines = [
        "def dump(row, urls=None):",
        "    if urls is None:",
        "        urls = {}",
        "    try:",
        f"        out = {{{', '.join(items)}}}",
        "    except KeyError:",
        "        return by_plan(row, urls)",
        *(f"    if out[{key!r}] is missing:\n        del out[{key!r}]" for key in optional),
        "    return out",
    ]
    exec(compile("\n".join(lines), "<lean dump>", "exec"), names)  # code from our schemas
    return names["dump"]


def _value_of(source: str, kind: int, how: Any, accessor: Any) -> ValueOf:
    """One field's step of the plan: its JSON value from the row."""
    if kind == ROW_URL:  # the page's builder, made on the first row
        ident = id(how)

        def row_url(row: Row, urls: dict[int, Any]) -> Any:
            builder = urls.get(ident)
            if builder is None:
                builder = urls[ident] = how.page_builder()
            return builder(row)

        return row_url
    if kind == WHOLE:  # a field marshmallow serializes itself (Function, Method...)
        return lambda row, urls: how.serialize(source, row, accessor=accessor)
    if kind == CALL:  # the field's own _serialize, None included
        return lambda row, urls: (
            v if (v := row.get(source, missing)) is missing else how(v, source, row)
        )
    convert = _CONVERT[kind](how)

    def value(row: Row, urls: dict[int, Any]) -> Any:
        v = row.get(source, missing)
        return v if v is missing or v is None else convert(v, urls)

    return value


def _text(v: Any) -> Any:
    return v if v.__class__ is str else str(v)


# A value that is neither missing nor None, to its JSON value (`how`: the step's helper).
_CONVERT: dict[int, Callable[[Any], Callable[[Any, dict[int, Any]], Any]]] = {
    COPY: lambda how: lambda v, urls: v,
    TEXT: lambda how: lambda v, urls: _text(v),
    INTEGER: lambda how: lambda v, urls: v if v.__class__ is int else int(v),
    FLOAT: lambda how: lambda v, urls: v if v.__class__ is float else float(v),
    NESTED: lambda how: lambda v, urls: how(v, urls),
    MANY: lambda how: lambda v, urls: [how(e) for e in v],
    ROWS: lambda how: lambda v, urls: [None if e is None else how(e, urls) for e in v],
}


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
