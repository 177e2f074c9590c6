"""The pull's SQL: the per-plan lease in `sync_runs`, the linked contacts, the rows a diff
reads and the one transaction that writes a diff (`sync.engine` calls these; no SQL is left
in `sync/`).

Rows handed to the diff use neutral keys: `source_account_id` (text) and
`source_updated_at`; the column names they come from are the `_COL` constants below, the one
place that knows them.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from ..domain.errors import AlreadyRunning, NotFound
from ..domain.models import Integration
from . import rows as R
from .db import Database, Store, now_utc
from .plans import visible_rows

ACCOUNT_COL = "source_account_id"  # staged_accounts: the partner's account id
CONTACT_COL = "source_contact_id"  # plan_contacts, staged_account_contacts: its contact id
UPDATED_COL = "source_updated_at"  # staged_accounts: when the partner last changed it

# the neutral names of the pulled columns a diff compares and writes (everything else on a
# staged row belongs to the advisor)
PULLED = ("company", "number_last4", "account_type", "taxqualified", "taxqualified_type_name",
          "default_investment_type", "review_type", "type_note", "type_included", "balance",
          "source_updated_at")
_COLUMN = {"source_account_id": ACCOUNT_COL, "source_updated_at": UPDATED_COL}


def id_order(source_id: str) -> tuple[int, int, str]:
    """Sort key of source ids: numbers (Redtail's) in numeric order, then text."""
    if source_id.isascii() and source_id.isdigit():
        return (0, int(source_id), "")
    return (1, 0, source_id)


def column(key: str) -> str:
    """The staged_accounts column a neutral key is stored in."""
    return _COLUMN.get(key, key)


class DiffLike(Protocol):
    plan_id: int
    inserts: list[dict[str, Any]]
    updates: list[tuple[dict[str, Any], dict[str, Any]]]
    listings: dict[int, set[str]]
    touched: list[int]
    balances: list[tuple[int, Decimal, Decimal, int]]


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ------------------------------------------------------------------ the lease


def claim_run(store: Store, plan_id: int, *, trigger: str, user_name: str, today: str,
              lease_seconds: float, auto: bool = False) -> int | None:
    """Take the plan's pull lease. Returns the run id, or None when an automatic pull is not
    due (a successful pull already started today, or one is running). Raises AlreadyRunning
    for an explicit pull while another runs."""
    host = socket.gethostname()
    now = time.time()
    with store.write() as db:
        if R.one(db, "SELECT id FROM plans WHERE id = ?", [plan_id]) is None:
            raise NotFound(f"plan {plan_id} not found")
        for run in R.dict_rows(db, "SELECT * FROM sync_runs WHERE plan_id = ? AND "
                               "status = 'running'", [plan_id]):
            stale = (run["lease_expires_at"] or 0) < now or (
                run["host"] == host and not _alive(run["pid"]))
            if stale:
                db.execute("UPDATE sync_runs SET status = 'abandoned', finished_at = ? "
                           "WHERE id = ?", [now_utc(), run["id"]])
            elif auto:
                return None
            else:
                raise AlreadyRunning(f"a pull of plan {plan_id} is already running "
                                     f"(started {run['started_at']} by {run['user_name']})")
        if auto and R.one(db, "SELECT id FROM sync_runs WHERE plan_id = ? AND status = 'ok' "
                          "AND dry_run = 0 AND local_date = ?", [plan_id, today]):
            return None
        cur = db.execute(
            "INSERT INTO sync_runs (plan_id, trigger, user_name, status, started_at, local_date, "
            "lease_expires_at, pid, host) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)",
            [plan_id, trigger, user_name, now_utc(), today, now + lease_seconds, os.getpid(),
             host])
        return int(cur.lastrowid or 0)


def renew_run(store: Store, run_id: int, lease_seconds: float) -> bool:
    """Push the run's lease `lease_seconds` further. False when the run no longer holds it."""
    now = time.time()
    with store.write() as db:
        cur = db.execute("UPDATE sync_runs SET lease_expires_at = ? WHERE id = ? AND "
                         "status = 'running' AND lease_expires_at >= ?",
                         [now + lease_seconds, run_id, now])
        return cur.rowcount == 1


def holds_lease(db: Database, run_id: int) -> bool:
    """Inside the apply transaction: is the run still running with an unexpired lease?"""
    row = R.one(db, "SELECT status, lease_expires_at FROM sync_runs WHERE id = ?", [run_id])
    return (row is not None and row["status"] == "running"
            and (row["lease_expires_at"] or 0) >= time.time())


def release_run(store: Store, run_id: int, report_json: str | None, status: str) -> None:
    """Close a run that never reached its apply step (e.g. every fetch failed, or cancelled)."""
    with store.write() as db:
        db.execute("UPDATE sync_runs SET status = ?, finished_at = ?, report = ? WHERE id = ? "
                   "AND status = 'running'", [status, now_utc(), report_json, run_id])


def finish_run(db: Database, run_id: int, status: str, report_json: str, now: str, *,
               only_running: bool = False) -> None:
    """Inside the apply transaction: the run's outcome, and its lease let go."""
    if only_running:
        db.execute("UPDATE sync_runs SET status = ?, finished_at = ?, report = ?, "
                   "lease_expires_at = NULL WHERE id = ? AND status = 'running'",
                   [status, now, report_json, run_id])
    else:
        db.execute("UPDATE sync_runs SET status = ?, finished_at = ?, report = ?, "
                   "lease_expires_at = NULL WHERE id = ?", [status, now, report_json, run_id])


# ------------------------------------------------------------------ what a pull reads


def integration(store: Store, integration_id: int) -> Integration:
    row = R.one(store.db, "SELECT * FROM integrations WHERE id = ?", [integration_id])
    if row is None:
        raise NotFound(f"integration {integration_id} not found")
    return R.integration_from(row)


def plan_contacts(store: Store, plan_id: int) -> list[tuple[int, str]]:
    """(integration id, source contact id) of every contact linked to the plan."""
    return [(r[0], str(r[1])) for r in store.db.execute(
        f"SELECT integration_id, {CONTACT_COL} FROM plan_contacts "  # noqa: S608
        f"WHERE plan_id = ? ORDER BY integration_id, {CONTACT_COL}", [plan_id]).fetchall()]


def has_contacts(store: Store, plan_id: int) -> bool:
    return R.one(store.db, "SELECT 1 AS x FROM plan_contacts WHERE plan_id = ? LIMIT 1",
                 [plan_id]) is not None


def visible_plan_ids(store: Store, user_id: int) -> list[int]:
    """Every plan the user owns or was granted (same rule as the workspace's plan list)."""
    return [r["id"] for r in visible_rows(store.db, user_id)]


def staged_for_diff(db: Database, plan_id: int
                    ) -> tuple[list[dict[str, Any]], dict[int, list[str]], dict[int, Decimal]]:
    """The plan's staged rows (neutral keys), staged id → ids of the contacts listing it,
    and plan account id → balance."""
    rows = R.dict_rows(db, "SELECT * FROM staged_accounts WHERE plan_id = ?", [plan_id])
    for row in rows:
        row["source_account_id"] = str(row.pop(ACCOUNT_COL))
        row["source_updated_at"] = row.pop(UPDATED_COL)
    listings = {k: [str(c) for c in v]
                for k, v in R.staged_contacts(db, [r["id"] for r in rows]).items()}
    balances = {r["id"]: Decimal(r["balance"]) for r in R.dict_rows(
        db, "SELECT id, balance FROM plan_accounts WHERE plan_id = ?", [plan_id])}
    return rows, listings, balances


# ------------------------------------------------------------------ the write


def write_diff(conn: sqlite3.Connection, diff: DiffLike, *, run_id: int, now: str,
               user: str, summary: str, audit_id: Callable[[str], Any],
               phase: Callable[[str], None] = lambda _name: None) -> None:
    """Apply a diff inside the caller's transaction. `audit_id` turns a source id into what
    the audit log's `redtail_account_id` has always held; `summary` ends the run's audit line."""
    plan_id = diff.plan_id
    audit: list[tuple[Any, ...]] = []
    keys = ["plan_id", "integration_id", "source_account_id", "state", "description",
            *PULLED, "last_updated", "created_at"]
    cols = [column(k) for k in keys]
    insert_sql = (f"INSERT INTO staged_accounts ({', '.join(cols)}) "  # noqa: S608
                  f"VALUES ({', '.join('?' * len(cols))})")
    if diff.inserts:
        (top,) = conn.execute("SELECT coalesce(max(id), 0) FROM staged_accounts").fetchone()
        conn.executemany(insert_sql, ([row[k] for k in keys] for row in diff.inserts))
        phase("apply-rows")
        new_ids = {(r[1], str(r[2])): r[0] for r in conn.execute(
            f"SELECT id, integration_id, {ACCOUNT_COL} FROM staged_accounts "  # noqa: S608
            "WHERE plan_id = ? AND id > ?", [plan_id, top])}
        listing: list[tuple[int, str]] = []
        for row in diff.inserts:
            staged_id = new_ids[(row["integration_id"], row["source_account_id"])]
            listing += [(staged_id, c) for c in row["contacts"]]
            after = {"redtail_account_id": audit_id(row["source_account_id"]),
                     **{c: row[c] for c in ("description", "account_type",
                                             "default_investment_type", "balance")}}
            audit.append((now, user, plan_id, "pull: staged", "staged", staged_id, None,
                          json.dumps(after), f"run {run_id}"))
        conn.executemany(f"INSERT INTO staged_account_contacts (staged_id, {CONTACT_COL})"  # noqa: S608
                         " VALUES (?, ?)", listing)
    for row, changes in diff.updates:
        content = {k: v for k, v in changes.items()
                   if k not in ("last_updated", "missing_streak", "source_updated_at")}
        sets = ", ".join(f"{column(k)} = ?" for k in changes)
        bump = ", version = version + 1" if content else ""
        conn.execute(f"UPDATE staged_accounts SET {sets}{bump} WHERE id = ?",  # noqa: S608
                     [*changes.values(), row["id"]])
        if content:
            audit.append((now, user, plan_id, "pull: updated", "staged", row["id"],
                          json.dumps({k: row[k] for k in content}),
                          json.dumps(content), f"run {run_id}"))
    conn.executemany("UPDATE staged_accounts SET last_updated = ? WHERE id = ?",
                     [(now, staged_id) for staged_id in diff.touched])
    for staged_id, contacts in diff.listings.items():
        conn.execute("DELETE FROM staged_account_contacts WHERE staged_id = ?", [staged_id])
        conn.executemany(
            f"INSERT INTO staged_account_contacts (staged_id, {CONTACT_COL}) "  # noqa: S608
            "VALUES (?, ?)", [(staged_id, c) for c in sorted(contacts, key=id_order)])
    for account_id, old, new, _staged_id in diff.balances:
        conn.execute("UPDATE plan_accounts SET balance = ?, updated_at = ?, "
                     "version = version + 1 WHERE id = ?", [f"{new:f}", now, account_id])
        conn.execute("INSERT INTO balance_history (plan_account_id, balance, source, at, "
                     "sync_run_id) VALUES (?, ?, 'pull', ?, ?)",
                     [account_id, f"{new:f}", now, run_id])
        audit.append((now, user, plan_id, "pull: balance", "account", account_id,
                      json.dumps({"balance": f"{old:f}"}), json.dumps({"balance": f"{new:f}"}),
                      f"run {run_id}"))
    audit.append((now, user, plan_id, "pull", "plan", plan_id, None, None,
                  f"run {run_id}: {summary}"))
    conn.executemany(R.AUDIT_INSERT, audit)
