"""The API root and the health check."""

from __future__ import annotations

from flask import current_app, url_for
from flask.views import MethodView
from marshmallow import Schema, fields

from ..domain.names import RESOURCES
from ..repo.sqlite import ping
from ..web.db import get_db
from .blueprint import Blueprint

blp = Blueprint("root", __name__, description="The API root and health check.")

# Documented, so that the JSON answers are in the document next to their HTML pages.
RootSchema = Schema.from_dict(
    {name: fields.String(metadata={"format": "uri"}) for name in RESOURCES}, name="RootSchema"
)
HealthSchema = Schema.from_dict({"status": fields.String()}, name="HealthSchema")


@blp.route("/")
class Root(MethodView):
    @blp.doc(security=[])  # public: no key
    @blp.response(200, RootSchema)
    def get(self):
        """The URL of every resource list."""
        links = {}
        for name in RESOURCES:
            endpoint = _list_endpoint(name)
            if endpoint:
                links[name] = url_for(endpoint, _external=True)
        return links


@blp.route("/healthcheck/")
class Health(MethodView):
    @blp.doc(security=[])  # public: no key
    @blp.response(200, HealthSchema)
    def get(self):
        """200 when the server and its database answer."""
        ping(get_db())
        return {"status": "ok"}


def _list_endpoint(name: str) -> str | None:
    for rule in current_app.url_map.iter_rules():
        if rule.rule == f"/{name}/":
            return rule.endpoint
    return None
