"""Pagination as Django REST framework answers it: count, next, previous, results.

`?page=N` reads page N by skipping rows (on an index, so it stays correct and cheap
enough). Past the first PLAIN_ROWS rows, the `next` and `previous` links of a list that
supports it also carry an opaque `cursor` (the id the page starts after, or ends before):
walking a list then costs the same on every page, page 50,000 as page 2 (docs/API.md §4).
Links to the first pages stay plain `?page=N`: skipping a few hundred index entries costs
microseconds, and those are the links people read and share.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import current_app, request

from ..domain.errors import NotFound

# fetch(filters, limit, offset) or, for keyset lists, fetch(filters, limit, offset, after,
# before) -> (count, rows); rows are dicts with an "id", in id order.
Fetch = Callable[..., tuple[int, list[dict[str, Any]]]]

PLAIN_ROWS = 1000
CURSOR = re.compile(r"([ab])([1-9][0-9]{0,17})")
INVALID_CURSOR = "Invalid cursor."


def paginate(args: dict[str, Any], fetch: Fetch, keyset: bool = False) -> dict[str, Any]:
    """Run `fetch` for the page asked, and wrap it as DRF does. With `keyset`, `fetch`
    also takes `after` and `before` ids, and the links carry cursors."""
    args = dict(args)
    page = args.pop("page", 1)
    cursor = args.pop("cursor", None)
    args.pop("format", None)  # the page or JSON choice (browse/), not a filter
    size = args.pop("page_size", None) or current_app.config["PAGE_SIZE"]
    size = min(size, current_app.config["MAX_PAGE_SIZE"])
    if cursor is not None:
        if not keyset:
            raise NotFound(INVALID_CURSOR)
        return _keyset_page(args, fetch, page, size, *_decode(cursor))
    if keyset:  # one row more than the page tells whether another follows
        count, results = fetch(args, size + 1, (page - 1) * size, None, None)
    else:
        count, results = fetch(args, size, (page - 1) * size)
    if page > 1 and (page - 1) * size >= count:
        raise NotFound("Invalid page.")
    more = len(results) > size if keyset else page * size < count
    results = results[:size]
    return {
        "count": count,
        "next": _next(page, size, results, keyset) if more else None,
        "previous": _previous(page, size, results, keyset) if page > 1 else None,
        "results": results,
    }


def _keyset_page(
    args: dict[str, Any], fetch: Fetch, page: int, size: int, direction: str, key: int
) -> dict[str, Any]:
    """The page after (or before) the row `key`, numbered `page` in its links."""
    after, before = (key, None) if direction == "a" else (None, key)
    count, results = fetch(args, size + 1, 0, after, before)
    if direction == "a":
        more_after, more_before = len(results) > size, page > 1
        results = results[:size]
    else:
        more_after, more_before = True, len(results) > size
        results = results[-size:] if results else []
    if not results:  # the rows around the cursor went away meanwhile
        return {"count": count, "next": None, "previous": None, "results": []}
    return {
        "count": count,
        "next": _next(page, size, results, True) if more_after else None,
        "previous": _previous(page, size, results, True) if more_before and page > 1 else None,
        "results": results,
    }


def _next(page: int, size: int, results: list[dict[str, Any]], keyset: bool) -> str:
    if not keyset or not results or page * size < PLAIN_ROWS:
        return _page_url(page + 1)
    return _page_url(page + 1, _encode("a", results[-1]["id"]))


def _previous(page: int, size: int, results: list[dict[str, Any]], keyset: bool) -> str:
    if not keyset or not results or (page - 2) * size < PLAIN_ROWS:
        return _page_url(page - 1)
    return _page_url(page - 1, _encode("b", results[0]["id"]))


def _encode(direction: str, key: int) -> str:
    return base64.urlsafe_b64encode(f"{direction}{key}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[str, int]:
    """("a" after | "b" before, id) from a cursor this module wrote; a 404 for any other,
    as DRF answers an invalid cursor."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise NotFound(INVALID_CURSOR) from None
    found = CURSOR.fullmatch(text)
    if found is None:
        raise NotFound(INVALID_CURSOR)
    return found[1], int(found[2])


def _page_url(page: int, cursor: str | None = None) -> str:
    query = request.args.to_dict(flat=False)
    query["page"] = [str(page)]
    query.pop("cursor", None)
    if cursor is not None:
        query["cursor"] = [cursor]
    return f"{request.base_url}?{urlencode(query, doseq=True)}"
