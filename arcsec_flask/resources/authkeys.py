"""Key verification, as the arcsecond client's `login` uses it (docs/API.md §3)."""

from __future__ import annotations

import time

from flask import request
from flask.views import MethodView
from marshmallow import fields
from werkzeug.exceptions import TooManyRequests

from ..domain.errors import NotAuthenticated, PermissionDenied
from ..repo import accounts, logins, organisations
from ..web.db import get_db
from .blueprint import Blueprint
from .schemas import StrictSchema

blp = Blueprint("authkeys", __name__, description="Check an account's key.")

BAD_CREDENTIALS = "Invalid username or key."
TOO_MANY = "Too many failed checks for this name from this address. Try again in {wait} s."
WRITING_ROLES = ("owner", "admin", "member")


class VerifySchema(StrictSchema):
    username = fields.String(required=True)
    key = fields.String(required=True)


class VerifyOrganisationSchema(VerifySchema):
    organisation = fields.String(required=True)


class VerifiedSchema(StrictSchema):
    detail = fields.String()
    username = fields.String()
    scope = fields.String()


def _verified_account(username: str, key: str) -> dict:
    # Throttled as the login page is (repo/logins.py), per name and client address.
    throttle = logins.key_for("key", username, request.remote_addr)
    wait = logins.claim_attempt(get_db(), throttle, time.time())
    if wait:
        raise TooManyRequests(TOO_MANY.format(wait=wait), retry_after=wait)
    # One message for an unknown user and a wrong key: nothing to enumerate.
    account = accounts.find_by_key(get_db(), key)
    named = accounts.get_by_login(get_db(), username) if account else None
    if account is None or named is None or named["id"] != account["id"]:
        raise NotAuthenticated(BAD_CREDENTIALS)  # the claimed attempt stays a failure
    logins.clear(get_db(), throttle)
    return account


@blp.route("/verify/")
class Verify(MethodView):
    @blp.doc(security=[])  # public: no key
    @blp.arguments(VerifySchema)
    @blp.response(200, VerifiedSchema)
    def post(self, data):
        """200 when the key (api or upload) belongs to the user, else 401."""
        account = _verified_account(data["username"], data["key"])
        return {"detail": "OK", "username": account["username"], "scope": account["scope"]}


@blp.route("/verify-organisation/")
class VerifyOrganisation(MethodView):
    @blp.doc(security=[])  # public: no key
    @blp.arguments(VerifyOrganisationSchema)
    @blp.response(200, VerifiedSchema)
    def post(self, data):
        """200 when the key is valid and the user is an owner, admin or member there."""
        account = _verified_account(data["username"], data["key"])
        org = organisations.get(get_db(), data["organisation"])
        role = organisations.role_of(get_db(), org["id"], account["id"]) if org else None
        if role not in WRITING_ROLES:
            raise PermissionDenied("The user is not a writing member of this organisation.")
        return {"detail": "OK", "username": account["username"], "scope": account["scope"]}
