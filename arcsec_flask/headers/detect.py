"""Which format a file is in and how it is compressed, from its first bytes, name and MIME type."""

import filetype

from .model import Compression, Format

FITS_EXTENSIONS = frozenset(
    {"fits", "fit", "fts", "ft", "mt", "imfits", "imfit", "uvfits", "uvfit"}
    | {"pha", "rmf", "arf", "rsp", "pi", "fz"}
)
FITS_MIME_TYPES = frozenset({"image/fits", "application/fits"})
COMPRESSION_SUFFIXES: dict[str, Compression] = {
    ".gz": "gzip",
    ".gzip": "gzip",
    ".bz2": "bzip2",
    ".bzip2": "bzip2",
    ".zip": "zip",
}
XISF_SIGNATURE = b"XISF0100"
FITS_SIGNATURE = b"SIMPLE  ="
# Enough bytes for every signature here and for the `filetype` library's matchers.
HEAD_SIZE = 8192


def compression_by_magic(head: bytes) -> Compression | None:
    """The compression named by the first bytes, or None."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bzip2"
    # A local file header, or the end record alone of an archive without members.
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    return None


def split_compression_suffix(name: str) -> tuple[str, Compression | None]:
    """`m31.fits.gz` -> (`m31.fits`, "gzip"); a name without such a suffix is returned as is."""
    lowered = name.lower()
    for suffix, compression in COMPRESSION_SUFFIXES.items():
        if lowered.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], compression
    return name, None


def extension(name: str) -> str:
    """The lower-case extension without its dot ('' when there is none)."""
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def named_fits(name: str) -> bool:
    return extension(name) in FITS_EXTENSIONS


def mime_says_fits(content_type: str | None) -> bool:
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() in FITS_MIME_TYPES


def has_fits_signature(head: bytes) -> bool:
    return head.startswith(FITS_SIGNATURE)


def has_xisf_signature(head: bytes) -> bool:
    return head.startswith(XISF_SIGNATURE)


def inferred_fits(head: bytes) -> bool:
    """Whether the `filetype` library infers FITS from the content."""
    try:
        mime = filetype.guess_mime(head)
    except (TypeError, ValueError):
        return False
    return mime in FITS_MIME_TYPES


def claimed_format(head: bytes, name: str, content_type: str | None) -> Format:
    """The format the file claims: by content first, then by MIME type or name.

    XISF is recognised by its signature only; FITS also by inference, MIME type or extension.
    """
    if has_xisf_signature(head):
        return "xisf"
    if (
        has_fits_signature(head)
        or inferred_fits(head)
        or mime_says_fits(content_type)
        or named_fits(name)
    ):
        return "fits"
    return "other"
