"""Identifiers and timestamps as the API writes them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


def now() -> str:
    """The current time as ISO 8601 UTC with a Z, as Django REST framework writes it."""
    return iso_utc(datetime.now(UTC))


def iso_utc(instant: datetime) -> str:
    """An aware datetime as ISO 8601 UTC with microseconds and a Z (four-digit years: a
    header may say year 1, which strftime's %Y writes as "1")."""
    return instant.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def new_uuid() -> str:
    return str(uuid.uuid4())


def canonical_uuid(value: object) -> str | None:
    """`value` when it is a lower-case hyphenated UUID, else None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return None
    text = str(parsed)
    return text if text == value else None
