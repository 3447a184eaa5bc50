"""The app's storage backend: one per app (and process), made from the settings.

`create_app` makes it (a wrong setting stops the start; nothing is contacted); views and
the CLI reach it with `get_backend()`. A process forked after the app was built (gunicorn
--preload) makes its own: a boto3 client's connection pool is not shared across a fork.
"""

from __future__ import annotations

import os

from flask import Flask, current_app

from ..storage import Backend, LocalBackend, backend_from_config, sweep_stale_parts

EXTENSION = "arcsec_storage"


def init_app(app: Flask) -> None:
    backend = backend_from_config(app.config)
    app.extensions[EXTENSION] = (os.getpid(), backend)
    # A killed worker's parts are nobody's: swept at start (running uploads hold theirs);
    # not by the app of an `arcsec-flask` command (cli.main), so that `check` sees them.
    if isinstance(backend, LocalBackend) and app.config.get("SWEEP_PARTS_AT_START", True):
        swept = sweep_stale_parts(backend.files_dir)
        if swept:
            app.logger.warning("Removed %d upload parts left by a crash.", swept)


def backend_of(app: Flask) -> Backend:
    pid, backend = app.extensions[EXTENSION]
    if pid != os.getpid():
        backend = backend_from_config(app.config)
        app.extensions[EXTENSION] = (os.getpid(), backend)
    return backend


def get_backend() -> Backend:
    """The current app's backend."""
    return backend_of(current_app._get_current_object())  # type: ignore[attr-defined]
