"""Profiles: /profiles/<username>/, the caller's own."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from marshmallow import Schema, fields

from ..domain.errors import NotFound
from ..repo import accounts
from ..web.db import get_db
from .blueprint import Blueprint

blp = Blueprint("profiles", __name__, description="Your own profile.")


class OrganisationRefSchema(Schema):
    subdomain = fields.String()
    name = fields.String()


class MembershipSchema(Schema):
    organisation = fields.Nested(OrganisationRefSchema)
    role = fields.String()


class ProfileSchema(Schema):
    username = fields.String()
    email = fields.String()
    memberships = fields.List(fields.Nested(MembershipSchema))
    creation_date = fields.String()


@blp.route("/<username>/")
class Profile(MethodView):
    @blp.response(200, ProfileSchema)
    def get(self, username):
        """The caller's own profile (any other username is a 404)."""
        if username.lower() != g.account["username"].lower():
            raise NotFound()
        return {**g.account, "memberships": accounts.memberships(get_db(), g.account["id"])}
