"""Members: /<subdomain>/members/ only (an account has no members of its own).

Members and above read the list; admins and owners write it (web/auth.ACCESS). Who may
touch an owner, and the last owner's protection, are in repo/members.py.
"""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from marshmallow import fields, validate

from ..repo import members
from ..repo.organisations import ROLES
from ..web.db import get_db
from .blueprint import Blueprint
from .fields import not_blank
from .pagination import paginate
from .schemas import ListArgs, StrictSchema, page_schema

blp = Blueprint("members", __name__, description="Members of an organisation.")


class MemberSchema(StrictSchema):
    username = fields.String(required=True, validate=[not_blank, validate.Length(max=150)])
    role = fields.String(load_default="member", validate=validate.OneOf(ROLES))
    date_joined = fields.String(dump_only=True)
    creation_date = fields.String(dump_only=True)


class MemberRoleSchema(StrictSchema):
    """A PATCH body: only the role changes; the rest of a member sent back is ignored."""

    username = fields.String(dump_only=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    date_joined = fields.String(dump_only=True)
    creation_date = fields.String(dump_only=True)


class MemberFilters(ListArgs):
    role = fields.String(validate=validate.OneOf(ROLES))
    username = fields.String()


def _organisation_id() -> int:
    return int(g.organisation["id"])


@blp.route("/")
class Members(MethodView):
    @blp.arguments(MemberFilters, location="query")
    @blp.response(200, page_schema(MemberSchema))
    def get(self, args: dict[str, Any]):
        """List the members, in the order they joined."""
        org_id = _organisation_id()
        return paginate(args, lambda f, n, skip: members.list_(get_db(), org_id, f, n, skip))

    @blp.arguments(MemberSchema)
    @blp.response(201, MemberSchema)
    def post(self, data: dict[str, Any]):
        """Add an account as a member (role defaults to member; only owners add owners)."""
        return members.add(get_db(), _organisation_id(), g.role, data)


@blp.route("/<username>/")
class Member(MethodView):
    @blp.response(200, MemberSchema)
    def get(self, username: str):
        """One member, by username (any case)."""
        return members.get(get_db(), _organisation_id(), username)

    @blp.arguments(MemberRoleSchema)
    @blp.response(200, MemberSchema)
    def patch(self, data: dict[str, Any], username: str):
        """Change a member's role (only owners touch owners; the last owner stays)."""
        return members.update(get_db(), _organisation_id(), g.role, username, data)

    @blp.response(204)
    def delete(self, username: str):
        """Remove a member (only owners remove owners; the last owner stays)."""
        members.delete(get_db(), _organisation_id(), g.role, username)
