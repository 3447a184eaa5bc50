"""Members of an organisation (its memberships), and the organisations of an account.

Who may do what (docs/API.md §3 and §6; the access table already asks for "admin" on
every write):

* Admins and owners add members, change roles and remove members, admins included.
* Only an owner may make someone an owner, or change the role of an owner or remove one:
  otherwise an admin could promote themselves, or push the owners out.
* Nobody may demote or remove the last owner: an organisation always has one.

A member is named by their username, case-insensitively (accounts.username is NOCASE).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ..domain.errors import Conflict, Invalid, NotFound, PermissionDenied
from ..domain.ids import now
from . import accounts
from .organisations import RANK, ROLES
from .sqlite import transaction

FILTERS = {"role": "m.role = ?", "username": "a.username = ?"}

_SELECT = (
    "SELECT a.username, m.role, m.creation_date, m.account_id"
    " FROM memberships m JOIN accounts a ON a.id = m.account_id"
)


def _dump(r: sqlite3.Row) -> dict[str, Any]:
    return {
        "username": r["username"],
        "role": r["role"],
        "date_joined": r["creation_date"],
        "creation_date": r["creation_date"],
    }


def list_(
    conn: sqlite3.Connection,
    organisation_id: int,
    filters: dict[str, Any],
    limit: int,
    offset: int,
) -> tuple[int, list[dict[str, Any]]]:
    """One page of an organisation's members, in the order they joined."""
    where = ["m.organisation_id = ?"]
    params: list[Any] = [organisation_id]
    for name, value in filters.items():
        where.append(FILTERS[name])
        params.append(str(value))
    clause = " WHERE " + " AND ".join(where)
    total = conn.execute(
        f"SELECT COUNT(*) FROM memberships m JOIN accounts a ON a.id = m.account_id{clause}",
        params,
    ).fetchone()[0]
    # rowid breaks ties between members who joined within the same microsecond.
    found = conn.execute(
        f"{_SELECT}{clause} ORDER BY m.creation_date, m.rowid LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return total, [_dump(r) for r in found]


def get(conn: sqlite3.Connection, organisation_id: int, username: str) -> dict[str, Any]:
    """One member; NotFound when the account does not exist or does not belong."""
    return _dump(_row(conn, organisation_id, username))


def add(
    conn: sqlite3.Connection, organisation_id: int, actor_role: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Add an existing account with a role; an unknown user or a member already is a 400."""
    username, role = data["username"], data.get("role", "member")
    _check_role(role)
    if role == "owner":
        _owner_only(actor_role, "make someone an owner")
    with transaction(conn):
        account = accounts.get_by_username(conn, username)
        if account is None:
            raise Invalid(f"No user '{username}'.", {"username": [f"No user '{username}'."]})
        if _find(conn, organisation_id, username) is not None:
            raise Conflict(
                f"'{account['username']}' is a member already.",
                {"username": ["Already a member."]},
            )
        conn.execute(
            "INSERT INTO memberships (organisation_id, account_id, role, creation_date)"
            " VALUES (?, ?, ?, ?)",
            (organisation_id, account["id"], role, now()),
        )
    return get(conn, organisation_id, username)


def update(
    conn: sqlite3.Connection,
    organisation_id: int,
    actor_role: str,
    username: str,
    data: dict[str, Any],
) -> dict[str, Any]:
    """Change a member's role (the only writable field)."""
    role = data.get("role")
    with transaction(conn):
        current = _row(conn, organisation_id, username)
        if role is None or role == current["role"]:
            return _dump(current)
        _check_role(role)
        if "owner" in (role, current["role"]):
            _owner_only(actor_role, "make someone an owner or change an owner's role")
        if current["role"] == "owner":
            _keep_an_owner(conn, organisation_id, "demote")
        conn.execute(
            "UPDATE memberships SET role = ? WHERE organisation_id = ? AND account_id = ?",
            (role, organisation_id, current["account_id"]),
        )
    return get(conn, organisation_id, username)


def delete(conn: sqlite3.Connection, organisation_id: int, actor_role: str, username: str) -> None:
    """Remove a member: they lose access to the portal at once."""
    with transaction(conn):
        current = _row(conn, organisation_id, username)
        if current["role"] == "owner":
            _owner_only(actor_role, "remove an owner")
            _keep_an_owner(conn, organisation_id, "remove")
        conn.execute(
            "DELETE FROM memberships WHERE organisation_id = ? AND account_id = ?",
            (organisation_id, current["account_id"]),
        )


def organisations_of(
    conn: sqlite3.Connection, account_id: int, filters: dict[str, Any], limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """One page of the organisations an account belongs to, by subdomain, with its role.

    The list has no filters: `filters` is the pagination helper's, always empty.
    """
    total = conn.execute(
        "SELECT COUNT(*) FROM memberships WHERE account_id = ?", (account_id,)
    ).fetchone()[0]
    found = conn.execute(
        "SELECT o.subdomain, o.name, o.creation_date, m.role"
        " FROM memberships m JOIN organisations o ON o.id = m.organisation_id"
        " WHERE m.account_id = ? ORDER BY o.subdomain LIMIT ? OFFSET ?",
        (account_id, limit, offset),
    )
    return total, [dict(r) for r in found]


def _find(conn: sqlite3.Connection, organisation_id: int, username: str) -> sqlite3.Row | None:
    found: sqlite3.Row | None = conn.execute(
        f"{_SELECT} WHERE m.organisation_id = ? AND a.username = ?", (organisation_id, username)
    ).fetchone()
    return found


def _row(conn: sqlite3.Connection, organisation_id: int, username: str) -> sqlite3.Row:
    found = _find(conn, organisation_id, username)
    if found is None:
        raise NotFound()
    return found


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise Invalid(f"Unknown role '{role}'.", {"role": [f"One of {', '.join(ROLES)}."]})


def _owner_only(actor_role: str, action: str) -> None:
    if RANK[actor_role] < RANK["owner"]:
        raise PermissionDenied(f"Only an owner may {action}.")


def _keep_an_owner(conn: sqlite3.Connection, organisation_id: int, verb: str) -> None:
    owners = conn.execute(
        "SELECT COUNT(*) FROM memberships WHERE organisation_id = ? AND role = 'owner'",
        (organisation_id,),
    ).fetchone()[0]
    if owners <= 1:
        raise Invalid(f"Cannot {verb} the last owner: make someone else an owner first.")
