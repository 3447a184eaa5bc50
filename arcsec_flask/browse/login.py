"""Password login and logout for the browseable pages.

The login sets a session cookie that web/auth.py accepts for reading only: writing still
needs a key (docs/API.md §3).
"""

from __future__ import annotations

import secrets
import time
from functools import cache
from typing import Any

from flask import Blueprint, redirect, render_template, request, session, url_for
from werkzeug.security import check_password_hash, generate_password_hash

from ..repo import accounts, logins
from ..web.db import get_db
from .session import csrf_ok, csrf_token, who

bp = Blueprint(
    "browse",
    __name__,
    template_folder="templates",
    static_folder="static",  # the pages' stylesheet: nothing comes from elsewhere
    static_url_path="/browse/static",
)

BAD_LOGIN = "Invalid username or password."
EXPIRED_FORM = "The form has expired. Please try again."
TOO_MANY = "Too many failed logins for this name. Please try again in {wait} s."


@bp.route("/auth/login/", methods=["GET", "POST"])
def login():
    """The login form; a right password starts a browsing session."""
    back_to = _local_path(request.values.get("next"))
    if request.method == "GET":
        return _login_page(back_to)
    if not csrf_ok():
        return _login_page(back_to, EXPIRED_FORM, 400)
    username = request.form.get("username", "").strip()
    # Per name and client address: a guesser slows their own address only, never the owner.
    throttle = logins.key_for("password", username, request.remote_addr)
    wait = logins.claim_attempt(get_db(), throttle, time.time())
    if wait:
        body, status = _login_page(back_to, TOO_MANY.format(wait=wait), 429, username)
        return body, status, {"Retry-After": str(wait)}
    account = _check_password(username, request.form.get("password", ""))
    if account is None:
        return _login_page(back_to, BAD_LOGIN, 401, username)  # the claim stays a failure
    logins.clear(get_db(), throttle)
    session.clear()  # no state from before the login survives it (session fixation)
    session.permanent = False  # gone when the browser closes
    session["account_id"] = account["id"]
    session["epoch"] = account["session_epoch"]
    session["csrf_token"] = secrets.token_urlsafe(32)
    return redirect(request.script_root + back_to, 303)


@bp.route("/auth/logout/", methods=["GET", "POST"])
def logout():
    """GET shows the logout button; POST ends the session."""
    if request.method == "GET":
        return render_template("login.html", logout=True, **who())
    if session.get("account_id") and not csrf_ok():
        return render_template("login.html", logout=True, error=EXPIRED_FORM, **who()), 400
    if session.get("account_id"):
        # A copy of the cookie must not outlive the logout.
        accounts.end_sessions(get_db(), session["account_id"])
    session.clear()
    return redirect(url_for("browse.login"), 303)


def _login_page(back_to: str, error: str | None = None, status: int = 200, username: str = ""):
    page = render_template(
        "login.html",
        logout=False,
        error=error,
        username=username,
        next=back_to,
        **{**who(), "csrf_token": csrf_token(), "login_url": None},
    )
    return page, status


def _local_path(target: str | None) -> str:
    """`target` when it is a path on this site, else "/": never an open redirect."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target  # browsers read "/\evil.example" as "//evil.example"
        or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target)  # they drop tabs too
    ):
        return "/"
    return target


def _check_password(login: str, password: str) -> dict[str, Any] | None:
    account = accounts.get_by_login(get_db(), login) if login else None
    stored = account["password_hash"] if account else None
    # Hash even with nothing to compare: the answer time does not tell whether the user exists.
    matches = check_password_hash(stored or _dummy_hash(), password)
    return account if stored and matches else None


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))
