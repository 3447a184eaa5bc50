"""Organisations: /organisations/ (the caller's own) and /organisations/<subdomain>/, for
those who belong to one. Never under a portal."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from marshmallow import Schema, fields

from ..repo import members
from ..web.db import get_db
from .blueprint import Blueprint
from .pagination import paginate
from .schemas import ListArgs, page_schema

blp = Blueprint("organisations", __name__, description="Organisations.")


class OrganisationSchema(Schema):
    subdomain = fields.String()
    name = fields.String()
    creation_date = fields.String()


class MyOrganisationSchema(OrganisationSchema):
    role = fields.String()  # the caller's role there


@blp.route("/")
class Organisations(MethodView):
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, page_schema(MyOrganisationSchema))
    def get(self, args: dict[str, Any]):
        """The organisations the caller belongs to, by subdomain, with the caller's role."""
        # The caller's memberships, not g.owner_id: off a portal that is their own account.
        account_id = g.account["id"]
        return paginate(
            args, lambda f, n, skip: members.organisations_of(get_db(), account_id, f, n, skip)
        )


@blp.route("/<subdomain>/")
class Organisation(MethodView):
    @blp.response(200, OrganisationSchema)
    def get(self):
        """An organisation the caller belongs to (404 for anyone else)."""
        return g.organisation
