"""Organisations and profiles: who you are and where you belong."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from marshmallow import Schema, fields

from ..db import get_db
from ..exceptions import NotFound
from ..repo import accounts
from .common import Blueprint

organisations_blp = Blueprint("organisations", __name__, description="Organisations.")
profiles_blp = Blueprint("profiles", __name__, description="Your own profile.")


class OrganisationSchema(Schema):
    subdomain = fields.String()
    name = fields.String()
    creation_date = fields.String()


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


@organisations_blp.route("/<subdomain>/")
class OrganisationDetail(MethodView):
    @organisations_blp.response(200, OrganisationSchema)
    def get(self):
        """An organisation the caller belongs to (404 for anyone else)."""
        return g.organisation


@profiles_blp.route("/<username>/")
class ProfileDetail(MethodView):
    @profiles_blp.response(200, ProfileSchema)
    def get(self, username):
        """The caller's own profile (any other username is a 404)."""
        if username.lower() != g.account["username"].lower():
            raise NotFound()
        return {**g.account, "memberships": accounts.memberships(get_db(), g.account["id"])}
