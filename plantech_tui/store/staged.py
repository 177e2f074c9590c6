"""The staged accounts repository: a partner's accounts as a plan sees them (pending,
ignored, linked), their listings under contacts, and what triage and undo read and write."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import rows as R
from .db import Database
from .tables import id_list

# the columns of a staged row that triage actions change (and undo restores)
UNDONE_COLUMNS = ("state", "ignore_reason", "linked_account_id", "link_state",
                  "prior_link_state", "description", "description_edited")
# what makes a row the same row: SQLite reuses the highest id after a delete
IDENTITY = {
    "staged_accounts": ("plan_id", "integration_id", "source_account_id", "created_at"),
    "plan_accounts": ("plan_id", "created_at"),
}


def in_plan(db: Database, plan_id: int, staged_id: int) -> dict[str, Any] | None:
    return R.one(db, "SELECT * FROM staged_accounts WHERE id = ? AND plan_id = ?",
                 [staged_id, plan_id])


def link_of(db: Database, account_id: int) -> dict[str, Any] | None:
    """The staged row linked to this plan account, if any."""
    return R.one(db, "SELECT * FROM staged_accounts WHERE linked_account_id = ?", [account_id])


def linked_through(db: Database, integration_id: int) -> list[dict[str, Any]]:
    return R.dict_rows(db, "SELECT * FROM staged_accounts WHERE integration_id = ? "
                       "AND state = 'linked'", [integration_id])


def many_in_plan(db: Database, plan_id: int, ids: list[int]
                 ) -> list[tuple[int, dict[str, Any] | None]]:
    """(id asked, its row in the plan or None), in the order asked."""
    cur = db.execute(
        "SELECT j.value AS wanted, s.* FROM json_each(?) j LEFT JOIN staged_accounts s "
        "ON s.id = j.value AND s.plan_id = ? ORDER BY j.key", [id_list(ids), plan_id])
    names = [d[0] for d in cur.description][1:]
    out: list[tuple[int, dict[str, Any] | None]] = []
    for found in cur.fetchall():
        row = dict(zip(names, found[1:], strict=True))
        out.append((found[0], None if row["id"] is None else row))
    return out


def set_many(db: Database, staged_ids: list[int], sets: Mapping[str, Any]) -> None:
    """These columns (names from the caller's code) on these rows, each one version on."""
    db.execute(
        f"UPDATE staged_accounts SET {', '.join(f'{k} = ?' for k in sets)}, "  # noqa: S608
        "version = version + 1 WHERE id IN (SELECT value FROM json_each(?))",
        [*sets.values(), id_list(staged_ids)])


def link_many(db: Database, links: Sequence[Sequence[int]]) -> None:
    """[account id, staged id] pairs: each staged row linked, active."""
    db.conn.executemany(
        "UPDATE staged_accounts SET state = 'linked', linked_account_id = ?, "
        "link_state = 'active', version = version + 1 WHERE id = ?", links)


def linked_account_id(db: Database, plan_id: int, staged_id: int) -> int | None:
    row = R.one(db, "SELECT linked_account_id FROM staged_accounts WHERE id = ? "
                "AND plan_id = ?", [staged_id, plan_id])
    return None if row is None else row["linked_account_id"]


def delete(db: Database, staged_id: int) -> None:
    db.execute("DELETE FROM staged_accounts WHERE id = ?", [staged_id])


def reached(db: Database, staged: Mapping[str, Any]) -> bool:
    """Does a contact linked to the plan list this staged account?"""
    return R.one(
        db, "SELECT 1 AS x FROM staged_account_contacts c JOIN plan_contacts p ON "
        "p.source_contact_id = c.source_contact_id WHERE c.staged_id = ? AND "
        "p.plan_id = ? AND p.integration_id = ? LIMIT 1",
        [staged["id"], staged["plan_id"], staged["integration_id"]]) is not None


def listed_under(db: Database, plan_id: int, integration_id: int, contact_id: Any,
                 link_state: str | None = None) -> list[dict[str, Any]]:
    """The plan's staged rows of this integration a contact lists (in `link_state`)."""
    sql = ("SELECT s.* FROM staged_accounts s JOIN staged_account_contacts c ON "
           "c.staged_id = s.id WHERE s.plan_id = ? AND s.integration_id = ? AND "
           "c.source_contact_id = ?")
    params: list[Any] = [plan_id, integration_id, contact_id]
    if link_state is not None:
        sql += " AND s.link_state = ?"
        params.append(link_state)
    return R.dict_rows(db, sql, params)


def undone_values(db: Database, staged_ids: Iterable[int]) -> dict[int, tuple[Any, ...]]:
    """id → its UNDONE_COLUMNS values now."""
    cols = ", ".join(UNDONE_COLUMNS)
    return {r[0]: tuple(r[1:]) for r in db.execute(
        f"SELECT s.id, {cols} FROM json_each(?) j CROSS JOIN staged_accounts s "  # noqa: S608
        "ON s.id = j.value", [id_list(staged_ids)]).fetchall()}


def restore_many(db: Database, updates: Sequence[Sequence[Any]]) -> None:
    """[*UNDONE_COLUMNS values, id] rows written back, each one version on."""
    db.conn.executemany(
        f"UPDATE staged_accounts SET {', '.join(f'{c} = ?' for c in UNDONE_COLUMNS)}, "  # noqa: S608
        "version = version + 1 WHERE id = ?", updates)


def fingerprints(db: Database, table: str, row_ids: list[int]
                 ) -> dict[int, tuple[int, tuple[Any, ...]]]:
    """id → (version, identity) of the rows of `table` (staged or plan accounts) that still
    exist (one query)."""
    if not row_ids:
        return {}
    cols = ", ".join(f"t.{c}" for c in IDENTITY[table])
    return {r[0]: (int(r[1]), tuple(r[2:])) for r in db.execute(
        f"SELECT t.id, t.version, {cols} FROM json_each(?) j CROSS JOIN {table} t "  # noqa: S608
        "ON t.id = j.value", [id_list(row_ids)]).fetchall()}


def description_of(db: Database, table: str, row_id: int) -> str | None:
    """The description of a staged or plan account row now."""
    assert table in IDENTITY
    row = db.execute(f"SELECT description FROM {table} WHERE id = ?",  # noqa: S608
                     [row_id]).fetchone()
    return None if row is None else row[0]
