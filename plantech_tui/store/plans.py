"""The plans repository: which plans a user sees (the one visibility rule), their rows,
totals, history and audit entries, and the names an audit entry is about."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from . import rows as R
from .db import Database, now_utc
from .tables import VISIBLE_PLANS, id_list


def visible(db: Database, plan_id: int, user_id: int) -> dict[str, Any] | None:
    """The plan, if the user owns it or was granted it."""
    return R.one(db, f"SELECT p.* FROM plans p WHERE p.id = ? AND {VISIBLE_PLANS}",  # noqa: S608
                 [plan_id, user_id, user_id])


def visible_rows(db: Database, user_id: int) -> list[dict[str, Any]]:
    """Every plan the user owns or was granted, by id."""
    return R.dict_rows(db, f"SELECT p.* FROM plans p WHERE {VISIBLE_PLANS} ORDER BY p.id",  # noqa: S608
                       [user_id, user_id])


def insert(db: Database, name: str, client: str, co_client: str | None, owner_user_id: int
           ) -> int:
    cur = db.execute("INSERT INTO plans (name, client, co_client, owner_user_id, created_at) "
                     "VALUES (?, ?, ?, ?, ?)", [name, client, co_client, owner_user_id, now_utc()])
    return int(cur.lastrowid or 0)


def update(db: Database, plan_id: int, changes: dict[str, Any]) -> None:
    """Set these columns (names from the caller's code, never from input)."""
    db.execute(f"UPDATE plans SET {', '.join(f'{k} = ?' for k in changes)} WHERE id = ?",  # noqa: S608
               [*changes.values(), plan_id])


def delete(db: Database, plan_id: int) -> None:
    """The plan and what cascades with it; its linked staged rows let go of their accounts
    first (SPEC §3: a plan's deletion is not a Redtail unlink)."""
    db.execute("UPDATE staged_accounts SET linked_account_id = NULL, link_state = NULL, "
               "state = 'pending' WHERE plan_id = ?", [plan_id])
    db.execute("DELETE FROM plans WHERE id = ?", [plan_id])


def account_balances(db: Database, plan_id: int) -> list[tuple[Any, bool]]:
    """(balance, linked) of each plan account."""
    return [(r[0], bool(r[1])) for r in db.execute(
        "SELECT a.balance, l.id IS NOT NULL FROM plan_accounts a LEFT JOIN "
        "staged_accounts l ON l.linked_account_id = a.id WHERE a.plan_id = ?",
        [plan_id]).fetchall()]


def last_ok_pull(db: Database, plan_id: int) -> str | None:
    return db.execute("SELECT max(finished_at) FROM sync_runs WHERE plan_id = ? "
                      "AND status = 'ok' AND dry_run = 0", [plan_id]).fetchone()[0]


def pending_total(db: Database, plan_id: int) -> Decimal:
    return sum(map(Decimal, (r[0] for r in db.execute(
        "SELECT balance FROM staged_accounts WHERE plan_id = ? AND state = 'pending' "
        "AND balance IS NOT NULL", [plan_id]).fetchall())), Decimal(0))


def contacts(db: Database, plan_id: int) -> list[dict[str, Any]]:
    return R.dict_rows(db, "SELECT * FROM plan_contacts WHERE plan_id = ? ORDER BY id",
                       [plan_id])


def balance_history(db: Database, account_id: int) -> list[dict[str, Any]]:
    return R.dict_rows(db, "SELECT * FROM balance_history WHERE plan_account_id = ? "
                       "ORDER BY id", [account_id])


def audit_entries(db: Database, plan_id: int) -> list[dict[str, Any]]:
    return R.dict_rows(db, "SELECT * FROM audit_log WHERE plan_id = ? ORDER BY id", [plan_id])


def staged_in_state(db: Database, plan_id: int, state: str, staged_ids: Any) -> list[int]:
    """Which of these ids are rows of the plan in `state`."""
    return [r[0] for r in db.execute(
        "SELECT s.id FROM json_each(?) j CROSS JOIN staged_accounts s ON s.id = j.value "
        "WHERE s.plan_id = ? AND s.state = ?", [id_list(staged_ids), plan_id, state]).fetchall()]


def unlinked_accounts(db: Database, plan_id: int) -> list[dict[str, Any]]:
    """The plan's accounts no staged row links, by id."""
    return R.dict_rows(
        db, "SELECT a.* FROM plan_accounts a WHERE a.plan_id = ? AND NOT EXISTS "
        "(SELECT 1 FROM staged_accounts l WHERE l.linked_account_id = a.id) ORDER BY a.id",
        [plan_id])


_NAMES = {
    "account": "SELECT description FROM plan_accounts WHERE id = ? AND plan_id = ?",
    "staged": "SELECT description FROM staged_accounts WHERE id = ? AND plan_id = ?",
    "contact": "SELECT name FROM plan_contacts WHERE source_contact_id = ? AND plan_id = ?",
}
NAMED_OBJECTS = frozenset(_NAMES)


def object_name(db: Database, plan_id: int, object_type: str, object_id: Any) -> str | None:
    """The name of an account, staged row or contact of the plan as it is now."""
    row = db.execute(_NAMES[object_type], [object_id, plan_id]).fetchone()
    return None if row is None else row[0]


def visible_pending_where() -> str:
    """The `rows_by_id` clause of pending rows of the plans a user sees (params: the user
    id twice)."""
    return f"CROSS JOIN plans p ON p.id = t.plan_id WHERE t.state = 'pending' AND {VISIBLE_PLANS}"
