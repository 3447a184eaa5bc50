"""Previews of frames as PNG: the first image of a FITS or XISF upload, shrunk and stretched.

`render_preview` is the one entry point. The file is recognised as headers/ recognises it
(FITS or XISF, plain or wrapped in gzip, bzip2 or a one-member zip; `.fz` tiles too), its
first image is read once, front to back, in row chunks and shrunk by block means as it goes
(reduce.py), then stretched with zscale (stretch.py) and written as an 8-bit PNG
(encode.py). Memory stays at a few chunks of rows plus the shrunk image, whatever the frame's
size, except for compressed XISF blocks (held decompressed: xisfimage.py).
"""

import logging
import os

from ..headers.detect import claimed_format
from ..headers.model import HeaderError
from ..headers.unwrap import open_content
from .encode import encode_png
from .fitsimage import fits_raster
from .reduce import reduce_raster
from .source import PreviewError, Source
from .stretch import stretch
from .xisfimage import xisf_raster

__all__ = ["MAX_SIZE", "PreviewError", "render_preview"]

MAX_SIZE = 1024  # pixels on the long side of a preview

log = logging.getLogger(__name__)


def render_preview(
    path: str | os.PathLike[str],
    filename: str,
    content_type: str | None = None,
    max_size: int = MAX_SIZE,
) -> bytes | None:
    """PNG bytes of the first image in the stored file at `path`, uploaded as `filename` with
    `content_type`; at most `max_size` pixels on its long side, aspect ratio kept.

    None when there is no image to show: neither FITS nor XISF, no 2-D image in any HDU, or
    a damaged file (the reason is logged at debug level). Errors opening or reading the
    stored file itself are the server's and are not caught.
    """
    if max_size < 1:
        raise ValueError(f"max_size must be at least 1, not {max_size}")
    name = filename.replace("\\", "/").rpartition("/")[2]
    with open(path, "rb") as raw:
        size = os.fstat(raw.fileno()).st_size
        if size == 0:
            log.debug("no preview of %s: the file is empty", name)
            return None
        try:
            with open_content(raw, name, size) as content:
                claimed = claimed_format(content.head, content.name, content_type)
                if content.stream is None or claimed == "other":
                    raise PreviewError(content.problem or "the file is neither FITS nor XISF")
                if content.compression is None:
                    raw.seek(0)
                    source = Source(raw, size, raw)
                else:
                    source = Source(content.stream, content.size)
                if claimed == "xisf":
                    raster = xisf_raster(source)
                else:
                    raster = fits_raster(source, os.fspath(path))
                reduced, preview_size = reduce_raster(raster, max_size)
        except (PreviewError, HeaderError) as exc:
            log.debug("no preview of %s: %s", name, exc)
            return None
    if raster.bottom_up:
        reduced = reduced[:, ::-1]  # FITS row 1 is the bottom: show it as ds9 does
    return encode_png(stretch(reduced), preview_size)
