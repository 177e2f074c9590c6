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
            "INSERT INTO staged_accounts (plan_id, integration_id, source_account_id, state, "
            "description, company, number_last4, account_type, default_investment_type, "
            "balance, last_updated, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [plan_id, integration_id, redtail_account_id, state, description, company,
             number_last4, account_type, default_investment_type, balance, now_utc(), now_utc()])
        staged_id = int(cur.lastrowid or 0)
        for contact in contacts:
            db.execute("INSERT INTO staged_account_contacts (staged_id, source_contact_id) "
                       "VALUES (?, ?)", [staged_id, contact])
    return staged_id


def snapshot(target: Workspace | Store, *, with_audit: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, for "nothing changed" assertions."""
    store = _store(target)
    conn = store.conn
    tables = STATE_TABLES + (("audit_log",) if with_audit else ())
    return {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()  # noqa: S608
            for t in tables}


def plan_state(target: Workspace | Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every plan-state table (as `snapshot`), without the `version` columns:
    versions count writes (undo bumps them so other sessions notice), they are not state."""
    conn = _store(target).conn
    out = {}
    for table in STATE_TABLES:
        cur = conn.execute(f"SELECT * FROM {table} ORDER BY rowid")  # noqa: S608
        keep = [i for i, d in enumerate(cur.description) if d[0] != "version"]
        out[table] = [tuple(row[i] for i in keep) for row in cur.fetchall()]
    return out


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


COMPANIES = ("Fidelity", "Vanguard", "Charles Schwab", "T. Rowe Price", "Ally Bank", "Chase",
             None)
TYPES = (("Brokerage", "Taxable Brokerage", 0), ("Rollover IRA", "Traditional IRA", 0),
         ("Roth IRA", "Roth IRA", 0), ("401(k)", "401(k)", 0), ("Savings", "Cash", 0),
         ("Annuity", "Other", 1))


def make_big_plan(db_path: Any, n: int = 100_000, *, advisor: str = "advisor",
                  ignored: int = 0, name: str = "Big Plan") -> dict[str, int]:
    """A plan with `n` pending rows (and `ignored` ignored ones), built with plain SQL in two
    seconds or so: two linked contacts (Gomez Addams 101, Morticia Addams 102), a manual "Gomez
    401(k)" ending 4401 that some rows resemble, and today's successful pull recorded so that
    opening the plan starts no automatic pull.

    Open it in the TUI as `advisor`: enter on Plans (the only plan, or see `name`), then P
    (Pending Data). Row i (from 0, pending rows first, then the ignored ones): staged id
    first_staged_id + i, redtail_account_id 1_000_000 + i, company COMPANIES[i % 7], number ending
    f"{i % 10000:04d}", Redtail type TYPES[i % 6] (every sixth an annuity whose type needs
    review), balance i * 1.01 (None for every 97th row), listed under Gomez when i is even,
    Morticia when odd (and both when i % 10 == 5)."""
    from datetime import date

    ws = Workspace.open(db_path, advisor)
    try:
        plan = ws.create_plan(name, ["Gomez Addams", "Morticia Addams"])
        integ = make_integration(ws, ws.user.id)
        manual = ws.add_account(plan.id, {"description": "Gomez 401(k)",
                                          "investment_type": "401(k)", "balance": "240000",
                                          "number_last4": "4401"})
        now = now_utc()
        with ws.store.write() as db:
            for contact, name, party in ((101, "Gomez Addams", "client"),
                                         (102, "Morticia Addams", "co_client")):
                db.execute("INSERT INTO plan_contacts (plan_id, integration_id, "
                           "source_contact_id, name, party, linked_at) VALUES (?,?,?,?,?,?)",
                           [plan.id, integ, contact, name, party, now])
            db.execute("INSERT INTO sync_runs (plan_id, trigger, user_name, status, started_at, "
                       "local_date, finished_at) VALUES (?, 'cli', ?, 'ok', ?, ?, ?)",
                       [plan.id, advisor, now, date.today().isoformat(), now])
            top = db.execute("SELECT coalesce(max(id), 0) FROM staged_accounts").fetchone()[0]
            rows, listings = [], []
            for i in range(n + ignored):
                company = COMPANIES[i % len(COMPANIES)]
                account_type, default, review = TYPES[i % len(TYPES)]
                last4 = f"{i % 10000:04d}"
                description = f"{company or account_type} {last4}"
                balance = None if i % 97 == 0 else f"{i * 101 // 100}.{i * 101 % 100:02d}"
                state = "pending" if i < n else "ignored"
                sid = top + i + 1
                rows.append((sid, plan.id, integ, 1_000_000 + i, state, description, company,
                             last4, account_type, default, review, balance, now, now))
                listings.append((sid, 101 if i % 2 == 0 else 102))
                if i % 10 == 5:
                    listings.append((sid, 101))
            db.conn.executemany(
                "INSERT INTO staged_accounts (id, plan_id, integration_id, source_account_id, "
                "state, description, company, number_last4, account_type, "
                "default_investment_type, review_type, balance, last_updated, created_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            db.conn.executemany("INSERT INTO staged_account_contacts (staged_id, "
                                "source_contact_id) VALUES (?, ?)", listings)
        return {"plan_id": plan.id, "integration_id": integ, "manual_id": manual.id,
                "first_staged_id": top + 1}
    finally:
        ws.close()
