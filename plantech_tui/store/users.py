"""The users repository: users, their grants, and which plans they reach."""

from __future__ import annotations

from typing import Any

from . import rows as R
from .db import Database, now_utc
from .tables import VISIBLE_PLANS, id_list


def by_name(db: Database, name: str) -> dict[str, Any] | None:
    """The user named `name`, case-insensitively."""
    return R.one(db, "SELECT * FROM users WHERE name = ? COLLATE NOCASE", [name])


def by_id(db: Database, user_id: int) -> dict[str, Any] | None:
    return R.one(db, "SELECT * FROM users WHERE id = ?", [user_id])


def any_user(db: Database) -> bool:
    return R.one(db, "SELECT 1 AS x FROM users LIMIT 1") is not None


def all_users(db: Database) -> list[dict[str, Any]]:
    return R.dict_rows(db, "SELECT * FROM users ORDER BY id")


def insert(db: Database, name: str, role: str, can_edit: bool, is_admin: bool) -> None:
    db.execute("INSERT INTO users (name, role, can_edit, is_admin, created_at) "
               "VALUES (?,?,?,?,?)", [name, role, int(can_edit), int(is_admin), now_utc()])


def update(db: Database, user_id: int, role: str, can_edit: bool, is_admin: bool) -> None:
    db.execute("UPDATE users SET role = ?, can_edit = ?, is_admin = ? WHERE id = ?",
               [role, int(can_edit), int(is_admin), user_id])


def delete(db: Database, user_id: int) -> None:
    db.execute("DELETE FROM users WHERE id = ?", [user_id])


def other_admins(db: Database, user_id: int) -> int:
    """How many administrators there are besides `user_id`."""
    return int(db.execute("SELECT count(*) FROM users WHERE is_admin <> 0 AND id <> ?",
                          [user_id]).fetchone()[0])


def owned_count(db: Database, user_id: int) -> int:
    """Plans and integrations the user owns."""
    return int(db.execute(
        "SELECT (SELECT count(*) FROM plans WHERE owner_user_id = ?) + "
        "(SELECT count(*) FROM integrations WHERE owner_user_id = ?)",
        [user_id, user_id]).fetchone()[0])


def visible_plan_ids(db: Database, user_id: int) -> set[int]:
    """The plans a user owns or was granted."""
    return {r[0] for r in db.execute(
        f"SELECT p.id FROM plans p WHERE {VISIBLE_PLANS}",  # noqa: S608
        [user_id, user_id]).fetchall()}


def grants_of(db: Database, user_id: int) -> list[int]:
    return [r[0] for r in db.execute(
        "SELECT plan_id FROM plan_grants WHERE user_id = ? ORDER BY plan_id", [user_id])]


def all_grants(db: Database) -> dict[int, list[int]]:
    """user id → granted plan ids, in order."""
    grants: dict[int, list[int]] = {}
    for uid, pid in db.execute("SELECT user_id, plan_id FROM plan_grants "
                               "ORDER BY user_id, plan_id").fetchall():
        grants.setdefault(uid, []).append(pid)
    return grants


def grant(db: Database, user_id: int, plan_id: int) -> None:
    db.execute("INSERT INTO plan_grants (user_id, plan_id) VALUES (?, ?)", [user_id, plan_id])


def owners_of(db: Database, plan_ids: list[int]) -> set[int]:
    return {r[0] for r in db.execute(
        "SELECT owner_user_id FROM plans WHERE id IN (SELECT value FROM json_each(?))",
        [id_list(plan_ids)])}


def user_audit_scope(t: str, users: list[int], plans: list[int]) -> tuple[str, list[Any]]:
    """The WHERE clause (on audit_log, aliased `t` with its dot, or not) of the user changes
    about `users`, minus grants of plans outside `plans`. SQLite may give a removed user's id
    to a new user: that id's entries up to its last removal were about someone else."""
    me = t or "audit_log."
    return (f"{t}object_type = 'user' AND {t}object_id IN "  # noqa: S608
            f"(SELECT value FROM json_each(?)) AND ({t}plan_id IS NULL OR "
            f"{t}plan_id IN (SELECT value FROM json_each(?))) AND {me}id > "
            f"(SELECT coalesce(max(r.id), 0) FROM audit_log r WHERE r.object_type = 'user' "
            f"AND r.action = 'user remove' AND r.object_id = {me}object_id)",
            [id_list(users), id_list(plans)])
