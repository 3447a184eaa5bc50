"""The HTTP API: one flask-smorest blueprint per resource, in both URL forms."""

from __future__ import annotations

from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, send_from_directory

from . import (
    authkeys,
    calibrations,
    datafiles,
    datapackages,
    datasets,
    members,
    nightlogs,
    observations,
    organisations,
    profiles,
    root,
    sites,
    targetlists,
    targets,
    telescopes,
)
from .blueprint import Api, register
from .schemas import field_rules


def schema_name(schema) -> str | None:
    """OpenAPI component names: a partial (PATCH) schema gets its own name; a schema that
    says `INLINE = True` (a multipart body) is written in place."""
    cls = schema if isinstance(schema, type) else type(schema)
    if getattr(cls, "INLINE", False):
        return None
    name = cls.__name__.removesuffix("Schema")
    return f"Patch{name}" if getattr(schema, "partial", False) is True else name


def init_app(app: Flask) -> Api:
    plugin = MarshmallowPlugin(schema_name_resolver=schema_name)
    api = Api(app, spec_kwargs={"marshmallow_plugin": plugin})
    plugin.converter.add_attribute_function(field_rules)
    api.spec.components.security_scheme(
        "ApiKey", {"type": "apiKey", "in": "header", "name": "X-Arcsecond-API-Authorization"}
    )
    api.register_blueprint(root.blp, url_prefix="/")
    api.register_blueprint(authkeys.blp, url_prefix="/auth/key")
    register(api, organisations.blp, "organisations", portal=False)
    register(api, profiles.blp, "profiles", portal=False)
    register(api, sites.blp, "observingsites")
    register(api, telescopes.blp, "telescopes")
    register(api, datasets.blp, "datasets")
    register(api, datafiles.blp, "datafiles")
    register(api, nightlogs.blp, "nightlogs")
    register(api, observations.blp, "observations")
    register(api, calibrations.blp, "calibrations")
    register(api, datapackages.blp, "datapackages")
    register(api, targets.blp, "targets")
    register(api, targetlists.blp, "targetlists")
    register(api, members.blp, "members", personal=False)  # portal form only
    _serve_docs_assets(app)
    return api


def _serve_docs_assets(app: Flask) -> None:
    """Swagger UI's files from the installed swagger-ui-bundle: /docs/ works offline."""
    import swagger_ui_bundle

    def docs_static(filename: str):
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)

    app.add_url_rule("/docs/static/<path:filename>", "docs_static", docs_static)
