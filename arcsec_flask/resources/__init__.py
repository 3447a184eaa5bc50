"""The HTTP API: one flask-smorest blueprint per resource."""

from __future__ import annotations

from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, send_from_directory
from flask_smorest import Api

from . import accounts, authkeys, datafiles, datasets, meta, nights, sites, telescopes
from .common import register


def schema_name(schema) -> str:  # noqa: ANN001 - a Schema class or instance
    """OpenAPI component names: a partial (PATCH) schema gets its own name."""
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__.removesuffix("Schema")
    return f"Patch{name}" if getattr(schema, "partial", False) is True else name


def init_app(app: Flask) -> Api:
    plugin = MarshmallowPlugin(schema_name_resolver=schema_name)
    api = Api(app, spec_kwargs={"marshmallow_plugin": plugin})
    api.spec.components.security_scheme(
        "ApiKey", {"type": "apiKey", "in": "header", "name": "X-Arcsecond-API-Authorization"}
    )
    api.register_blueprint(meta.blp, url_prefix="/")
    api.register_blueprint(authkeys.blp, url_prefix="/auth/key")
    register(api, accounts.organisations_blp, "organisations", portal=False)
    register(api, accounts.profiles_blp, "profiles", portal=False)
    register(api, sites.blp, "observingsites")
    register(api, telescopes.blp, "telescopes")
    register(api, datasets.blp, "datasets")
    register(api, datafiles.blp, "datafiles")
    register(api, nights.nightlogs_blp, "nightlogs")
    register(api, nights.observations_blp, "observations")
    register(api, nights.calibrations_blp, "calibrations")
    _serve_docs_assets(app)
    return api


def _serve_docs_assets(app: Flask) -> None:
    """Swagger UI's files from the installed swagger-ui-bundle: /docs/ works offline."""
    import swagger_ui_bundle

    def docs_static(filename: str):
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)

    app.add_url_rule("/docs/static/<path:filename>", "docs_static", docs_static)
