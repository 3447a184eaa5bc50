"""Running the real `arcsec-flask` console script in a subprocess, on a data folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.factories import write_fits

BIN = Path(sys.executable).parent / "arcsec-flask"


def env_for(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "ARCSEC_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}


def run(data_dir: Path, *args: object, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BIN, *map(str, args)],
        env=env_for(data_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(data_dir: Path, *args: object, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            [BIN, *map(str, args)], env=env_for(data_dir), stdout=out, stderr=subprocess.STDOUT
        )


def make_user(data_dir: Path, username: str = "alice") -> dict:
    done = run(data_dir, "users", "create", username, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def small_frame(path: Path, index: int, night: str = "2024-03-01") -> Path:
    """A small valid FITS light frame, different for every index (its own checksum)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    time = f"{night}T21:{index // 60 % 60:02d}:{index % 60:02d}"
    cards = {"IMAGETYP": "LIGHT", "OBJECT": "M31", "DATE-OBS": time, "FRAMENO": index}
    return write_fits(path, cards)
