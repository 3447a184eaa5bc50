"""The first path segments of the API: the resources, and every word a portal may not take."""

from __future__ import annotations

# Every list route, in the order the API root shows them; each also lives under a portal.
RESOURCES = (
    "observingsites",
    "telescopes",
    "datasets",
    "datafiles",
    "nightlogs",
    "observations",
    "calibrations",
)
# Routes that are never under a portal.
TOP_LEVEL = ("auth", "organisations", "profiles", "healthcheck", "docs", "openapi.json", "static")
# A portal named like any of these would be shadowed by (or shadow) a route; the last few
# are Arcsecond's own resources and names, kept free for what may come.
RESERVED = frozenset(RESOURCES + TOP_LEVEL + ("datapackages", "members", "api", "admin", "www"))
