"""Settings: defaults, then ARCSEC_* environment variables, then the mapping given."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "DATA_DIR": "instance",
    "DATABASE": "",  # default: DATA_DIR/arcsec.sqlite3
    "FILES_DIR": "",  # default: DATA_DIR/files
    "SECRET_KEY": "",  # default: generated once and kept in DATA_DIR/secret_key
    # How many reverse proxies to trust for X-Forwarded-For/-Proto/-Host/-Port/-Prefix.
    "PROXY_FIX": 0,
    # When set (e.g. "/protected/"), file downloads are handed to nginx with
    # X-Accel-Redirect: <prefix><storage path>.
    "X_ACCEL_REDIRECT": "",
    "PAGE_SIZE": 100,
    "MAX_PAGE_SIZE": 1000,
    "SESSION_COOKIE_SECURE": False,
}


def _coerce(value: str, like: Any) -> Any:
    if isinstance(like, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(like, int):
        return int(value)
    return value


def load(mapping: Mapping[str, Any] | None, environ: Mapping[str, str]) -> dict[str, Any]:
    settings = dict(DEFAULTS)
    for key, default in DEFAULTS.items():
        if f"ARCSEC_{key}" in environ:
            settings[key] = _coerce(environ[f"ARCSEC_{key}"], default)
    settings.update(mapping or {})
    data_dir = Path(settings["DATA_DIR"]).absolute()
    settings["DATA_DIR"] = str(data_dir)
    settings["DATABASE"] = str(settings["DATABASE"] or data_dir / "arcsec.sqlite3")
    settings["FILES_DIR"] = str(settings["FILES_DIR"] or data_dir / "files")
    return settings


def prepare_data_dir(settings: dict[str, Any]) -> None:
    """Create the data folders and the secret key on first start."""
    data_dir = Path(settings["DATA_DIR"])
    data_dir.mkdir(parents=True, exist_ok=True)
    Path(settings["FILES_DIR"]).mkdir(parents=True, exist_ok=True)
    Path(settings["DATABASE"]).parent.mkdir(parents=True, exist_ok=True)
    if not settings["SECRET_KEY"]:
        settings["SECRET_KEY"] = _stored_secret(data_dir / "secret_key")


def _stored_secret(path: Path) -> str:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return path.read_text().strip()
