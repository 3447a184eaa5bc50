"""Factory fixtures writing FITS and XISF files in tmp_path (see factories.py)."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.factories import LIGHT_CARDS, write_fits, write_xisf


@pytest.fixture
def fits_file(tmp_path: Path) -> Callable[..., Path]:
    """fits_file(name="light.fits", cards=LIGHT_CARDS, data=None, compress=None) -> Path"""

    def make(name: str = "light.fits", cards: Any = None, **options: Any) -> Path:
        return write_fits(tmp_path / name, LIGHT_CARDS if cards is None else cards, **options)

    return make


@pytest.fixture
def xisf_file(tmp_path: Path) -> Callable[..., Path]:
    """xisf_file(name="light.xisf", fits_keywords=LIGHT_CARDS, properties=None,
    image_type=None) -> Path"""

    def make(name: str = "light.xisf", fits_keywords: Any = None, **options: Any) -> Path:
        keywords = LIGHT_CARDS if fits_keywords is None else fits_keywords
        return write_xisf(tmp_path / name, keywords, **options)

    return make


@pytest.fixture
def raw_file(tmp_path: Path) -> Callable[[str, bytes], Path]:
    """raw_file(name, content) -> Path: a file holding exactly `content`."""

    def make(name: str, content: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(content)
        return path

    return make
