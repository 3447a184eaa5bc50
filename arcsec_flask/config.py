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
    # True: the session cookie is always Secure. False: Secure whenever the request came
    # over https (behind nginx, with ARCSEC_PROXY_FIX trusting X-Forwarded-Proto).
    "SESSION_COOKIE_SECURE": False,
    # Every body but an upload's is read into memory: at most this many bytes (413 above).
    "MAX_BODY_BYTES": 4 * 1024 * 1024,
    # Comma-separated host names the server answers to (absolute URLs are built from the
    # Host header); empty: any. A leading dot allows subdomains (".example.org").
    "ALLOWED_HOSTS": "",
    # Where the stored files live: "file" (FILES_DIR) or "s3" (the bucket below; the
    # credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, as boto3 reads them).
    "STORAGE": "file",
    "S3_ENDPOINT_URL": "",  # empty: AWS itself
    "S3_BUCKET": "",
    "S3_REGION": "",
    # Uploads stream into multipart uploads of parts this large (S3's minimum: 5 MiB).
    "S3_PART_SIZE": 8 * 1024 * 1024,
    # How long a presigned download URL stays valid; 0: no redirect, the app streams the
    # object itself (Range supported).
    "S3_PRESIGN_SECONDS": 300,
    # Calibration frames are matched to a light within this many days either side of it.
    "CALIBRATION_WINDOW_DAYS": 30,
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
    hosts = settings["ALLOWED_HOSTS"]
    if isinstance(hosts, str):
        hosts = [h.strip() for h in hosts.split(",") if h.strip()]
    settings["ALLOWED_HOSTS"] = list(hosts)
    # Flask refuses (400) a request whose Host is not one of these, before any URL is built.
    settings["TRUSTED_HOSTS"] = settings["ALLOWED_HOSTS"] or None
    _check_storage(settings)
    if not 1 <= int(settings["CALIBRATION_WINDOW_DAYS"]) <= 36500:
        raise ValueError("ARCSEC_CALIBRATION_WINDOW_DAYS must be from 1 to 36500 (days).")
    return settings


def _check_storage(settings: Mapping[str, Any]) -> None:
    """A wrong storage setting stops the start (nothing is contacted here)."""
    kind = settings["STORAGE"]
    if kind not in ("file", "s3"):
        raise ValueError(f"ARCSEC_STORAGE must be 'file' or 's3', not {kind!r}.")
    if kind != "s3":
        return
    if not settings["S3_BUCKET"]:
        raise ValueError("ARCSEC_STORAGE=s3 needs ARCSEC_S3_BUCKET.")
    if int(settings["S3_PART_SIZE"]) < 5 * 1024 * 1024:
        raise ValueError("ARCSEC_S3_PART_SIZE must be at least 5 MiB (5242880), S3's minimum.")
    if not 0 <= int(settings["S3_PRESIGN_SECONDS"]) <= 7 * 24 * 3600:
        raise ValueError(
            "ARCSEC_S3_PRESIGN_SECONDS must be from 0 (no redirect) to 604800 (7 days)."
        )


def prepare_data_dir(settings: dict[str, Any]) -> None:
    """Create the data folders and the secret key on first start."""
    data_dir = Path(settings["DATA_DIR"])
    # Only its owner lists or enters it (the database, the secret key, backups). With
    # X-Accel-Redirect, nginx's own user must pass through it to files/: 0711.
    data_dir.mkdir(
        parents=True, exist_ok=True, mode=0o711 if settings["X_ACCEL_REDIRECT"] else 0o700
    )
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
