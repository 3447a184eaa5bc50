"""Rules for names: the words of the API's paths that no portal may take, organisation
subdomains, and the base names uploaded files are filed under."""

from __future__ import annotations

import re
import unicodedata

from .errors import Invalid

# Every list route, in the order the API root shows them; each also lives under a portal.
RESOURCES = (
    "observingsites",
    "telescopes",
    "datasets",
    "datafiles",
    "nightlogs",
    "observations",
    "calibrations",
    "datapackages",
    "targets",
    "targetlists",
)
# Routes that are never under a portal.
# "browse": the pages' own stylesheet, /browse/static/.
TOP_LEVEL = (
    "auth",
    "organisations",
    "profiles",
    "healthcheck",
    "docs",
    "openapi.json",
    "static",
    "browse",
)
# A portal named like any of these would be shadowed by (or shadow) a route; the last few
# are Arcsecond's own resources and names, kept free for what may come.
RESERVED = frozenset(
    RESOURCES
    + TOP_LEVEL
    + ("datapackages", "members", "targets", "targetlists", "api", "admin", "www")
)
SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
MAX_NAME_BYTES = 255


def check_subdomain(subdomain: str) -> None:
    """Invalid unless `subdomain` is a DNS label of ours that no route uses."""
    if not SUBDOMAIN.match(subdomain) or subdomain in RESERVED:
        raise Invalid(
            f"'{subdomain}' is not a valid subdomain: lower-case letters, digits and '-'"
            " (not a reserved word).",
            {"subdomain": ["Invalid subdomain."]},
        )


def clean_name(text: str) -> str:
    """`text` without its invisible format characters (Unicode category Cf): the
    bidirectional controls (U+202A-202E, U+2066-2069), which make `evil\u202eSTIF.exe`
    show as `evilexe.FITS`, the zero-width ones (U+200B-200F, U+2060, U+FEFF) and the rest.
    Removed rather than refused (docs/API.md §8): the real client aborts a night's upload
    at its second refusal, and a name is still the same name without them."""
    if text.isascii():
        return text
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def base_name(filename: str | None) -> str:
    """The client's file name without any folder part or invisible format characters;
    refuses names that are not one."""
    name = clean_name((filename or "").replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if name in ("", ".", ".."):
        raise Invalid("The file needs a name.", {"file": ["The file has no usable name."]})
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise Invalid(
            "File names may not hold NUL or control characters.",
            {"file": ["The file name holds control characters."]},
        )
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise Invalid("The file name is too long.", {"file": ["At most 255 bytes."]})
    return name
