"""Throttling password logins: failures are counted per key (the login page uses the name
and the client's address), in the database, so every worker sees them."""

from __future__ import annotations

import sqlite3

from .sqlite import transaction

MAX_FAILURES = 10
WINDOW_S = 15 * 60


def retry_after(conn: sqlite3.Connection, login: str, now: float) -> int:
    """Seconds until `login` may try again (0: now)."""
    failures = conn.execute(
        "SELECT at FROM login_failures WHERE login = ? AND at > ? ORDER BY at DESC LIMIT ?",
        (login, now - WINDOW_S, MAX_FAILURES),
    ).fetchall()
    if len(failures) < MAX_FAILURES:
        return 0
    oldest = failures[-1]["at"]
    return max(1, int(oldest + WINDOW_S - now) + 1)


def record_failure(conn: sqlite3.Connection, login: str, now: float) -> None:
    with transaction(conn):
        conn.execute("INSERT INTO login_failures (login, at) VALUES (?, ?)", (login, now))
        conn.execute("DELETE FROM login_failures WHERE at <= ?", (now - WINDOW_S,))


def clear(conn: sqlite3.Connection, login: str) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM login_failures WHERE login = ?", (login,))
