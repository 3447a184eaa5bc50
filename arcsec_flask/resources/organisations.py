"""Organisations: /organisations/<subdomain>/, for those who belong to one."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from marshmallow import Schema, fields

from .blueprint import Blueprint

blp = Blueprint("organisations", __name__, description="Organisations.")


class OrganisationSchema(Schema):
    subdomain = fields.String()
    name = fields.String()
    creation_date = fields.String()


@blp.route("/<subdomain>/")
class Organisation(MethodView):
    @blp.response(200, OrganisationSchema)
    def get(self):
        """An organisation the caller belongs to (404 for anyone else)."""
        return g.organisation
