"""Read-only questions `plantech doctor` asks a database file it must not change (or create),
on a plain sqlite3 connection of its own: each raises sqlite3 errors for the caller to report."""

from __future__ import annotations

import sqlite3
from typing import Any


def quick_check(conn: sqlite3.Connection) -> str:
    """'ok', or the first problem SQLite's quick check found."""
    return str(conn.execute("PRAGMA quick_check").fetchone()[0])


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def probe_write_lock(conn: sqlite3.Connection) -> None:
    """Take the write lock and roll back (the connection is in autocommit mode)."""
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("ROLLBACK")


def user_named(conn: sqlite3.Connection, name: str) -> tuple[int, str] | None:
    """(id, role) of the user `resolve_user` would find (case-insensitive)."""
    row = conn.execute("SELECT id, role FROM users WHERE name = ? COLLATE NOCASE",
                       [name]).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def has_users(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None


def integrations_of(conn: sqlite3.Connection, user_id: int | None) -> list[dict[str, Any]]:
    """An advisor's own integrations, as rows."""
    cur = conn.execute("SELECT * FROM integrations WHERE owner_user_id = ? ORDER BY id",
                       [user_id])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
