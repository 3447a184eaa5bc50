"""The `preview` fixture: render a file and decode the PNG back into pixels."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from arcsec_flask.images import render_preview

from .pixels import decode


@pytest.fixture
def preview() -> Callable[..., tuple[np.ndarray, str]]:
    """preview(path, name=path.name, **options) -> (pixels, mode) of a preview that exists."""

    def render(path: Path, name: str | None = None, **options: Any) -> tuple[np.ndarray, str]:
        png = render_preview(path, name or path.name, **options)
        assert png is not None, f"no preview of {path.name}"
        return decode(png)

    return render
