"""arcsec_flask: a self-hosted observatory data server speaking the Arcsecond API."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, g
from werkzeug.exceptions import NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import RequestRedirect

from . import config as settings_module

__version__ = "0.1.0"


class ArcsecFlask(Flask):
    def raise_routing_exception(self, request):
        # A path without its trailing slash is a 404, not a redirect (docs/API.md §1).
        exc = request.routing_exception
        if isinstance(exc, RequestRedirect):
            raise NotFound()
        super().raise_routing_exception(request)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then ARCSEC_* environment variables, then `config`."""
    app = ArcsecFlask(__name__)
    settings = settings_module.load(config, os.environ)
    settings_module.prepare_data_dir(settings)
    app.config.update(settings)
    app.config.update(
        API_TITLE="arcsec_flask",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        API_SPEC_OPTIONS={"security": [{"ApiKey": []}]},
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs/",
        # Relative: resolves under /docs/ whatever path prefix the proxy adds.
        OPENAPI_SWAGGER_UI_URL="static/",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="arcsec_session",
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False
    if app.config["PROXY_FIX"]:
        n = int(app.config["PROXY_FIX"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)

    @app.url_value_preprocessor
    def pull_subdomain(_endpoint: str | None, values: dict | None) -> None:
        g.subdomain = values.pop("subdomain", None) if values else None

    from . import browse, cli, resources
    from .web import auth, db, errors, multipart, security, storage

    db.init_app(app)
    storage.init_app(app)
    multipart.init_app(app)
    resources.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    browse.init_app(app)
    security.init_app(app)
    cli.init_app(app)
    return app
