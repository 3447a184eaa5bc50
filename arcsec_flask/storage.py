"""Stored files: where they live and how they are written and removed."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)


def remove(files_dir: str | os.PathLike, relative_paths: Iterable[str]) -> None:
    """Remove stored files after their rows are gone; a missing file is not an error."""
    root = Path(files_dir)
    for relative in relative_paths:
        try:
            (root / relative).unlink()
        except FileNotFoundError:
            pass
        except OSError:
            log.exception("Could not remove stored file %s", relative)
