"""Shared test helpers: build the rows a pull would have written, and look at the store.

Staged rows normally come from the pull engine (tested on its own); these helpers insert them
with plain SQL so the triage, role and invariant tests can start from any state quickly.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from plantech_tui.service.workspace import Workspace
from plantech_tui.store.db import Store, now_utc

# Every table that holds plan state (the audit log is compared separately).
STATE_TABLES = ("users", "plans", "plan_grants", "integrations", "plan_contacts",
                "plan_accounts", "staged_accounts", "staged_account_contacts",
                "balance_history", "sync_runs")


def _store(target: Workspace | Store) -> Store:
    return target.store if isinstance(target, Workspace) else target


def make_integration(target: Workspace | Store, owner_user_id: int, *,
                     base_url: str = "http://127.0.0.1:9/api/public/v1",
                     username: str | None = None) -> int:
    """An integrations row (no secret is stored: `secret_ref` is a random reference)."""
    store = _store(target)
    with store.write() as db:
        cur = db.execute(
            "INSERT INTO integrations (owner_user_id, environment, base_url, username, secret_ref,"
            " created_at) VALUES (?, 'Custom', ?, ?, ?, ?)",
            [owner_user_id, base_url, username or f"user-{uuid.uuid4().hex[:8]}",
             str(uuid.uuid4()), now_utc()])
        return int(cur.lastrowid or 0)


def stage(target: Workspace | Store, plan_id: int, integration_id: int, redtail_account_id: int,
          *, balance: str | None = "100.00", account_type: str | None = "Brokerage",
          company: str | None = "Fidelity", number_last4: str | None = "1234",
          contacts: Iterable[int] = (101,), state: str = "pending",
          default_investment_type: str = "Taxable Brokerage",
          description: str | None = None) -> int:
    """Insert a pending or ignored staged row and its contact listings, as a pull would."""
    assert state in ("pending", "ignored")
    if description is None:
        name = company or account_type or "Redtail account"
        description = f"{name} {number_last4}" if number_last4 else name
    store = _store(target)
    with store.write() as db:
        cur = db.execute(
            "INSERT INTO staged_accounts (plan_id, integration_id, redtail_account_id, state, "
            "description, company, number_last4, account_type, default_investment_type, "
            "balance, last_updated, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [plan_id, integration_id, redtail_account_id, state, description, company,
             number_last4, account_type, default_investment_type, balance, now_utc(), now_utc()])
        staged_id = int(cur.lastrowid or 0)
        for contact in contacts:
            db.execute("INSERT INTO staged_account_contacts (staged_id, redtail_contact_id) "
                       "VALUES (?, ?)", [staged_id, contact])
    return staged_id


def snapshot(target: Workspace | Store, *, with_audit: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, for "nothing changed" assertions."""
    store = _store(target)
    conn = store.conn
    tables = STATE_TABLES + (("audit_log",) if with_audit else ())
    return {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()  # noqa: S608
            for t in tables}


def audit_rows(target: Workspace | Store) -> list[dict[str, Any]]:
    store = _store(target)
    cur = store.conn.execute("SELECT * FROM audit_log ORDER BY id")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def staged_state(target: Workspace | Store, staged_id: int) -> tuple[str, int | None, str | None]:
    """(state, linked_account_id, link_state) of one staged row."""
    row = _store(target).conn.execute(
        "SELECT state, linked_account_id, link_state FROM staged_accounts WHERE id = ?",
        [staged_id]).fetchone()
    assert row is not None, f"staged row {staged_id} is gone"
    return row[0], row[1], row[2]
