"""Marshmallow fields and validators shared by the resource schemas."""

from __future__ import annotations

from marshmallow import ValidationError, fields

from ..domain.ids import canonical_uuid


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
        super().__init__(fields.String(validate=not_blank), **kwargs)


class CommaTags(fields.Field):
    """Tags as one comma-separated string, or as the part repeated."""

    is_multiple = True  # webargs hands over every value of a repeated form part

    def _deserialize(self, value, attr, data, **kwargs):
        values = value if isinstance(value, list) else [value]
        tags = [t.strip() for v in values for t in str(v).split(",")]
        return [t for t in tags if t]
