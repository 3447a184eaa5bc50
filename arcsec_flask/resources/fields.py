"""Marshmallow fields and validators shared by the resource schemas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import g, request, url_for
from marshmallow import ValidationError, fields, validate

from ..domain.ids import canonical_uuid

# Free text limits (docs/API.md §5), in characters. Names are 200 or 500 (as each schema
# says); descriptions and notes TEXT_MAX; a tag TAG_MAX, and at most TAGS_MAX of them.
TEXT_MAX = 100_000
TAG_MAX = 100
TAGS_MAX = 1000
# What werkzeug's default (string) converter leaves unquoted in a path segment.
PATH_SAFE = "!$&'()*+,/:;=@"


class UUIDString(fields.String):
    """A reference by UUID, kept as its lower-case string; malformed values are 400s."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        canonical = canonical_uuid(text.lower()) if text else None
        if canonical is None:
            raise ValidationError("Must be a valid UUID.")
        return canonical


def not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("This field may not be blank.")


class Tags(fields.List):
    def __init__(self, **kwargs):
        kwargs.setdefault("validate", validate.Length(max=TAGS_MAX))
        tag = fields.String(validate=[not_blank, validate.Length(max=TAG_MAX)])
        super().__init__(tag, **kwargs)


class CommaTags(fields.Field):
    """Tags as one comma-separated string, or as the part repeated."""

    is_multiple = True  # webargs hands over every value of a repeated form part

    def _deserialize(self, value, attr, data, **kwargs):
        values = value if isinstance(value, list) else [value]
        tags = [t.strip() for v in values for t in str(v).split(",")]
        tags = [t for t in tags if t]
        if len(tags) > TAGS_MAX:
            raise ValidationError(f"At most {TAGS_MAX} tags.")
        if any(len(t) > TAG_MAX for t in tags):
            raise ValidationError(f"A tag has at most {TAG_MAX} characters.")
        return tags


class RowURL(fields.Function):
    """The absolute URL of one of the row's views (e.g. a data file's content), in the
    current blueprint (personal or portal). Dumped by marshmallow, one `url_for` a row; a
    page dump (resources/lean.py) builds every row's from one `url_for` a page instead.
    `when(row)` false: null."""

    MARK = "ARCSEC-ROW-KEY"  # stands in for the row's key in the page's one url_for

    def __init__(
        self,
        view: str,
        argument: str,
        key: str,
        when: Callable[[dict[str, Any]], bool] | None = None,
        **kwargs: Any,
    ) -> None:
        self.view, self.argument, self.key, self.when = view, argument, key, when
        super().__init__(self._one, **kwargs)

    def _url(self, value: Any) -> str:
        values = {"subdomain": g.subdomain} if g.subdomain else {}
        endpoint = f"{request.blueprint}.{self.view}"
        return url_for(endpoint, _external=True, **{self.argument: value}, **values)

    def _one(self, row: dict[str, Any]) -> str | None:
        if self.when is not None and not self.when(row):
            return None
        return self._url(row[self.key])

    def page_builder(self) -> Callable[[dict[str, Any]], str | None]:
        """The row's URL as `_one` gives it, from this request's one `url_for`: the path
        argument is quoted as werkzeug's default converter quotes it."""
        head, mark, tail = self._url(self.MARK).rpartition(self.MARK)
        if not mark:  # not a plain path segment after all: one url_for a row
            return self._one
        when, key = self.when, self.key

        def build(row: dict[str, Any]) -> str | None:
            if when is not None and not when(row):
                return None
            value = row[key]
            text = value if value.__class__ is str else str(value)
            if not text.isascii() or not text.replace("-", "").isalnum():
                text = quote(text, safe=PATH_SAFE)
            return f"{head}{text}{tail}"

        return build
