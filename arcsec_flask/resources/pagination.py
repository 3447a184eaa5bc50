"""Pagination as Django REST framework answers it: count, next, previous, results."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import current_app, request

from ..domain.errors import NotFound

Fetch = Callable[[dict[str, Any], int, int], tuple[int, list[dict[str, Any]]]]


def paginate(args: dict[str, Any], fetch: Fetch) -> dict[str, Any]:
    """Run `fetch(filters, limit, offset)` for the page asked, and wrap it as DRF does."""
    args = dict(args)
    page = args.pop("page", 1)
    args.pop("format", None)  # the page or JSON choice (browse/), not a filter
    size = args.pop("page_size", None) or current_app.config["PAGE_SIZE"]
    size = min(size, current_app.config["MAX_PAGE_SIZE"])
    count, results = fetch(args, size, (page - 1) * size)
    if page > 1 and (page - 1) * size >= count:
        raise NotFound("Invalid page.")
    return {
        "count": count,
        "next": _page_url(page + 1) if page * size < count else None,
        "previous": _page_url(page - 1) if page > 1 else None,
        "results": results,
    }


def _page_url(page: int) -> str:
    query = request.args.to_dict(flat=False)
    query["page"] = [str(page)]
    return f"{request.base_url}?{urlencode(query, doseq=True)}"
