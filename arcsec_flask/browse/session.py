"""The browser session: who is logged in, and the token its forms carry."""

from __future__ import annotations

import secrets
from typing import Any

from flask import request, session, url_for

from ..repo import accounts
from ..web.db import get_db


def who() -> dict[str, Any]:
    """The session's username and the logout form's token, or where to log in."""
    account_id = session.get("account_id")
    account = accounts.get(get_db(), account_id) if account_id else None
    if account is None:
        back_to = request.full_path.rstrip("?")
        return {"user": None, "login_url": url_for("browse.login", next=back_to)}
    return {"user": account["username"], "csrf_token": csrf_token(), "login_url": None}


def csrf_token() -> str:
    """The session's form token (SameSite=Lax already stops cross-site posts; belt and braces)."""
    if "csrf_token" not in session:
        session["csrf_token"] = secrets.token_urlsafe(32)
    return session["csrf_token"]


def csrf_ok() -> bool:
    sent = request.form.get("csrf_token", "").encode()
    expected = session.get("csrf_token", "").encode()
    return bool(expected) and secrets.compare_digest(sent, expected)
