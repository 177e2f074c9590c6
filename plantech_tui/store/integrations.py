"""The integrations repository: an advisor's connections to partners."""

from __future__ import annotations

from typing import Any

from . import rows as R
from .db import Database, now_utc


def of_owner(db: Database, owner_user_id: int) -> list[dict[str, Any]]:
    return R.dict_rows(db, "SELECT * FROM integrations WHERE owner_user_id = ? ORDER BY id",
                       [owner_user_id])


def by_id(db: Database, integration_id: int) -> dict[str, Any] | None:
    return R.one(db, "SELECT * FROM integrations WHERE id = ?", [integration_id])


def find(db: Database, owner_user_id: int, partner: str, base_url: str, username: str
         ) -> dict[str, Any] | None:
    """The owner's integration with this partner, URL and username (case-insensitive)."""
    return R.one(db, "SELECT * FROM integrations WHERE owner_user_id = ? AND partner = ? "
                 "AND base_url = ? AND username = ? COLLATE NOCASE",
                 [owner_user_id, partner, base_url, username])


def reconnect(db: Database, integration_id: int, environment: str) -> None:
    db.execute("UPDATE integrations SET status = 'connected', status_message = NULL, "
               "environment = ? WHERE id = ?", [environment, integration_id])


def insert(db: Database, *, owner_user_id: int, partner: str, environment: str, base_url: str,
           username: str, secret_ref: str) -> int:
    cur = db.execute(
        "INSERT INTO integrations (owner_user_id, partner, environment, base_url, username,"
        " secret_ref, status, created_at) VALUES (?, ?, ?, ?, ?, ?, 'connected', ?)",
        [owner_user_id, partner, environment, base_url, username, secret_ref, now_utc()])
    return int(cur.lastrowid or 0)


def set_status(db: Database, integration_id: int, status: str, message: str | None) -> None:
    db.execute("UPDATE integrations SET status = ?, status_message = ? WHERE id = ?",
               [status, message, integration_id])


def delete(db: Database, integration_id: int) -> None:
    db.execute("DELETE FROM integrations WHERE id = ?", [integration_id])


def partner_names(db: Database) -> dict[int, str]:
    """integration id → the partner's name it stores."""
    return {int(r[0]): str(r[1]) for r in db.execute("SELECT id, partner FROM integrations")}


def partners_in_sight(db: Database, user_id: int) -> list[str]:
    """The partners (stored names) of the user's own integrations and of the integrations the
    plans they see are linked through: what the screens may name ("Redtail" or "CRM")."""
    from .tables import VISIBLE_PLANS

    sql = ("SELECT partner FROM integrations WHERE owner_user_id = ? UNION "  # noqa: S608
           "SELECT i.partner FROM integrations i JOIN plan_contacts c ON c.integration_id = i.id"
           f" JOIN plans p ON p.id = c.plan_id WHERE {VISIBLE_PLANS}")
    return sorted(str(r[0]) for r in db.execute(sql, [user_id, user_id, user_id]))
