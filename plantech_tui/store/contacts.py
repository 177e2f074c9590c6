"""The plan contacts repository: a partner's contacts linked to a plan."""

from __future__ import annotations

from typing import Any

from . import rows as R
from .db import Database, now_utc


def of_plan(db: Database, plan_id: int) -> list[dict[str, Any]]:
    return R.dict_rows(db, "SELECT * FROM plan_contacts WHERE plan_id = ? ORDER BY id",
                       [plan_id])


def find(db: Database, plan_id: int, integration_id: int, contact_id: Any
         ) -> dict[str, Any] | None:
    return R.one(db, "SELECT * FROM plan_contacts WHERE plan_id = ? AND integration_id = ? "
                 "AND source_contact_id = ?", [plan_id, integration_id, contact_id])


def insert(db: Database, plan_id: int, integration_id: int, contact_id: Any, name: str,
           party: str) -> int:
    cur = db.execute(
        "INSERT INTO plan_contacts (plan_id, integration_id, source_contact_id, name, "
        "party, linked_at) VALUES (?, ?, ?, ?, ?, ?)",
        [plan_id, integration_id, contact_id, name, party, now_utc()])
    return int(cur.lastrowid or 0)


def delete(db: Database, contact_row_id: int) -> None:
    db.execute("DELETE FROM plan_contacts WHERE id = ?", [contact_row_id])


def ids_of(db: Database, plan_id: int, integration_id: int) -> set[Any]:
    """The partner contact ids of this integration linked to the plan."""
    return {r["source_contact_id"] for r in R.dict_rows(
        db, "SELECT source_contact_id FROM plan_contacts WHERE plan_id = ? AND "
        "integration_id = ?", [plan_id, integration_id])}


def parties(db: Database, plan_id: int) -> dict[tuple[int, str], str]:
    """(integration, partner contact) → client / co_client / other, for the plan's contacts."""
    return {(r[0], r[1]): r[2] for r in db.execute(
        "SELECT integration_id, source_contact_id, party FROM plan_contacts "
        "WHERE plan_id = ?", [plan_id]).fetchall()}
