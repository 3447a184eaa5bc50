"""Organisations and their members."""

from __future__ import annotations

import sqlite3
from typing import Any

from ..domain.errors import Conflict, Invalid, NotFound
from ..domain.ids import now
from ..domain.names import check_subdomain
from . import accounts
from .rows import new_owner, one
from .sqlite import transaction

ROLES = ("owner", "admin", "member", "visitor")
RANK = {role: len(ROLES) - i for i, role in enumerate(ROLES)}  # owner highest
# A fresh install's organisation, owned by its first account (docs/API.md §3): the
# scripts of Arcsecond.local address `/local/...`.
LOCAL = "local"


def create(conn: sqlite3.Connection, subdomain: str, name: str, owner: str) -> dict[str, Any]:
    check_subdomain(subdomain)
    if not name.strip():
        raise Invalid("An organisation needs a name.", {"name": ["This field is required."]})
    with transaction(conn):
        account = accounts.get_by_username(conn, owner)
        if account is None:
            raise NotFound(f"No user '{owner}'.")
        if get(conn, subdomain):
            raise Conflict(f"Organisation '{subdomain}' already exists.")
        owner_id = new_owner(conn, "organisation")
        org_id = conn.execute(
            "INSERT INTO organisations (owner_id, subdomain, name, creation_date)"
            " VALUES (?, ?, ?, ?)",
            (owner_id, subdomain, name, now()),
        ).lastrowid
        conn.execute(
            "INSERT INTO memberships (organisation_id, account_id, role, creation_date)"
            " VALUES (?, ?, 'owner', ?)",
            (org_id, account["id"], now()),
        )
    created = get(conn, subdomain)
    assert created is not None  # made in the transaction just committed
    return created


def add_member(conn: sqlite3.Connection, subdomain: str, username: str, role: str) -> dict:
    """Add a member, or change the role of an existing one."""
    if role not in ROLES:
        raise Invalid(f"Unknown role '{role}': one of {', '.join(ROLES)}.")
    with transaction(conn):
        org = get(conn, subdomain)
        if org is None:
            raise NotFound(f"No organisation '{subdomain}'.")
        account = accounts.get_by_username(conn, username)
        if account is None:
            raise NotFound(f"No user '{username}'.")
        conn.execute(
            "INSERT INTO memberships (organisation_id, account_id, role, creation_date)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (organisation_id, account_id)"
            " DO UPDATE SET role = excluded.role",
            (org["id"], account["id"], role, now()),
        )
    return {"organisation": subdomain, "username": account["username"], "role": role}


def get(conn: sqlite3.Connection, subdomain: str) -> dict[str, Any] | None:
    return one(
        conn.execute("SELECT * FROM organisations WHERE subdomain = ?", (subdomain,)).fetchone()
    )


def role_of(conn: sqlite3.Connection, organisation_id: int, account_id: int) -> str | None:
    found = conn.execute(
        "SELECT role FROM memberships WHERE organisation_id = ? AND account_id = ?",
        (organisation_id, account_id),
    ).fetchone()
    return found["role"] if found else None


def ensure_local(conn: sqlite3.Connection, owner_username: str) -> dict[str, Any] | None:
    """Create the `local` organisation, owned by `owner_username`, unless it exists.

    Returns it when created now, None when it was there already (whoever owns it).
    """
    with transaction(conn):
        if get(conn, LOCAL):
            return None
        return create(conn, LOCAL, "Local", owner_username)


def create_account(
    conn: sqlite3.Connection, username: str, email: str = "", password_hash: str | None = None
) -> dict[str, Any]:
    """accounts.create; the install's very first account also gets the `local`
    organisation, in the same transaction (so there is never a first account without it).

    The account comes back with its keys and `local`: the organisation if made now, or None.
    """
    with transaction(conn):
        first = accounts.count(conn) == 0
        account = accounts.create(conn, username, email, password_hash)
        local = ensure_local(conn, account["username"]) if first else None
    return {**account, "local": local}
