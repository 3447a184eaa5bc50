"""One builder for the list + detail routes every owned resource shares.

A repo module given here provides list_(conn, owner_id, filters, limit, offset),
get(conn, owner_id, uuid), and as the verbs require create, update and delete.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from flask import g
from flask.views import MethodView
from marshmallow import Schema

from ..db import get_db
from .common import Blueprint, page_schema, paginate, uuid_or_404


def crud_blueprint(
    name: str,
    repo: ModuleType,
    schema: type[Schema],
    filters: type[Schema],
    label: str,
    verbs: tuple[str, ...] = ("GET", "POST", "PATCH", "DELETE"),
    after_delete: Callable[[Any], None] | None = None,
    update_schema: type[Schema] | None = None,
) -> Blueprint:
    blp = Blueprint(name, name, description=f"{label.capitalize()}.")

    class Collection(MethodView):
        @blp.arguments(filters, location="query")
        @blp.response(200, page_schema(schema))
        def get(self, args):
            return paginate(args, lambda f, n, skip: repo.list_(get_db(), g.owner_id, f, n, skip))

        @blp.arguments(schema)
        @blp.response(201, schema)
        def post(self, data):
            return repo.create(get_db(), g.owner_id, data)

    class Item(MethodView):
        @blp.response(200, schema)
        def get(self, uuid):
            return repo.get(get_db(), g.owner_id, uuid_or_404(uuid))

        @blp.arguments((update_schema or schema)(partial=True))
        @blp.response(200, schema)
        def patch(self, data, uuid):
            return repo.update(get_db(), g.owner_id, uuid_or_404(uuid), data)

        @blp.response(204)
        def delete(self, uuid):
            removed = repo.delete(get_db(), g.owner_id, uuid_or_404(uuid))
            if after_delete is not None:
                after_delete(removed)

    Collection.get.__doc__ = f"List {label}."
    Collection.post.__doc__ = f"Create one of the {label}."
    Item.get.__doc__ = f"One of the {label}."
    Item.patch.__doc__ = f"Change some fields of one of the {label}."
    Item.delete.__doc__ = f"Delete one of the {label}."
    for view, methods in ((Collection, ("get", "post")), (Item, ("get", "patch", "delete"))):
        for method in methods:
            if method.upper() not in verbs:
                delattr(view, method)
    # MethodView computes `methods` when the class is made: recompute after pruning.
    Collection.methods = {m.upper() for m in ("get", "post") if hasattr(Collection, m)}
    Item.methods = {m.upper() for m in ("get", "patch", "delete") if hasattr(Item, m)}
    blp.route("/")(Collection)
    blp.route("/<uuid>/")(Item)
    return blp
