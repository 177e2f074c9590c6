"""Rows ↔ models, and the queries every layer shares. Plain SQL: the hot paths stay cheap."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from ..domain.models import (
    AccountLink,
    AuditEntry,
    Integration,
    LinkState,
    Plan,
    PlanAccount,
    PlanContact,
    Role,
    StagedAccount,
    StagedState,
    User,
)
from .db import Database, now_utc


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def user_from(row: Mapping[str, Any]) -> User:
    return User(id=row["id"], name=row["name"], role=Role(row["role"]), can_edit=bool(row["can_edit"]),
                is_admin=bool(row.get("is_admin", 0)))


def plan_from(row: Mapping[str, Any]) -> Plan:
    return Plan(
        id=row["id"],
        name=row["name"],
        client=row["client"] or "",
        co_client=row["co_client"] or None,
        owner_user_id=row["owner_user_id"],
    )


def integration_from(row: Mapping[str, Any]) -> Integration:
    return Integration(**{k: row[k] for k in Integration.field_names() if k in row.keys()})


def contact_from(row: Mapping[str, Any]) -> PlanContact:
    return PlanContact(
        id=row["id"],
        plan_id=row["plan_id"],
        integration_id=row["integration_id"],
        source_contact_id=row["source_contact_id"],
        name=row["name"],
        party=row["party"],
    )


def staged_from(row: Mapping[str, Any], contact_ids: Iterable[str] = ()) -> StagedAccount:
    return StagedAccount(
        id=row["id"],
        plan_id=row["plan_id"],
        integration_id=row["integration_id"],
        source_account_id=row["source_account_id"],
        state=StagedState(row["state"]),
        ignore_reason=row["ignore_reason"],
        linked_account_id=row["linked_account_id"],
        link_state=LinkState(row["link_state"]) if row["link_state"] else None,
        description=row["description"],
        description_edited=bool(row["description_edited"]),
        company=row["company"],
        number_last4=row["number_last4"],
        account_type=row["account_type"],
        default_investment_type=row["default_investment_type"],
        review_type=bool(row["review_type"]),
        type_note=row["type_note"],
        type_included=bool(row["type_included"]),
        balance=_dec(row["balance"]),
        source_updated_at=row["source_updated_at"],
        last_updated=row["last_updated"],
        missing_at_source=bool(row["missing_at_source"]),
        version=row["version"],
        contact_ids=tuple(sorted(contact_ids)),
    )


def account_from(row: Mapping[str, Any], link_row: Mapping[str, Any] | None) -> PlanAccount:
    link = None
    if link_row is not None:
        link = AccountLink(
            staged_id=link_row["id"],
            source_account_id=link_row["source_account_id"],
            state=LinkState(link_row["link_state"]),
            last_updated=link_row["last_updated"],
            source_updated_at=link_row["source_updated_at"],
            missing_at_source=bool(link_row["missing_at_source"]),
        )
    return PlanAccount(
        id=row["id"],
        plan_id=row["plan_id"],
        description=row["description"],
        investment_type=row["investment_type"],
        owner=row["owner"],
        balance=Decimal(row["balance"]),
        equity_pct=_dec(row["equity_pct"]),
        fixed_income_pct=_dec(row["fixed_income_pct"]),
        cash_pct=_dec(row["cash_pct"]),
        annual_contribution=_dec(row["annual_contribution"]),
        notes=row["notes"] or "",
        number_last4=row["number_last4"],
        version=row["version"],
        link=link,
    )


def audit_from(row: Mapping[str, Any]) -> AuditEntry:
    return AuditEntry(**{k: row[k] for k in AuditEntry.field_names()})


# ---------------------------------------------------------------- queries


def dict_rows(db: Database, sql: str, params: Iterable[Any] | Mapping[str, Any] = ()) -> list[dict[str, Any]]:
    return list(db.query(sql, params))


def one(db: Database, sql: str, params: Iterable[Any] | Mapping[str, Any] = ()) -> dict[str, Any] | None:
    rows = dict_rows(db, sql, params)
    return rows[0] if rows else None


def staged_contacts(db: Database, staged_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    if not staged_ids:
        return out
    for chunk_start in range(0, len(staged_ids), 500):
        chunk = staged_ids[chunk_start : chunk_start + 500]
        marks = ",".join("?" * len(chunk))
        for r in db.execute(
            f"SELECT staged_id, source_contact_id FROM staged_account_contacts "  # noqa: S608
            f"WHERE staged_id IN ({marks})",
            chunk,
        ).fetchall():
            out.setdefault(r[0], []).append(r[1])
    return out


def load_staged(db: Database, plan_id: int, state: str | None = None) -> list[StagedAccount]:
    if state is None:
        rows = dict_rows(db, "SELECT * FROM staged_accounts WHERE plan_id = ? ORDER BY id", [plan_id])
    else:
        rows = dict_rows(
            db,
            "SELECT * FROM staged_accounts WHERE plan_id = ? AND state = ? ORDER BY id",
            [plan_id, state],
        )
    contacts = staged_contacts(db, [r["id"] for r in rows])
    return [staged_from(r, contacts.get(r["id"], ())) for r in rows]


def load_accounts(db: Database, plan_id: int) -> list[PlanAccount]:
    rows = dict_rows(db, "SELECT * FROM plan_accounts WHERE plan_id = ? ORDER BY id", [plan_id])
    links = {
        r["linked_account_id"]: r
        for r in dict_rows(
            db,
            "SELECT * FROM staged_accounts WHERE plan_id = ? AND state = 'linked'",
            [plan_id],
        )
    }
    return [account_from(r, links.get(r["id"])) for r in rows]


def row_json(row: Mapping[str, Any] | None) -> str | None:
    if row is None:
        return None
    return json.dumps(dict(row), sort_keys=True, default=str)


# the one audit INSERT (the workspace's single and bulk entries, a pull's entries)
AUDIT_INSERT = ("INSERT INTO audit_log (at, user_name, plan_id, action, object_type, object_id, "
                "before, after, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")


def audit(
    db: Database,
    *,
    user_name: str,
    plan_id: int | None,
    action: str,
    object_type: str,
    object_id: int | str | None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    detail: str = "",
    at: str | None = None,
) -> None:
    db.execute(
        AUDIT_INSERT,
        [
            at or now_utc(),
            user_name,
            plan_id,
            action,
            object_type,
            object_id,
            row_json(before),
            row_json(after),
            detail,
        ],
    )


def audit_many(
    db: Database,
    *,
    user_name: str,
    plan_id: int | None,
    action: str,
    object_type: str,
    entries: Iterable[tuple[int | None, str | None, str | None, str]],
) -> None:
    """One audit entry per (object id, before JSON, after JSON, detail), in one executemany:
    a bulk action keeps its per-row entries without a statement per row."""
    at = now_utc()
    db.conn.executemany(
        AUDIT_INSERT,
        [(at, user_name, plan_id, action, object_type, oid, before, after, detail)
         for oid, before, after, detail in entries],
    )


def add_history(
    db: Database, account_id: int, balance: Decimal, source: str, sync_run_id: int | None = None
) -> None:
    db.execute(
        "INSERT INTO balance_history (plan_account_id, balance, source, at, sync_run_id) "
        "VALUES (?, ?, ?, ?, ?)",
        [account_id, f"{balance:f}", source, now_utc(), sync_run_id],
    )


def update_row(db: Database, table: str, row_id: int, changes: Mapping[str, Any]) -> None:
    """UPDATE one row, bumping its version (undo and the TUI rely on versions)."""
    if not changes:
        return
    cols = ", ".join(f"{c} = ?" for c in changes)
    db.execute(
        f"UPDATE {table} SET {cols}, version = version + 1 WHERE id = ?",  # noqa: S608
        [*changes.values(), row_id],
    )


def get_row(db: Database, table: str, row_id: int) -> dict[str, Any] | None:
    return one(db, f"SELECT * FROM {table} WHERE id = ?", [row_id])  # noqa: S608

