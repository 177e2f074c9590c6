"""The plan accounts repository."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..domain.accounts import FIELDS
from . import rows as R
from .db import Database, now_utc
from .tables import id_list


def in_plan(db: Database, plan_id: int, account_id: int) -> dict[str, Any] | None:
    return R.one(db, "SELECT * FROM plan_accounts WHERE id = ? AND plan_id = ?",
                 [account_id, plan_id])


def insert(db: Database, plan_id: int, fields: Mapping[str, Any]) -> int:
    """A new account of the plan from the editor's FIELDS; returns its id."""
    now = now_utc()
    cur = db.execute(
        f"INSERT INTO plan_accounts (plan_id, {', '.join(FIELDS)}, created_at, updated_at) "  # noqa: S608
        f"VALUES (?, {', '.join('?' * len(FIELDS))}, ?, ?)",
        [plan_id, *(fields[k] for k in FIELDS), now, now])
    return int(cur.lastrowid or 0)


def next_id(db: Database) -> int:
    """The id SQLite gives the next account (under the write lock)."""
    return int(db.execute("SELECT coalesce(max(id), 0) FROM plan_accounts").fetchone()[0]) + 1


def insert_many(db: Database, accounts: Sequence[Sequence[Any]],
                history: Sequence[Sequence[Any]]) -> None:
    """Accounts as [id, plan_id, *FIELDS, created_at, updated_at] and their first balance
    history rows as [account id, balance, source, at] (executemany)."""
    db.conn.executemany(
        f"INSERT INTO plan_accounts (id, plan_id, {', '.join(FIELDS)}, created_at, "  # noqa: S608
        f"updated_at) VALUES (?, ?, {', '.join('?' * len(FIELDS))}, ?, ?)", accounts)
    db.conn.executemany("INSERT INTO balance_history (plan_account_id, balance, source, "
                        "at) VALUES (?, ?, ?, ?)", history)


def delete(db: Database, account_id: int) -> None:
    db.execute("DELETE FROM plan_accounts WHERE id = ?", [account_id])


def delete_many(db: Database, account_ids: Iterable[int]) -> None:
    db.execute("DELETE FROM plan_accounts WHERE id IN (SELECT value FROM json_each(?))",
               [id_list(account_ids)])


def version(db: Database, account_id: int) -> int | None:
    row = R.one(db, "SELECT version FROM plan_accounts WHERE id = ?", [account_id])
    return None if row is None else int(row["version"])
