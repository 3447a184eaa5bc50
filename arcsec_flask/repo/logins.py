"""Throttling logins with growing delays, in the database so that every worker sees them.

Failures are counted per key: the login page and the key check use the name and the
client's address, so guessing from one address slows that address only and the owner,
elsewhere, is never locked out. The first FREE_FAILURES cost nothing; after them each
attempt must wait FIRST_DELAY_S after the previous failure, doubled with every further
failure, up to MAX_DELAY_S. A success clears the count; failures are forgotten after
WINDOW_S.
"""

from __future__ import annotations

import math
import sqlite3

from .sqlite import transaction

FREE_FAILURES = 5
FIRST_DELAY_S = 2.0
MAX_DELAY_S = 15 * 60.0
WINDOW_S = 24 * 3600.0


def key_for(kind: str, name: str, address: str | None) -> str:
    """The throttle key of a login by `kind` ("password", "key") for `name` from `address`."""
    return f"{kind}|{name}|{address or ''}"


def delay_after(failures: int) -> float:
    """How long an attempt must wait after the last of `failures` failures."""
    if failures < FREE_FAILURES:
        return 0.0
    # min() first: 2 ** a large count would overflow a float.
    return min(FIRST_DELAY_S * 2 ** min(failures - FREE_FAILURES, 32), MAX_DELAY_S)


def retry_after(conn: sqlite3.Connection, login: str, now: float) -> int:
    """Whole seconds until `login` may try again (0: now)."""
    count, last = conn.execute(
        "SELECT count(*), max(at) FROM login_failures WHERE login = ? AND at > ?",
        (login, now - WINDOW_S),
    ).fetchone()
    wait = (last or now) + delay_after(count) - now
    return math.ceil(wait) if wait > 0 else 0


def claim_attempt(conn: sqlite3.Connection, login: str, now: float) -> int:
    """0 when `login` may try now, with the attempt counted as a failure until `clear`
    says it succeeded; else the seconds to wait (nothing counted).

    The check and the count are one transaction: attempts sent in parallel, to any
    worker, get one try between them, not one each.
    """
    with transaction(conn):
        wait = retry_after(conn, login, now)
        if wait:
            return wait
        conn.execute("INSERT INTO login_failures (login, at) VALUES (?, ?)", (login, now))
        conn.execute("DELETE FROM login_failures WHERE at <= ?", (now - WINDOW_S,))
    return 0


def clear(conn: sqlite3.Connection, login: str) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM login_failures WHERE login = ?", (login,))
