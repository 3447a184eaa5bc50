"""Marshmallow fields and validators shared by the resource schemas."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate

from ..domain.ids import canonical_uuid

# Free text limits (docs/API.md §5), in characters. Names are 200 or 500 (as each schema
# says); descriptions and notes TEXT_MAX; a tag TAG_MAX, and at most TAGS_MAX of them.
TEXT_MAX = 100_000
TAG_MAX = 100
TAGS_MAX = 1000


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
