"""Accounts and their two personal keys."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from ..domain.errors import Conflict, Invalid, NotFound
from ..domain.ids import now
from ..domain.keys import hash_key, new_key
from .rows import all_of, insert_row, new_owner, one
from .sqlite import transaction

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,149}$")
SCOPES = ("api", "upload")


def create(
    conn: sqlite3.Connection, username: str, email: str = "", password_hash: str | None = None
) -> dict[str, Any]:
    """Create an account; returns it with its two keys in clear (the only time)."""
    if not USERNAME.match(username):
        raise Invalid(
            "A username is letters, digits, '_', '.' or '-', starting with a letter or digit.",
            {"username": ["Invalid username."]},
        )
    with transaction(conn):
        if get_by_username(conn, username):
            raise Conflict(f"User '{username}' already exists.", {"username": ["Already taken."]})
        owner_id = new_owner(conn, "account")
        account_id = insert_row(
            conn,
            "accounts",
            {
                "owner_id": owner_id,
                "username": username,
                "email": email,
                "password_hash": password_hash,
                "creation_date": now(),
            },
        )
        keys = _issue_keys(conn, account_id)
    return {**_required(get(conn, account_id)), **keys}


def rotate_keys(conn: sqlite3.Connection, username: str) -> dict[str, Any]:
    """Replace both keys of an account; the old ones stop working at once."""
    with transaction(conn):
        account = get_by_username(conn, username)
        if account is None:
            raise NotFound(f"No user '{username}'.")
        conn.execute("DELETE FROM api_keys WHERE account_id = ?", (account["id"],))
        keys = _issue_keys(conn, account["id"])
    return {**account, **keys}


def _issue_keys(conn: sqlite3.Connection, account_id: int) -> dict[str, str]:
    keys = {}
    for scope in SCOPES:
        key = new_key()
        conn.execute(
            "INSERT INTO api_keys (account_id, scope, key_hash, creation_date) VALUES (?, ?, ?, ?)",
            (account_id, scope, hash_key(key), now()),
        )
        keys[f"{scope}_key"] = key
    return keys


def get(conn: sqlite3.Connection, account_id: int) -> dict[str, Any] | None:
    return one(conn.execute("SELECT * FROM accounts WHERE id = ?", (account_id,)).fetchone())


def get_by_username(conn: sqlite3.Connection, username: str) -> dict[str, Any] | None:
    return one(conn.execute("SELECT * FROM accounts WHERE username = ?", (username,)).fetchone())


def get_by_login(conn: sqlite3.Connection, login: str) -> dict[str, Any] | None:
    """An account by username, or by email (the CLI allows either)."""
    account = get_by_username(conn, login)
    if account is None and "@" in login:
        account = one(
            conn.execute(
                "SELECT * FROM accounts WHERE email = ? COLLATE NOCASE AND email != ''", (login,)
            ).fetchone()
        )
    return account


def find_by_key(conn: sqlite3.Connection, key: str) -> dict[str, Any] | None:
    """The account a key belongs to, with `scope` ('api' or 'upload'), or None."""
    return one(
        conn.execute(
            "SELECT accounts.*, api_keys.scope FROM api_keys"
            " JOIN accounts ON accounts.id = api_keys.account_id WHERE api_keys.key_hash = ?",
            (hash_key(key),),
        ).fetchone()
    )


def list_all(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return all_of(conn.execute("SELECT * FROM accounts ORDER BY id"))


def count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0]


def first(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The install's first account (the owner of `local`), or None on an empty install."""
    return one(conn.execute("SELECT * FROM accounts ORDER BY id LIMIT 1").fetchone())


def memberships(conn: sqlite3.Connection, account_id: int) -> list[dict[str, Any]]:
    return [
        {"organisation": {"subdomain": r["subdomain"], "name": r["name"]}, "role": r["role"]}
        for r in conn.execute(
            "SELECT organisations.subdomain, organisations.name, memberships.role"
            " FROM memberships JOIN organisations ON organisations.id = memberships.organisation_id"
            " WHERE memberships.account_id = ? ORDER BY organisations.subdomain",
            (account_id,),
        )
    ]


def end_sessions(conn: sqlite3.Connection, account_id: int) -> None:
    """End every browser session of an account (sessions are signed cookies, so the
    server cannot delete them: it stops honouring the epoch they carry)."""
    with transaction(conn):
        conn.execute(
            "UPDATE accounts SET session_epoch = session_epoch + 1 WHERE id = ?", (account_id,)
        )


def _required(found: dict[str, Any] | None) -> dict[str, Any]:
    if found is None:
        raise NotFound()
    return found
