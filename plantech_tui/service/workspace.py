"""The Python API every front end uses (CLI, TUI, tests): one user acting on one database.

Each method is one unit of work: check the role (SPEC §1), open `BEGIN IMMEDIATE`, apply the
rule, write the audit entry, commit. A refused or invalid action raises before anything is
written. Triage actions of this session are kept on an undo stack.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from ..domain import suggest as suggestions
from ..domain.accounts import FIELDS, AccountFields, validate_fields
from ..domain.errors import (
    InvalidState,
    NotFound,
    PermissionDenied,
    UndoConflict,
    UnknownUser,
    UsageError,
    ValidationFailed,
)
from ..domain.mapping import canonical_owner
from ..domain.models import (
    PARTNER,
    AuditEntry,
    Integration,
    Plan,
    PlanAccount,
    PlanContact,
    PlanDetail,
    PlanSummary,
    Role,
    StagedAccount,
    User,
)
from ..domain.permissions import Action, allowed, require, require_user_change
from ..store import rows as R
from ..store import tables as T
from ..store.db import Database, Store, now_utc
from ..store.tables import TableQuery

_T = TypeVar("_T")

UNDO_LEVELS = 50
# suggested links score only accounts sharing the last 4 or the type: sound while the other
# signals alone (similar description 2 + company 1) cannot reach the threshold
PREFILTER = suggestions.THRESHOLD > 3
# the columns of a staged row that triage actions change (and undo restores)
UNDONE_STAGED_COLUMNS = ("state", "ignore_reason", "linked_account_id", "link_state",
                         "prior_link_state", "description", "description_edited")


def current_user_name(explicit: str | None = None) -> str:
    """--user, else PLANTECH_USER, else the OS login name (SPEC §1)."""
    name = explicit or os.environ.get("PLANTECH_USER") or getpass.getuser()
    name = " ".join(name.split())
    if not name:
        raise UsageError("the user name is empty")
    return name


def resolve_user(store: Store, name: str) -> User:
    """The named user; on a database with no users yet, that user becomes its first advisor
    and administrator."""
    with store.write() as db:
        row = R.one(db, "SELECT * FROM users WHERE name = ? COLLATE NOCASE", [name])
        if row is None:
            if R.one(db, "SELECT 1 AS x FROM users LIMIT 1") is not None:
                raise UnknownUser(
                    f"unknown user {name!r}: an advisor must add it first "
                    f"(plantech users add {name!r} --role …)"
                )
            db.execute(
                "INSERT INTO users (name, role, can_edit, is_admin, created_at) "
                "VALUES (?, 'advisor', 1, 1, ?)",
                [name, now_utc()],
            )
            row = R.one(db, "SELECT * FROM users WHERE name = ? COLLATE NOCASE", [name])
            assert row is not None
            R.audit(
                db, user_name=name, plan_id=None, action="user add", object_type="user",
                object_id=row["id"], after=row, detail="first user of a new database: advisor and administrator",
            )
    return R.user_from(row)


@dataclass(slots=True)
class StagedBefore:
    """A staged row as a triage step found it: what undo restores (UNDONE_STAGED_COLUMNS)
    and its version then. Kept small: a bulk step holds thousands of them."""

    id: int
    version: int
    values: tuple[Any, ...]

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> StagedBefore:
        return cls(row["id"], row["version"], tuple(row[c] for c in UNDONE_STAGED_COLUMNS))


@dataclass
class UndoStep:
    """What one triage action changed: rows as they were before, and their versions after."""

    label: str
    plan_id: int
    staged_before: list[StagedBefore] = field(default_factory=list)
    accounts_before: list[dict[str, Any]] = field(default_factory=list)
    created_accounts: list[int] = field(default_factory=list)
    versions_after: dict[tuple[str, int], int] = field(default_factory=dict)
    # what makes a row the same row: SQLite reuses the highest id after a delete
    identities: dict[tuple[str, int], tuple[Any, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class BulkAdd:
    """What a bulk Add to Plan did: the accounts created, and the rows left pending (why)."""

    added: list[PlanAccount]
    left_pending: dict[int, str]


_IDENTITY = {
    "staged_accounts": ("plan_id", "integration_id", "redtail_account_id", "created_at"),
    "plan_accounts": ("plan_id", "created_at"),
}


def _fingerprints(db: Database, table: str, row_ids: list[int]
                  ) -> dict[int, tuple[int, tuple[Any, ...]]]:
    """id → (version, identity) of the rows that still exist (one query)."""
    if not row_ids:
        return {}
    cols = ", ".join(f"t.{c}" for c in _IDENTITY[table])
    return {r[0]: (int(r[1]), tuple(r[2:])) for r in db.execute(
        f"SELECT t.id, t.version, {cols} FROM json_each(?) j CROSS JOIN {table} t "  # noqa: S608
        "ON t.id = j.value", [T.id_list(row_ids)]).fetchall()}


def _owner_from(parties: Mapping[tuple[int, int], str], integration_id: int,
                contact_ids: Iterable[int]) -> str:
    """SPEC §2.5: listed only under the client → Client, only under the co-client →
    Co-client, under both → Joint (contacts the plan does not link do not count)."""
    listed = {parties[(integration_id, c)] for c in contact_ids
              if (integration_id, c) in parties} - {"other"}  # a child's listing: neither
    if listed == {"co_client"}:
        return "Co-client"
    if listed == {"client", "co_client"}:
        return "Joint"
    return "Client"


_DESCRIPTION = UNDONE_STAGED_COLUMNS.index("description")


def _staged_before_name(row: StagedBefore) -> str:
    """A staged row's description as the step found it, quoted."""
    return f"'{row.values[_DESCRIPTION]}'"


def _names_list(names: Iterable[str], limit: int = 5) -> str:
    shown = list(names)
    if not shown:
        return "-"
    more = len(shown) - limit
    return ", ".join(shown[:limit]) + (f" and {more:,} more" if more > 0 else "")


def _undo_what(step: UndoStep) -> str:
    """"Ignore of 'Fidelity 1234'" for a one-row step, else its label ("ignore 3")."""
    verb, _, count = step.label.partition(" ")
    if len(step.staged_before) == 1 and (count == "1" or not count.isdigit()):
        action = step.label if not count.isdigit() else verb
        return f"{action[:1].upper()}{action[1:]} of {_staged_before_name(step.staged_before[0])}"
    return step.label


def _step_row_name(db: Database, step: UndoStep, table: str, row_id: int) -> str:
    """The account an undo refusal names: its description as the step found it (the row may
    be gone since), else as it is now, else its id."""
    if table == "staged_accounts":
        for r in step.staged_before:
            if r.id == row_id:
                return _staged_before_name(r)
    for a in step.accounts_before:
        if a["id"] == row_id:
            return f"'{a['description']}'"
    row = db.execute(f"SELECT description FROM {table} WHERE id = ?",  # noqa: S608
                     [row_id]).fetchone()
    if row is not None:
        return f"'{row[0]}'"
    return f"{'Redtail account' if table == 'staged_accounts' else 'account'} #{row_id}"


def _load_mapping() -> Any:
    """The default partner's type mapping, with the firm's override file applied."""
    from ..partners import registry
    from ..paths import config_dir

    return registry.get().load_mapping(config_dir())



def _unseen_characters(name: str) -> bool:
    """Whether a new user name holds a character a list would not show: controls, format
    characters (zero-width spaces, bidi marks), surrogates, line separators."""
    import unicodedata

    return any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") for c in name)

class Workspace:
    def __init__(self, store: Store, user: User, mapping: Any | None = None) -> None:
        self.store = store
        self.user = user
        self._mapping = mapping
        self._undo: list[UndoStep] = []

    @classmethod
    def open(cls, db_path: Path | str, user_name: str | None = None) -> Workspace:
        store = Store(db_path)
        return cls(store, resolve_user(store, current_user_name(user_name)))

    @property
    def mapping(self) -> Any:
        if self._mapping is None:
            self._mapping = _load_mapping()
        return self._mapping

    def can(self, action: Action) -> bool:
        return allowed(self.user, action)

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ helpers

    def _audit(self, db: Database, plan_id: int | None, action: str, object_type: str,
               object_id: int | None, before: Mapping[str, Any] | None = None,
               after: Mapping[str, Any] | None = None, detail: str = "") -> None:
        R.audit(db, user_name=self.user.name, plan_id=plan_id, action=action,
                object_type=object_type, object_id=object_id, before=before, after=after,
                detail=detail)

    def _plan_row(self, db: Database, plan_id: int) -> dict[str, Any]:
        row = R.one(
            db,
            "SELECT p.* FROM plans p WHERE p.id = ? AND (p.owner_user_id = ? OR EXISTS "
            "(SELECT 1 FROM plan_grants g WHERE g.plan_id = p.id AND g.user_id = ?))",
            [plan_id, self.user.id, self.user.id],
        )
        if row is None:
            raise NotFound(f"plan {plan_id} not found")
        return row

    def _staged_row(self, db: Database, plan_id: int, staged_id: int) -> dict[str, Any]:
        row = R.one(db, "SELECT * FROM staged_accounts WHERE id = ? AND plan_id = ?",
                    [staged_id, plan_id])
        if row is None or row["state"] == "linked":
            raise NotFound(f"staged account {staged_id} not found in plan {plan_id}")
        return row

    def _account_row(self, db: Database, plan_id: int, account_id: int) -> dict[str, Any]:
        row = R.one(db, "SELECT * FROM plan_accounts WHERE id = ? AND plan_id = ?",
                    [account_id, plan_id])
        if row is None:
            raise NotFound(f"account {account_id} not found in plan {plan_id}")
        return row

    def _link_of(self, db: Database, account_id: int) -> dict[str, Any] | None:
        return R.one(db, "SELECT * FROM staged_accounts WHERE linked_account_id = ?", [account_id])

    def canonical_type(self, text: object) -> str:
        return str(self.mapping.canonical_investment_type(text))

    # ------------------------------------------------------------------ users

    # Who may create and change which user is `user_change_refusal` (domain/permissions.py,
    # README "Who manages users"); each method re-reads the acting user inside its
    # transaction, so a session opened before its user was demoted acts as what it is now.

    def _actor(self, db: Database) -> User:
        row = R.one(db, "SELECT * FROM users WHERE id = ?", [self.user.id])
        if row is None:
            raise PermissionDenied(f"{self.user.name} is no longer a user")
        return R.user_from(row)

    @staticmethod
    def _plans_of(db: Database, user_id: int) -> set[int]:
        """The plans a user owns or was granted (an advisor's "own plans")."""
        return {r[0] for r in db.execute(
            f"SELECT p.id FROM plans p WHERE {T.VISIBLE_PLANS}",  # noqa: S608
            [user_id, user_id]).fetchall()}

    @staticmethod
    def _grants_of(db: Database, user_id: int) -> list[int]:
        return [r[0] for r in db.execute(
            "SELECT plan_id FROM plan_grants WHERE user_id = ? ORDER BY plan_id", [user_id])]

    @staticmethod
    def _keep_an_admin(db: Database, before: Mapping[str, Any] | None, still_admin: bool) -> None:
        if before is None or not before["is_admin"] or still_admin:
            return
        others = db.execute("SELECT count(*) FROM users WHERE is_admin <> 0 AND id <> ?",
                            [before["id"]]).fetchone()[0]
        if not others:
            raise InvalidState(
                f"{before['name']} is the last administrator: make another advisor an "
                f"administrator first (plantech users add NAME --role advisor --admin)")

    def add_user(self, name: str, role: str, can_edit: bool = False,
                 plan_ids: Iterable[int] = (), admin: bool | None = None) -> User:
        """Create the user, or change an existing one (role, can_edit, administrator when
        `admin` is not None) and add grants; refused (PermissionDenied, nothing changed)
        unless the acting user may manage that user."""
        require(self.user, Action.MANAGE_USERS)
        name = " ".join(name.split())
        if not name:
            raise ValidationFailed("a user name is required", field="name")
        try:
            role_ = Role(role.strip().lower())
        except ValueError:
            raise ValidationFailed(
                f"role {role!r} is not one of: advisor, professional, client", field="role"
            ) from None
        if admin and role_ is not Role.ADVISOR:
            raise ValidationFailed("an administrator is an advisor: --admin needs --role advisor",
                                   field="admin")
        with self.store.write() as db:
            actor = self._actor(db)
            mine = self._plans_of(db, actor.id)
            plans: list[int] = []
            for pid in dict.fromkeys(plan_ids):
                if actor.is_admin:  # an administrator grants any plan of the firm
                    if R.get_row(db, "plans", pid) is None:
                        raise NotFound(f"plan {pid} not found")
                elif pid not in mine:
                    self._plan_row(db, pid)  # reads like a missing plan
                plans.append(pid)
            before = R.one(db, "SELECT * FROM users WHERE name = ? COLLATE NOCASE", [name])
            target = None if before is None else R.user_from(before)
            if before is None and _unseen_characters(name):
                raise ValidationFailed(
                    f"user name {name!r} holds control or invisible characters "
                    "(a look-alike of another name)", field="name")
            held = [] if before is None else self._grants_of(db, before["id"])
            if admin is not None:
                is_admin = admin
            else:  # unchanged, except that a user who stops being an advisor stops being one
                is_admin = target is not None and target.is_admin and role_ is Role.ADVISOR
            # what the target reaches: plans granted *and owned* (a demoted advisor may still
            # own plans that are not the actor's)
            reach = [] if before is None else sorted(self._plans_of(db, before["id"]))
            require_user_change(actor, target, role_, is_admin, reach, mine, plans)
            self._keep_an_admin(db, before, is_admin)
            if before is None:
                db.execute("INSERT INTO users (name, role, can_edit, is_admin, created_at) "
                           "VALUES (?,?,?,?,?)",
                           [name, role_.value, int(can_edit), int(is_admin), now_utc()])
            else:
                db.execute("UPDATE users SET role = ?, can_edit = ?, is_admin = ? WHERE id = ?",
                           [role_.value, int(can_edit), int(is_admin), before["id"]])
            after = R.one(db, "SELECT * FROM users WHERE name = ? COLLATE NOCASE", [name])
            assert after is not None
            if before != after:
                self._audit(db, None, "user add" if before is None else "user edit", "user",
                            after["id"], before, after)
            for pid in plans:
                if pid in held:
                    continue
                db.execute("INSERT INTO plan_grants (user_id, plan_id) VALUES (?, ?)",
                           [after["id"], pid])
                # on the plan too: the plan's audit log shows who was given access
                self._audit(db, pid, "user grant", "user", after["id"], None,
                            {"user": after["name"], "plan_id": pid},
                            detail=f"{after['name']} may see plan {pid}")
        return R.user_from(after)

    def remove_user(self, name: str) -> None:
        """Remove a user who owns no plan and no integration (their grants go with them;
        their audit entries stay). Same rules as changing them; the last administrator stays."""
        require(self.user, Action.MANAGE_USERS)
        name = " ".join(name.split())
        with self.store.write() as db:
            actor = self._actor(db)
            before = R.one(db, "SELECT * FROM users WHERE name = ? COLLATE NOCASE", [name])
            if before is None:
                raise NotFound(f"user {name!r} not found")
            target = R.user_from(before)
            held = self._grants_of(db, target.id)
            require_user_change(actor, target, target.role, target.is_admin,
                                sorted(self._plans_of(db, target.id)), self._plans_of(db, actor.id))
            self._keep_an_admin(db, before, False)
            owns = db.execute(
                "SELECT (SELECT count(*) FROM plans WHERE owner_user_id = ?) + "
                "(SELECT count(*) FROM integrations WHERE owner_user_id = ?)",
                [target.id, target.id]).fetchone()[0]
            if owns:
                raise InvalidState(
                    f"{target.name} owns plans or Redtail integrations and stays a user "
                    f"(make them a professional without --can-edit instead)")
            db.execute("DELETE FROM users WHERE id = ?", [target.id])
            self._audit(db, None, "user remove", "user", target.id, before, None,
                        detail=f"plans {', '.join(map(str, held))} no longer granted"
                        if held else "")

    def list_users(self) -> list[tuple[User, list[int]]]:
        """(user, granted plan ids) of the users the acting user may see, by id: every user
        for an administrator; for another advisor, themselves and the people of their plans
        (owners and grantees), with only their plans' grants."""
        require(self.user, Action.MANAGE_USERS)
        db = self.store.db
        with self.store.read():
            return self._visible_users(db, self._actor(db))

    def _visible_users(self, db: Database, actor: User) -> list[tuple[User, list[int]]]:
        users = [R.user_from(r) for r in R.dict_rows(db, "SELECT * FROM users ORDER BY id")]
        grants: dict[int, list[int]] = {}
        for uid, pid in db.execute("SELECT user_id, plan_id FROM plan_grants "
                                   "ORDER BY user_id, plan_id").fetchall():
            grants.setdefault(uid, []).append(pid)
        if actor.is_admin:
            return [(u, grants.get(u.id, [])) for u in users]
        mine = self._plans_of(db, actor.id)
        owners = {r[0] for r in db.execute(
            "SELECT owner_user_id FROM plans WHERE id IN (SELECT value FROM json_each(?))",
            [T.id_list(sorted(mine))])}
        out = []
        for u in users:
            shown = [p for p in grants.get(u.id, []) if p in mine]
            if u.id == actor.id or shown or u.id in owners:
                out.append((u, shown))
        return out

    def _user_audit_scope(self, db: Database, t: str = "") -> tuple[str, list[Any]]:
        """The WHERE clause of the user changes the acting user may see: all for an
        administrator; for another advisor, those of the users they see (list_users), minus
        grants of plans that are not theirs."""
        actor = self._actor(db)
        if actor.is_admin:
            return f"{t}object_type = 'user'", []
        users = [u.id for u, _ in self._visible_users(db, actor)]
        mine = sorted(self._plans_of(db, actor.id))
        me = t or "audit_log."
        # SQLite may give a removed user's id to a new user: that id's entries up to its last
        # removal were about someone else
        return (f"{t}object_type = 'user' AND {t}object_id IN "  # noqa: S608
                f"(SELECT value FROM json_each(?)) AND ({t}plan_id IS NULL OR "
                f"{t}plan_id IN (SELECT value FROM json_each(?))) AND {me}id > "
                f"(SELECT coalesce(max(r.id), 0) FROM audit_log r WHERE r.object_type = 'user' "
                f"AND r.action = 'user remove' AND r.object_id = {me}object_id)",
                [T.id_list(users), T.id_list(mine)])

    def user_audit(self) -> list[AuditEntry]:
        """The audit entries of user changes the acting user may see, by id."""
        return self.user_audit_entries(sorted(self.user_audit_keys()))

    def user_audit_keys(self, query: TableQuery | None = None) -> list[int]:
        """Ids of the visible user changes matching the filter, newest first by default."""
        require(self.user, Action.MANAGE_USERS)
        db = self.store.db
        with self.store.read():
            where, params = self._user_audit_scope(db)
            return T.audit_ids_where(db, where, params, query or TableQuery())

    def user_audit_search(self) -> tuple[list[str], list[str]]:
        require(self.user, Action.MANAGE_USERS)
        db = self.store.db
        with self.store.read():
            where, params = self._user_audit_scope(db)
            return T.audit_search_where(db, where, params)

    def user_audit_entries(self, entry_ids: Iterable[int]) -> list[AuditEntry]:
        require(self.user, Action.MANAGE_USERS)
        db = self.store.db
        with self.store.read():
            where, params = self._user_audit_scope(db, "t.")
            return [R.audit_from(r) for r in T.rows_by_id(
                db, "audit_log", list(entry_ids), where=f"WHERE {where}", params=params)]

    # ------------------------------------------------------------------ plans

    def failed_pulls(self, plan_ids: list[int]) -> dict[int, str]:
        """Of these plans, those whose last pull failed: plan id → "failed" or "partly failed"
        (the Plans screen's mark; doctor reads the same `sync.health` query)."""
        from ..sync.health import pull_health

        return {h.plan_id: "failed" if h.status == "failed" else "partly failed"
                for h in pull_health(self.store.conn, plan_ids=plan_ids) if h.failed}

    def list_plans(self) -> list[PlanSummary]:
        """Every plan the user sees with its totals: a handful of queries over all plans,
        no model object per account or staged row (a plan may hold 100k pending rows)."""
        db = self.store.db
        with self.store.read():
            plans = R.dict_rows(
                db, f"SELECT p.* FROM plans p WHERE {T.VISIBLE_PLANS} ORDER BY p.id",  # noqa: S608
                [self.user.id, self.user.id])
            totals = self._totals(db, [p["id"] for p in plans])
        return [PlanSummary(plan=R.plan_from(p), **totals[p["id"]]) for p in plans]

    def plan_totals(self, plan_id: int) -> PlanSummary:
        """One plan's summary (Investment Assets' totals line)."""
        require(self.user, Action.VIEW_PLAN)
        db = self.store.db
        with self.store.read():
            plan = self._plan_row(db, plan_id)
            return PlanSummary(plan=R.plan_from(plan), **self._totals(db, [plan_id])[plan_id])

    def _totals(self, db: Database, plan_ids: list[int]) -> dict[int, dict[str, Any]]:
        """plan id → PlanSummary fields (pending and ignored only for Plan Integration)."""
        out: dict[int, dict[str, Any]] = {pid: {
            "accounts": 0, "pending": 0, "ignored": 0, "total_linked": Decimal(0),
            "total_manual": Decimal(0), "total_pending": Decimal(0), "last_pull": None}
            for pid in plan_ids}
        if not plan_ids:
            return out
        see_staged = self.can(Action.PLAN_INTEGRATION)
        for pid in plan_ids:  # per plan: each query is an index search
            totals = out[pid]
            for balance, linked in db.execute(
                    "SELECT a.balance, l.id IS NOT NULL FROM plan_accounts a LEFT JOIN "
                    "staged_accounts l ON l.linked_account_id = a.id WHERE a.plan_id = ?",
                    [pid]).fetchall():
                totals["accounts"] += 1
                totals["total_linked" if linked else "total_manual"] += Decimal(balance)
            totals["last_pull"] = db.execute(
                "SELECT max(finished_at) FROM sync_runs WHERE plan_id = ? AND status = 'ok' "
                "AND dry_run = 0", [pid]).fetchone()[0]
            if not see_staged:
                continue
            counts = T.staged_counts(db, pid)
            totals["pending"] = counts.get("pending", 0)
            totals["ignored"] = counts.get("ignored", 0)
            totals["total_pending"] = sum(map(Decimal, (r[0] for r in db.execute(
                "SELECT balance FROM staged_accounts WHERE plan_id = ? AND state = 'pending' "
                "AND balance IS NOT NULL", [pid]).fetchall())), Decimal(0))
        return out

    def plan(self, plan_id: int) -> Plan:
        require(self.user, Action.VIEW_PLAN)
        return R.plan_from(self._plan_row(self.store.db, plan_id))

    def create_plan(self, name: str, clients: Iterable[str] = ()) -> Plan:
        require(self.user, Action.MANAGE_PLANS)
        name = " ".join(name.split())
        if not name:
            raise ValidationFailed("a plan name is required", field="name")
        people = [" ".join(c.split()) for c in clients if c and c.strip()]
        if len(people) > 2:
            raise ValidationFailed("a plan has a client and at most one co-client", field="clients")
        with self.store.write() as db:
            cur = db.execute(
                "INSERT INTO plans (name, client, co_client, owner_user_id, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [name, people[0] if people else "", people[1] if len(people) > 1 else None,
                 self.user.id, now_utc()])
            row = R.get_row(db, "plans", int(cur.lastrowid or 0))
            assert row is not None
            self._audit(db, row["id"], "plan create", "plan", row["id"], None, row)
        return R.plan_from(row)

    def rename_plan(self, plan_id: int, name: str, clients: Iterable[str] | None = None) -> Plan:
        require(self.user, Action.MANAGE_PLANS)
        name = " ".join(name.split())
        if not name:
            raise ValidationFailed("a plan name is required", field="name")
        with self.store.write() as db:
            before = self._plan_row(db, plan_id)
            changes: dict[str, Any] = {"name": name}
            if clients is not None:
                people = [" ".join(c.split()) for c in clients if c and c.strip()]
                if len(people) > 2:
                    raise ValidationFailed("a plan has a client and at most one co-client",
                                           field="clients")
                changes["client"] = people[0] if people else ""
                changes["co_client"] = people[1] if len(people) > 1 else None
            db.execute(
                f"UPDATE plans SET {', '.join(f'{k} = ?' for k in changes)} WHERE id = ?",  # noqa: S608
                [*changes.values(), plan_id])
            after = R.get_row(db, "plans", plan_id)
            self._audit(db, plan_id, "plan rename", "plan", plan_id, before, after)
        assert after is not None
        return R.plan_from(after)

    def delete_plan(self, plan_id: int) -> None:
        require(self.user, Action.MANAGE_PLANS)
        with self.store.write() as db:
            before = self._plan_row(db, plan_id)
            db.execute("UPDATE staged_accounts SET linked_account_id = NULL, link_state = NULL, "
                       "state = 'pending' WHERE plan_id = ?", [plan_id])
            db.execute("DELETE FROM plans WHERE id = ?", [plan_id])
            self._audit(db, plan_id, "plan delete", "plan", plan_id, before, None)

    def plan_detail(self, plan_id: int) -> PlanDetail:
        require(self.user, Action.VIEW_PLAN)
        db = self.store.db
        with self.store.read():
            plan = R.plan_from(self._plan_row(db, plan_id))
            accounts = R.load_accounts(db, plan_id)
            if self.can(Action.PLAN_INTEGRATION):
                contacts = [R.contact_from(r) for r in R.dict_rows(
                    db, "SELECT * FROM plan_contacts WHERE plan_id = ? ORDER BY id", [plan_id])]
                staged = R.load_staged(db, plan_id)
            else:
                contacts, staged = [], []
        pending = _with_suggestions([s for s in staged if s.state == "pending"],
                                    [a for a in accounts if a.link is None])
        return PlanDetail(
            plan=plan,
            contacts=tuple(contacts),
            pending=tuple(pending),
            ignored=tuple(s for s in staged if s.state == "ignored"),
            accounts=tuple(accounts),
        )

    def account(self, plan_id: int, account_id: int) -> PlanAccount:
        require(self.user, Action.VIEW_PLAN)
        db = self.store.db
        with self.store.read():
            self._plan_row(db, plan_id)
            row = self._account_row(db, plan_id, account_id)
            return R.account_from(row, self._link_of(db, account_id))

    def staged(self, plan_id: int, staged_id: int) -> StagedAccount:
        require(self.user, Action.PLAN_INTEGRATION)
        db = self.store.db
        with self.store.read():
            self._plan_row(db, plan_id)
            row = self._staged_row(db, plan_id, staged_id)
            return R.staged_from(row, R.staged_contacts(db, [staged_id]).get(staged_id, ()))

    def balance_history(self, plan_id: int, account_id: int) -> list[tuple[str, Decimal, str]]:
        """(when, balance, source) oldest first."""
        require(self.user, Action.VIEW_PLAN)
        db = self.store.db
        self._plan_row(db, plan_id)
        self._account_row(db, plan_id, account_id)
        return [(r["at"], Decimal(r["balance"]), r["source"]) for r in R.dict_rows(
            db, "SELECT * FROM balance_history WHERE plan_account_id = ? ORDER BY id",
            [account_id])]

    def audit_log(self, plan_id: int) -> list[AuditEntry]:
        require(self.user, Action.PLAN_INTEGRATION)
        db = self.store.db
        self._plan_row(db, plan_id)
        return [R.audit_from(r) for r in R.dict_rows(
            db, "SELECT * FROM audit_log WHERE plan_id = ? ORDER BY id", [plan_id])]

    # ------------------------------------------------------------------ windowed tables
    # A table asks for the ordered ids that match its filter, then the rows it shows by id
    # (store/tables.py): nothing here builds a model for a row nobody looks at. The *_search
    # methods give the text the filter searches, per row, to filter in memory as the SQL does
    # (safe in a worker thread: each thread has its own connection).

    def _plan_query(self, action: Action, plan_id: int, query: Callable[..., _T],
                    *args: Any) -> _T:
        """`query(db, plan_id, *args)` in one snapshot, after the role check and the check
        that the user sees the plan."""
        require(self.user, action)
        db = self.store.db
        with self.store.read():
            self._plan_row(db, plan_id)
            return query(db, plan_id, *args)

    @staticmethod
    def _staged_state(state: str) -> str:
        if state not in ("pending", "ignored"):
            raise UsageError(f"state must be pending or ignored, not {state!r}")
        return state

    def staged_keys(self, plan_id: int, state: str, query: TableQuery | None = None
                    ) -> list[int]:
        """Ids of the plan's pending (or ignored) rows matching the filter, in display order."""
        return self._plan_query(Action.PLAN_INTEGRATION, plan_id, T.staged_ids,
                                self._staged_state(state), query or TableQuery())

    def staged_search(self, plan_id: int, state: str) -> tuple[list[str], list[str]]:
        """Every pending (or ignored) row of the plan: (ids as strings, search texts)."""
        return self._plan_query(Action.PLAN_INTEGRATION, plan_id, T.staged_search,
                                self._staged_state(state))

    def staged_counts(self, plan_id: int) -> dict[str, int]:
        """{"pending": n, "ignored": m} (no filter)."""
        require(self.user, Action.PLAN_INTEGRATION)
        db = self.store.db
        with self.store.read():
            self._plan_row(db, plan_id)
            counts = T.staged_counts(db, plan_id)
        return {"pending": counts.get("pending", 0), "ignored": counts.get("ignored", 0)}

    def staged_in_state(self, plan_id: int, state: str, staged_ids: Iterable[int]) -> list[int]:
        """Which of these ids are still rows of the plan in `state` (marks a filter hides)."""
        require(self.user, Action.PLAN_INTEGRATION)
        return [r[0] for r in self.store.db.execute(
            "SELECT s.id FROM json_each(?) j CROSS JOIN staged_accounts s ON s.id = j.value "
            "WHERE s.plan_id = ? AND s.state = ?",
            [T.id_list(staged_ids), plan_id, state]).fetchall()]

    def staged_rows(self, plan_id: int, staged_ids: Iterable[int]) -> list[StagedAccount]:
        """These pending or ignored rows, in the order given (gone ones left out); pending
        rows carry their suggested link, computed for these rows only."""
        require(self.user, Action.PLAN_INTEGRATION)
        db = self.store.db
        with self.store.read():
            self._plan_row(db, plan_id)
            rows = T.rows_by_id(db, "staged_accounts", list(staged_ids),
                                where="WHERE t.plan_id = ? AND t.state != 'linked'",
                                params=[plan_id])
            staged = self._staged_models(db, rows)
            if any(s.state == "pending" for s in staged):
                unlinked = self._unlinked_accounts(db, plan_id)
                staged = _with_suggestions(staged, unlinked)
        return staged

    def _staged_models(self, db: Database, rows: list[dict[str, Any]]) -> list[StagedAccount]:
        listings = T.contacts_of(db, [r["id"] for r in rows])
        return [R.staged_from(r, listings.get(r["id"], ())) for r in rows]

    def _unlinked_accounts(self, db: Database, plan_id: int) -> list[PlanAccount]:
        return [R.account_from(r, None) for r in R.dict_rows(
            db, "SELECT a.* FROM plan_accounts a WHERE a.plan_id = ? AND NOT EXISTS "
            "(SELECT 1 FROM staged_accounts l WHERE l.linked_account_id = a.id) ORDER BY a.id",
            [plan_id])]

    def unlinked_accounts(self, plan_id: int) -> list[PlanAccount]:
        """The plan's accounts not linked to Redtail (Link to Existing Item's choices)."""
        require(self.user, Action.VIEW_PLAN)
        db = self.store.db
        with self.store.read():
            self._plan_row(db, plan_id)
            return self._unlinked_accounts(db, plan_id)

    def account_keys(self, plan_id: int, query: TableQuery | None = None) -> list[int]:
        """Ids of the plan's accounts matching the filter, in display order."""
        return self._plan_query(Action.VIEW_PLAN, plan_id, T.account_ids,
                                query or TableQuery())

    def account_search(self, plan_id: int) -> tuple[list[str], list[str]]:
        """(ids as strings, search texts) of the plan's accounts."""
        return self._plan_query(Action.VIEW_PLAN, plan_id, T.account_search)

    def accounts_by_id(self, plan_id: int, account_ids: Iterable[int]) -> list[PlanAccount]:
        def read(db: Database, plan_id: int) -> list[PlanAccount]:
            rows = T.rows_by_id(db, "plan_accounts", list(account_ids),
                                where="WHERE t.plan_id = ?", params=[plan_id])
            links = T.links_of(db, [r["id"] for r in rows])
            return [R.account_from(r, links.get(r["id"])) for r in rows]

        return self._plan_query(Action.VIEW_PLAN, plan_id, read)

    def audit_keys(self, plan_id: int, query: TableQuery | None = None) -> list[int]:
        """Ids of the plan's audit entries matching the filter, newest first by default."""
        return self._plan_query(Action.PLAN_INTEGRATION, plan_id, T.audit_ids,
                                query or TableQuery())

    def audit_search(self, plan_id: int) -> tuple[list[str], list[str]]:
        """(ids as strings, search texts) of the plan's audit entries."""
        return self._plan_query(Action.PLAN_INTEGRATION, plan_id, T.audit_search)

    def audit_entries(self, plan_id: int, entry_ids: Iterable[int]) -> list[AuditEntry]:
        def read(db: Database, plan_id: int) -> list[AuditEntry]:
            return [R.audit_from(r) for r in T.rows_by_id(
                db, "audit_log", list(entry_ids), where="WHERE t.plan_id = ?", params=[plan_id])]

        return self._plan_query(Action.PLAN_INTEGRATION, plan_id, read)

    def audit_object_names(self, plan_id: int, entries: Iterable[AuditEntry]) -> dict[int, str]:
        """entry id → the name of the account (or contact) it is about: as the entry recorded
        it, else as it is now; entries about neither, or about a row gone since, are left
        out (the audit log then shows the object's type and id)."""
        lookups = {"account": "SELECT description FROM plan_accounts WHERE id = ? AND plan_id = ?",
                   "staged": "SELECT description FROM staged_accounts WHERE id = ? "
                   "AND plan_id = ?",
                   "contact": "SELECT name FROM plan_contacts WHERE redtail_contact_id = ? "
                   "AND plan_id = ?"}

        def recorded(entry: AuditEntry) -> str | None:
            key = "name" if entry.object_type == "contact" else "description"
            for text in (entry.after, entry.before):
                try:
                    value = json.loads(text) if text else None
                except ValueError:
                    continue
                if isinstance(value, dict) and isinstance(value.get(key), str):
                    return value[key]
            return None

        def read(db: Database, plan_id: int) -> dict[int, str]:
            names: dict[int, str] = {}
            for e in entries:
                if e.object_type not in lookups or e.object_id is None:
                    continue
                name = recorded(e)
                if name is None:
                    row = db.execute(lookups[e.object_type], [e.object_id, plan_id]).fetchone()
                    name = row[0] if row is not None else None
                if name is not None:
                    names[e.id] = name
            return names

        return self._plan_query(Action.PLAN_INTEGRATION, plan_id, read)

    def inbox_keys(self, query: TableQuery | None = None) -> list[int]:
        """The Pending inbox: ids of every pending row of every plan the user sees."""
        require(self.user, Action.PLAN_INTEGRATION)
        db = self.store.db
        with self.store.read():
            return T.inbox_ids(db, self.user.id, query or TableQuery())

    def inbox_search(self) -> tuple[list[str], list[str]]:
        """(ids as strings, search texts) of the Pending inbox (see staged_search)."""
        require(self.user, Action.PLAN_INTEGRATION)
        db = self.store.db
        with self.store.read():
            return T.inbox_search(db, self.user.id)

    def inbox_rows(self, staged_ids: Iterable[int]) -> list[tuple[Plan, StagedAccount]]:
        """(plan, pending row with its suggestion) for these ids, in the order given."""
        require(self.user, Action.PLAN_INTEGRATION)
        db = self.store.db
        with self.store.read():
            rows = T.rows_by_id(
                db, "staged_accounts", list(staged_ids),
                where=f"CROSS JOIN plans p ON p.id = t.plan_id WHERE t.state = 'pending' AND "
                f"{T.VISIBLE_PLANS}", params=[self.user.id, self.user.id])
            staged = self._staged_models(db, rows)
            plans = {r["id"]: R.plan_from(r) for r in T.rows_by_id(
                db, "plans", sorted({s.plan_id for s in staged}))}
            out = []
            for plan_id in plans:
                mine = [s for s in staged if s.plan_id == plan_id]
                for s in _with_suggestions(mine, self._unlinked_accounts(db, plan_id)):
                    out.append(s)
        by_id = {s.id: s for s in out}
        return [(plans[s.plan_id], by_id[s.id]) for s in staged]

    # ------------------------------------------------------------------ accounts

    def add_account(self, plan_id: int, values: Mapping[str, Any]) -> PlanAccount:
        require(self.user, Action.EDIT_ACCOUNT)
        fields = validate_fields({"owner": "Client", **values}, self.canonical_type)
        with self.store.write() as db:
            self._plan_row(db, plan_id)
            account_id = self._insert_account(db, plan_id, fields, "add")
            row = R.get_row(db, "plan_accounts", account_id)
            self._audit(db, plan_id, "account add", "account", account_id, None, row)
        return self.account(plan_id, account_id)

    def _insert_account(self, db: Database, plan_id: int, fields: AccountFields,
                        source: str) -> int:
        now = now_utc()
        cur = db.execute(
            f"INSERT INTO plan_accounts (plan_id, {', '.join(FIELDS)}, created_at, updated_at) "  # noqa: S608
            f"VALUES (?, {', '.join('?' * len(FIELDS))}, ?, ?)",
            [plan_id, *fields.as_row().values(), now, now])
        account_id = int(cur.lastrowid or 0)
        R.add_history(db, account_id, fields.balance, source)
        return account_id

    def edit_account(self, plan_id: int, account_id: int, changes: Mapping[str, Any]) -> PlanAccount:
        """Edit the editor's fields. The balance of an active linked account is the pull's."""
        require(self.user, Action.EDIT_ACCOUNT)
        with self.store.write() as db:
            self._plan_row(db, plan_id)
            before = self._account_row(db, plan_id, account_id)
            link = self._link_of(db, account_id)
            current = {k: before[k] for k in FIELDS}
            fields = validate_fields({**current, **changes}, self.canonical_type)
            new = fields.as_row()
            diff = {k: v for k, v in new.items() if v != before[k]}
            if "balance" in diff and Decimal(diff["balance"]) == Decimal(before["balance"]):
                del diff["balance"]
            if "balance" in diff and link is not None and link["link_state"] == "active":
                raise InvalidState(
                    f"account {account_id} is linked to Redtail and active: its balance comes "
                    "from the pulls (Pause or Stop it first)")
            if diff:
                R.update_row(db, "plan_accounts", account_id, {**diff, "updated_at": now_utc()})
                if "balance" in diff:
                    R.add_history(db, account_id, fields.balance, "manual")
                after = R.get_row(db, "plan_accounts", account_id)
                self._audit(db, plan_id, "account edit", "account", account_id, before, after)
        return self.account(plan_id, account_id)

    def delete_account(self, plan_id: int, account_id: int) -> StagedAccount | None:
        """Delete an account; a linked one returns its Redtail account to Pending."""
        require(self.user, Action.EDIT_ACCOUNT)
        with self.store.write() as db:
            self._plan_row(db, plan_id)
            before = self._account_row(db, plan_id, account_id)
            link = self._link_of(db, account_id)
            back = self._unlink(db, link) if link is not None else False
            db.execute("DELETE FROM plan_accounts WHERE id = ?", [account_id])
            self._audit(db, plan_id, "account delete", "account", account_id, before, None,
                        detail=_unlink_detail(link, back))
        if link is None or not back or not self.can(Action.PLAN_INTEGRATION):
            return None
        return self.staged(plan_id, link["id"])

    def _unlink(self, db: Database, link: dict[str, Any]) -> bool:
        """Break a link; the Redtail account returns to Pending (True). A source-unlinked
        account that no linked contact reaches any more is dropped instead (False), as
        unlinking its contact would have dropped it had it been pending (SPEC §3)."""
        if link["link_state"] == "source_unlinked" and not self._reached(db, link):
            db.execute("DELETE FROM staged_accounts WHERE id = ?", [link["id"]])
            self._audit(db, link["plan_id"], "staged removed", "staged", link["id"], link, None,
                        detail="link broken while its Redtail contact is unlinked from the plan")
            return False
        R.update_row(db, "staged_accounts", link["id"], {
            "state": "pending", "linked_account_id": None, "link_state": None,
            "prior_link_state": None})
        return True

    def _reached(self, db: Database, staged: Mapping[str, Any]) -> bool:
        """Does a contact linked to the plan list this Redtail account?"""
        return R.one(
            db, "SELECT 1 AS x FROM staged_account_contacts c JOIN plan_contacts p ON "
            "p.redtail_contact_id = c.redtail_contact_id WHERE c.staged_id = ? AND "
            "p.plan_id = ? AND p.integration_id = ? LIMIT 1",
            [staged["id"], staged["plan_id"], staged["integration_id"]]) is not None

    def _linked_account(self, db: Database, plan_id: int, account_id: int
                        ) -> tuple[dict[str, Any], dict[str, Any]]:
        self._plan_row(db, plan_id)
        row = self._account_row(db, plan_id, account_id)
        link = self._link_of(db, account_id)
        if link is None:
            raise InvalidState(f"account {account_id} is a manual account, not linked to Redtail")
        return row, link

    def _set_link_state(self, plan_id: int, account_id: int, allowed_from: set[str],
                        to: str, action: str) -> PlanAccount:
        require(self.user, Action.PAUSE_PLAY_STOP)
        with self.store.write() as db:
            _, link = self._linked_account(db, plan_id, account_id)
            if link["link_state"] != to:
                if link["link_state"] not in allowed_from:
                    raise InvalidState(
                        f"account {account_id} cannot {action}: its link is "
                        f"{link['link_state'].replace('_', ' ')}")
                R.update_row(db, "staged_accounts", link["id"], {"link_state": to})
                self._audit(db, plan_id, f"account {action}", "account", account_id,
                            {"link_state": link["link_state"]}, {"link_state": to})
        return self.account(plan_id, account_id)

    def pause(self, plan_id: int, account_id: int) -> PlanAccount:
        return self._set_link_state(plan_id, account_id, {"active"}, "paused", "pause")

    def play(self, plan_id: int, account_id: int) -> PlanAccount:
        return self._set_link_state(plan_id, account_id, {"paused"}, "active", "play")

    def stop(self, plan_id: int, account_id: int) -> PlanAccount:
        """Break the link, keep the account; the Redtail account returns to Pending."""
        require(self.user, Action.PAUSE_PLAY_STOP)
        with self.store.write() as db:
            row, link = self._linked_account(db, plan_id, account_id)
            back = self._unlink(db, link)
            self._audit(db, plan_id, "account stop", "account", account_id,
                        {"link": link["redtail_account_id"], "link_state": link["link_state"]},
                        {"link": None}, detail=_unlink_detail(link, back))
        return self.account(plan_id, account_id)

    # ------------------------------------------------------------------ triage

    def _finish_step(self, db: Database, step: UndoStep) -> None:
        """Remember the versions the step left (one query per table, however many rows)."""
        wanted: dict[str, list[int]] = {
            "staged_accounts": [r.id for r in step.staged_before],
            "plan_accounts": [r["id"] for r in step.accounts_before] + step.created_accounts,
        }
        for table, ids in wanted.items():
            found = _fingerprints(db, table, ids)
            for row_id in ids:
                version, identity = found[row_id]
                step.versions_after[(table, row_id)] = version
                step.identities[(table, row_id)] = identity
        self._undo.append(step)
        del self._undo[:-UNDO_LEVELS]

    def _staged_many(self, db: Database, plan_id: int, staged_ids: Iterable[int]
                     ) -> list[dict[str, Any]]:
        """The pending or ignored rows with these ids, in the order given (duplicates once);
        NotFound names the first id that is not one (all or none)."""
        ids = list(dict.fromkeys(int(i) for i in staged_ids))
        if not ids:
            raise UsageError("no staged account ids given")
        cur = db.execute(
            "SELECT j.value AS wanted, s.* FROM json_each(?) j LEFT JOIN staged_accounts s "
            "ON s.id = j.value AND s.plan_id = ? ORDER BY j.key", [T.id_list(ids), plan_id])
        names = [d[0] for d in cur.description][1:]
        rows = []
        for found in cur.fetchall():
            row = dict(zip(names, found[1:], strict=True))
            if row["id"] is None or row["state"] == "linked":
                raise NotFound(f"staged account {found[0]} not found in plan {plan_id}")
            rows.append(row)
        return rows

    def ignore(self, plan_id: int, staged_ids: Iterable[int], reason: str | None = None
               ) -> list[int]:
        """Pending → Ignored; returns the ids that changed (already ignored: no-op)."""
        return self._move(plan_id, staged_ids, "ignored", "ignore",
                          {"ignore_reason": (reason or "").strip() or None})

    def stop_ignoring(self, plan_id: int, staged_ids: Iterable[int]) -> list[int]:
        return self._move(plan_id, staged_ids, "pending", "stop ignoring",
                          {"ignore_reason": None})

    def _move(self, plan_id: int, staged_ids: Iterable[int], dst: str, action: str,
              extra: dict[str, Any]) -> list[int]:
        """One UPDATE for every row that moves, one audit entry per row (executemany)."""
        require(self.user, Action.TRIAGE)
        with self.store.write() as db:
            self._plan_row(db, plan_id)
            rows = self._staged_many(db, plan_id, staged_ids)
            moving = [r for r in rows if r["state"] != dst]  # the others are already there
            if not moving:
                return []
            changed = [r["id"] for r in moving]
            sets = {"state": dst, **extra}
            db.execute(
                f"UPDATE staged_accounts SET {', '.join(f'{k} = ?' for k in sets)}, "  # noqa: S608
                "version = version + 1 WHERE id IN (SELECT value FROM json_each(?))",
                [*sets.values(), T.id_list(changed)])
            src = "ignored" if dst == "pending" else "pending"
            before, after = R.row_json({"state": src}), R.row_json(sets)
            R.audit_many(db, user_name=self.user.name, plan_id=plan_id, action=action,
                         object_type="staged",
                         entries=[(sid, before, after, "") for sid in changed])
            step = UndoStep(f"{action} {len(rows):,}", plan_id)
            step.staged_before = [StagedBefore.of(r) for r in moving]
            self._finish_step(db, step)
        return changed

    def edit_staged_description(self, plan_id: int, staged_id: int, description: str
                                ) -> StagedAccount:
        require(self.user, Action.TRIAGE)
        text = " ".join(description.split())
        if not text:
            raise ValidationFailed("description is required", field="description")
        with self.store.write() as db:
            self._plan_row(db, plan_id)
            row = self._staged_row(db, plan_id, staged_id)
            if row["description"] != text:
                step = UndoStep("edit description", plan_id)
                step.staged_before.append(StagedBefore.of(row))
                R.update_row(db, "staged_accounts", staged_id,
                             {"description": text, "description_edited": 1})
                self._audit(db, plan_id, "edit staged description", "staged", staged_id,
                            {"description": row["description"]}, {"description": text})
                self._finish_step(db, step)
        return self.staged(plan_id, staged_id)

    def link_to_existing(self, plan_id: int, staged_id: int, account_id: int) -> PlanAccount:
        """Link a pending Redtail account to an unlinked plan account; only balance flows."""
        require(self.user, Action.TRIAGE)
        with self.store.write() as db:
            self._plan_row(db, plan_id)
            current = R.one(db, "SELECT linked_account_id FROM staged_accounts WHERE id = ? "
                            "AND plan_id = ?", [staged_id, plan_id])
            if current is not None and current["linked_account_id"] == account_id:
                return self.account(plan_id, account_id)  # already so: a no-op
            staged = self._staged_row(db, plan_id, staged_id)
            if staged["state"] != "pending":
                raise InvalidState(f"staged account {staged_id} is {staged['state']}: "
                                   "Stop Ignoring it before linking")
            account = self._account_row(db, plan_id, account_id)
            if self._link_of(db, account_id) is not None:
                raise InvalidState(f"account {account_id} is already linked to Redtail")
            step = UndoStep("link", plan_id)
            step.staged_before.append(StagedBefore.of(staged))
            step.accounts_before.append(account)
            R.update_row(db, "staged_accounts", staged_id, {
                "state": "linked", "linked_account_id": account_id, "link_state": "active"})
            if staged["balance"] is not None and Decimal(staged["balance"]) != Decimal(account["balance"]):
                R.update_row(db, "plan_accounts", account_id,
                             {"balance": staged["balance"], "updated_at": now_utc()})
                R.add_history(db, account_id, Decimal(staged["balance"]), "link")
            self._audit(db, plan_id, "link to existing item", "account", account_id,
                        {"balance": account["balance"], "staged_id": staged_id},
                        {"balance": staged["balance"] or account["balance"],
                         "redtail_account_id": staged["redtail_account_id"]})
            self._finish_step(db, step)
        return self.account(plan_id, account_id)

    def default_owner(self, plan_id: int, staged: StagedAccount) -> str:
        """Listed only under the client → Client, only under the co-client → Co-client, both → Joint."""
        return _owner_from(self._parties(self.store.db, plan_id), staged.integration_id,
                           staged.contact_ids)

    def _parties(self, db: Database, plan_id: int) -> dict[tuple[int, int], str]:
        """(integration, Redtail contact) → client / co_client, for the plan's linked contacts."""
        return {(r[0], r[1]): r[2] for r in db.execute(
            "SELECT integration_id, redtail_contact_id, party FROM plan_contacts "
            "WHERE plan_id = ?", [plan_id]).fetchall()}

    def add_to_plan(self, plan_id: int, staged_id: int, values: Mapping[str, Any] | None = None
                    ) -> PlanAccount:
        """Create an integration-linked account from a pending row (the editor's Save)."""
        return self.add_many_to_plan(plan_id, [(staged_id, values or {})])[0]

    def add_many_to_plan(self, plan_id: int,
                         items: Sequence[tuple[int, Mapping[str, Any]]]) -> list[PlanAccount]:
        """Add several pending rows in one transaction: all or none. Set-based: the rows are
        read in one query and written with executemany, one audit entry per account."""
        require(self.user, Action.TRIAGE)
        if not items:
            raise UsageError("no staged account ids given")
        wanted = [int(sid) for sid, _ in items]
        twice = next((sid for i, sid in enumerate(wanted) if sid in wanted[:i]), None) \
            if len(set(wanted)) != len(wanted) else None
        if twice is not None:
            raise UsageError(f"staged account {twice} is listed twice")
        with self.store.write() as db:
            self._plan_row(db, plan_id)
            rows = self._staged_many(db, plan_id, wanted)
            for row in rows:
                if row["state"] != "pending":
                    raise InvalidState(f"staged account {row['id']} is {row['state']}: "
                                       "Stop Ignoring it before adding it")
            listings = T.contacts_of(db, wanted)
            parties = self._parties(db, plan_id)
            top = db.execute("SELECT coalesce(max(id), 0) FROM plan_accounts").fetchone()[0]
            now = now_utc()
            accounts, history, links = [], [], []
            for number, (row, (_, values)) in enumerate(zip(rows, items, strict=True), 1):
                defaults = {
                    "description": row["description"],
                    "investment_type": row["default_investment_type"],
                    "owner": _owner_from(parties, row["integration_id"],
                                         listings.get(row["id"], ())),
                    "balance": row["balance"],
                    "number_last4": row["number_last4"],
                }
                merged = {**defaults, **{k: v for k, v in values.items() if v is not None}}
                if merged.get("balance") is None:
                    raise ValidationFailed(
                        f"staged account {row['id']} has no balance from Redtail: "
                        "enter one (--balance)", field="balance")
                fields = validate_fields(merged, self.canonical_type).as_row()
                account_id = top + number  # what SQLite would pick; we hold the write lock
                accounts.append([account_id, plan_id, *(fields[k] for k in FIELDS), now, now])
                history.append([account_id, fields["balance"], "add", now])
                links.append([account_id, row["id"]])
            db.conn.executemany(
                f"INSERT INTO plan_accounts (id, plan_id, {', '.join(FIELDS)}, created_at, "  # noqa: S608
                f"updated_at) VALUES (?, ?, {', '.join('?' * len(FIELDS))}, ?, ?)", accounts)
            db.conn.executemany("INSERT INTO balance_history (plan_account_id, balance, source, "
                                "at) VALUES (?, ?, ?, ?)", history)
            db.conn.executemany(
                "UPDATE staged_accounts SET state = 'linked', linked_account_id = ?, "
                "link_state = 'active', version = version + 1 WHERE id = ?", links)
            created = [a[0] for a in accounts]
            added = T.rows_by_id(db, "plan_accounts", created)
            R.audit_many(db, user_name=self.user.name, plan_id=plan_id, action="add to plan",
                         object_type="account", entries=[
                             (a["id"], None, R.row_json(a),
                              f"from staged {row['id']} (Redtail account "
                              f"{row['redtail_account_id']})")
                             for a, row in zip(added, rows, strict=True)])
            step = UndoStep(f"add {len(items):,}", plan_id)
            step.staged_before = [StagedBefore.of(r) for r in rows]
            step.created_accounts = created
            self._finish_step(db, step)
            link_rows = T.links_of(db, created)
            return [R.account_from(a, link_rows.get(a["id"])) for a in added]

    def bulk_add_to_plan(self, plan_id: int, staged_ids: Iterable[int],
                         owner: str | None = None) -> BulkAdd:
        """Bulk Add to Plan: every row with its own defaults (one owner for all when given),
        except rows whose balance is unknown or whose type needs review, which stay pending
        with the reason. One transaction, one undo step."""
        require(self.user, Action.TRIAGE)
        values = {"owner": canonical_owner(owner)} if owner else {}
        with self.store.write() as db:
            self._plan_row(db, plan_id)
            rows = self._staged_many(db, plan_id, staged_ids)
            left = _left_pending(rows)
            eligible = [(r["id"], values) for r in rows if r["id"] not in left]
            added = self.add_many_to_plan(plan_id, eligible) if eligible else []
        return BulkAdd(added=added, left_pending=left)

    def bulk_add_check(self, plan_id: int, staged_ids: Iterable[int]) -> dict[int, str]:
        """What bulk_add_to_plan would leave pending, and why (nothing written)."""
        require(self.user, Action.TRIAGE)
        db = self.store.db
        with self.store.read():
            self._plan_row(db, plan_id)
            return _left_pending(self._staged_many(db, plan_id, staged_ids))

    # ------------------------------------------------------------------ undo

    @property
    def undo_depth(self) -> int:
        return len(self._undo)

    def undo_label(self) -> str | None:
        return self._undo[-1].label if self._undo else None

    def undo(self) -> str:
        """Restore the rows of the last triage action; refused if they changed since."""
        require(self.user, Action.TRIAGE)
        if not self._undo:
            raise InvalidState("nothing to undo")
        step = self._undo[-1]
        # (table, id) -> (version before the step, version after this undo)
        rewound: dict[tuple[str, int], tuple[int, int]] = {}
        with self.store.write() as db:
            found = {table: _fingerprints(db, table, [i for t, i in step.versions_after
                                                      if t == table])
                     for table in ("staged_accounts", "plan_accounts")}
            for (table, row_id), version in step.versions_after.items():
                now = found[table].get(row_id)
                gone = now is None or now[1] != step.identities[(table, row_id)]
                if gone or now is None or now[0] != version:
                    self._undo.pop()  # it can never apply again; the next undo goes further
                    raise UndoConflict(
                        f"cannot undo {_undo_what(step)}: {_step_row_name(db, step, table, row_id)} "
                        f"{'is gone' if gone else 'changed'} since "
                        "(a pull, another user or another action)")
            before: dict[str, Any] = {}
            after: dict[str, Any] = {}
            cols = ", ".join(UNDONE_STAGED_COLUMNS)
            current = {r[0]: r[1:] for r in db.execute(
                f"SELECT s.id, {cols} FROM json_each(?) j CROSS JOIN staged_accounts s "  # noqa: S608
                "ON s.id = j.value", [T.id_list(r.id for r in step.staged_before)]).fetchall()}
            updates = []
            for row in step.staged_before:
                # only what triage changed: a pull's bookkeeping since (last_updated,
                # missing_streak) does not bump versions and must not be rolled back
                was = current[row.id]
                restore = {k: v for k, v, c in zip(UNDONE_STAGED_COLUMNS, row.values, was,
                                                   strict=True) if c != v}
                version = step.versions_after[("staged_accounts", row.id)]
                if restore:
                    updates.append([*row.values, row.id])
                    before[f"staged {row.id}"] = {
                        k: c for k, c in zip(UNDONE_STAGED_COLUMNS, was, strict=True)
                        if k in restore}
                    after[f"staged {row.id}"] = restore
                    version += 1
                rewound[("staged_accounts", row.id)] = (row.version, version)
            db.conn.executemany(
                f"UPDATE staged_accounts SET {', '.join(f'{c} = ?' for c in UNDONE_STAGED_COLUMNS)}, "  # noqa: S608
                "version = version + 1 WHERE id = ?", updates)
            for account in step.accounts_before:
                cur = R.get_row(db, "plan_accounts", account["id"])
                assert cur is not None
                if Decimal(cur["balance"]) != Decimal(account["balance"]):
                    R.update_row(db, "plan_accounts", account["id"],
                                 {"balance": account["balance"], "updated_at": now_utc()})
                    R.add_history(db, account["id"], Decimal(account["balance"]), "undo")
                    before[f"account {account['id']}"] = {"balance": cur["balance"]}
                    after[f"account {account['id']}"] = {"balance": account["balance"]}
                v = R.one(db, "SELECT version FROM plan_accounts WHERE id = ?", [account["id"]])
                assert v is not None
                rewound[("plan_accounts", account["id"])] = (account["version"], v["version"])
            if step.created_accounts:
                db.execute("DELETE FROM plan_accounts WHERE id IN "
                           "(SELECT value FROM json_each(?))", [T.id_list(step.created_accounts)])
                for account_id in step.created_accounts:
                    before[f"account {account_id}"] = "created"
                    after[f"account {account_id}"] = "deleted"
            self._audit(db, step.plan_id, "undo", "plan", step.plan_id, before, after,
                        detail=f"undid {step.label}: "
                        f"{_names_list(_staged_before_name(r) for r in step.staged_before)}")
        self._undo.pop()
        # An older step that left a row as this step found it can still be undone: the row is
        # back to what that step left (only this step changed it since).
        for older in self._undo:
            for key, expected in older.versions_after.items():
                if key in rewound and rewound[key][0] == expected:
                    older.versions_after[key] = rewound[key][1]
        return step.label

    # ------------------------------------------------------------------ integrations & contacts

    def list_integrations(self) -> list[Integration]:
        require(self.user, Action.ADVISOR_INTEGRATION)
        return [R.integration_from(r) for r in R.dict_rows(
            self.store.db, "SELECT * FROM integrations WHERE owner_user_id = ? ORDER BY id",
            [self.user.id])]

    def integration(self, integration_id: int) -> Integration:
        """An integration of the current advisor (or, for a pull, of a visible plan's owner)."""
        row = R.one(self.store.db, "SELECT * FROM integrations WHERE id = ?", [integration_id])
        if row is None or (row["owner_user_id"] != self.user.id):
            raise NotFound(f"integration {integration_id} not found")
        return R.integration_from(row)

    def save_integration(self, *, environment: str, base_url: str, username: str,
                         secret_ref_factory: Callable[[], str], partner: str = PARTNER,
                         ) -> tuple[Integration, bool]:
        """Create the integration, or re-key the existing one for the same URL and username.

        Returns (integration, created). The caller stores the secret under `secret_ref`.
        """
        require(self.user, Action.ADVISOR_INTEGRATION)
        with self.store.write() as db:
            row = R.one(db, "SELECT * FROM integrations WHERE owner_user_id = ? AND partner = ? "
                        "AND base_url = ? AND username = ? COLLATE NOCASE",
                        [self.user.id, partner, base_url, username])
            if row is not None:
                db.execute("UPDATE integrations SET status = 'connected', status_message = NULL, "
                           "environment = ? WHERE id = ?", [environment, row["id"]])
                after = R.get_row(db, "integrations", row["id"])
                self._audit(db, None, "integration reconnect", "integration", row["id"],
                            {"status": row["status"]}, {"status": "connected"})
                assert after is not None
                return R.integration_from(after), False
            cur = db.execute(
                "INSERT INTO integrations (owner_user_id, partner, environment, base_url, username,"
                " secret_ref, status, created_at) VALUES (?, ?, ?, ?, ?, ?, 'connected', ?)",
                [self.user.id, partner, environment, base_url, username, secret_ref_factory(),
                 now_utc()])
            after = R.get_row(db, "integrations", int(cur.lastrowid or 0))
            assert after is not None
            self._audit(db, None, "integration add", "integration", after["id"], None,
                        {k: after[k] for k in ("base_url", "username", "environment")})
        return R.integration_from(after), True

    def set_integration_status(self, integration_id: int, status: str,
                               message: str | None = None) -> None:
        """Mark an integration (e.g. 'needs re-authentication' after a 401); no role check:
        any user's pull may learn that the stored key stopped working."""
        with self.store.write() as db:
            db.execute("UPDATE integrations SET status = ?, status_message = ? WHERE id = ?",
                       [status, message, integration_id])

    def remove_integration(self, integration_id: int, *, keep_accounts: bool = True) -> None:
        """Remove an integration. Its linked accounts are kept as manual accounts
        (keep_accounts) or deleted; its pending and ignored rows go."""
        require(self.user, Action.ADVISOR_INTEGRATION)
        with self.store.write() as db:
            integ = self.integration(integration_id)
            linked = R.dict_rows(db, "SELECT * FROM staged_accounts WHERE integration_id = ? "
                                 "AND state = 'linked'", [integration_id])
            for link in linked:
                self._unlink(db, link)
                if not keep_accounts:
                    db.execute("DELETE FROM plan_accounts WHERE id = ?", [link["linked_account_id"]])
            db.execute("DELETE FROM integrations WHERE id = ?", [integration_id])
            self._audit(db, None, "integration remove", "integration", integration_id,
                        {"base_url": integ.base_url, "username": integ.username}, None,
                        detail=f"{len(linked)} linked account(s) "
                        f"{'kept as manual' if keep_accounts else 'deleted'}")

    def contacts(self, plan_id: int) -> list[PlanContact]:
        require(self.user, Action.PLAN_INTEGRATION)
        db = self.store.db
        self._plan_row(db, plan_id)
        return [R.contact_from(r) for r in R.dict_rows(
            db, "SELECT * FROM plan_contacts WHERE plan_id = ? ORDER BY id", [plan_id])]

    @staticmethod
    def _guess_party(plan: Mapping[str, Any], name: str, first_name: str) -> str:
        """The contact's place in the plan from its name: the plan's client or co-client
        (whole name, else first name), else "other" (a household member who is neither, e.g.
        a child: their accounts do not make an account Joint)."""
        full = name.casefold().split()
        first = first_name.casefold().strip() or (full[0] if full else "")
        people = [("client", (plan["client"] or "").casefold().split()),
                  ("co_client", (plan["co_client"] or "").casefold().split())]
        for party, words in people:
            if words and full == words:
                return party
        for party, words in people:
            if words and first and first == words[0]:
                return party
        return "other"

    def link_contact(self, plan_id: int, integration_id: int, redtail_contact_id: int,
                     name: str, first_name: str = "", party: str | None = None) -> PlanContact:
        """Record a Redtail contact as linked to the plan (the caller fetched it). No-op when
        already linked. Relinking a contact revives its source-unlinked accounts."""
        require(self.user, Action.LINK_CONTACT)
        with self.store.write() as db:
            plan = self._plan_row(db, plan_id)
            self.integration(integration_id)
            row = R.one(db, "SELECT * FROM plan_contacts WHERE plan_id = ? AND integration_id = ? "
                        "AND redtail_contact_id = ?", [plan_id, integration_id, redtail_contact_id])
            if row is None:
                if party not in (None, "client", "co_client", "other"):
                    raise ValidationFailed("party must be client, co_client or other",
                                           field="party")
                cur = db.execute(
                    "INSERT INTO plan_contacts (plan_id, integration_id, redtail_contact_id, name, "
                    "party, linked_at) VALUES (?, ?, ?, ?, ?, ?)",
                    [plan_id, integration_id, redtail_contact_id, name,
                     party or self._guess_party(plan, name, first_name), now_utc()])
                row = R.get_row(db, "plan_contacts", int(cur.lastrowid or 0))
                assert row is not None
                self._audit(db, plan_id, "link contact", "contact", redtail_contact_id, None, row)
                revived = R.dict_rows(
                    db, "SELECT s.* FROM staged_accounts s JOIN staged_account_contacts c ON "
                    "c.staged_id = s.id WHERE s.plan_id = ? AND s.integration_id = ? AND "
                    "c.redtail_contact_id = ? AND s.link_state = 'source_unlinked'",
                    [plan_id, integration_id, redtail_contact_id])
                for s in revived:
                    state = s["prior_link_state"] or "active"
                    R.update_row(db, "staged_accounts", s["id"],
                                 {"link_state": state, "prior_link_state": None})
                    self._audit(db, plan_id, "link revived", "account", s["linked_account_id"],
                                {"link_state": "source_unlinked"}, {"link_state": state})
        return R.contact_from(row)

    def unlink_contact(self, plan_id: int, integration_id: int, redtail_contact_id: int) -> None:
        """Remove a contact link: its pending/ignored rows no other linked contact reaches are
        deleted (audited); its linked accounts become source-unlinked (kept, not updated)."""
        require(self.user, Action.LINK_CONTACT)
        with self.store.write() as db:
            self._plan_row(db, plan_id)
            row = R.one(db, "SELECT * FROM plan_contacts WHERE plan_id = ? AND integration_id = ? "
                        "AND redtail_contact_id = ?", [plan_id, integration_id, redtail_contact_id])
            if row is None:
                raise NotFound(f"contact {redtail_contact_id} is not linked to plan {plan_id}")
            db.execute("DELETE FROM plan_contacts WHERE id = ?", [row["id"]])
            self._audit(db, plan_id, "unlink contact", "contact", redtail_contact_id, row, None)
            others = {r["redtail_contact_id"] for r in R.dict_rows(
                db, "SELECT redtail_contact_id FROM plan_contacts WHERE plan_id = ? AND "
                "integration_id = ?", [plan_id, integration_id])}
            staged = R.dict_rows(
                db, "SELECT s.* FROM staged_accounts s JOIN staged_account_contacts c ON "
                "c.staged_id = s.id WHERE s.plan_id = ? AND s.integration_id = ? AND "
                "c.redtail_contact_id = ?", [plan_id, integration_id, redtail_contact_id])
            listing = R.staged_contacts(db, [s["id"] for s in staged])
            for s in staged:
                reached = set(listing.get(s["id"], [])) & others
                if reached:
                    continue
                if s["state"] == "linked":
                    if s["link_state"] != "source_unlinked":
                        R.update_row(db, "staged_accounts", s["id"],
                                     {"link_state": "source_unlinked",
                                      "prior_link_state": s["link_state"]})
                        self._audit(db, plan_id, "source unlinked", "account",
                                    s["linked_account_id"], {"link_state": s["link_state"]},
                                    {"link_state": "source_unlinked"})
                else:
                    db.execute("DELETE FROM staged_accounts WHERE id = ?", [s["id"]])
                    self._audit(db, plan_id, "staged removed", "staged", s["id"], s, None,
                                detail=f"contact {redtail_contact_id} unlinked")

    # ------------------------------------------------------------------ export

    def export_rows(self, plan_id: int) -> list[dict[str, Any]]:
        """One row per account, pending and ignored row (what this role may see)."""
        require(self.user, Action.EXPORT)
        detail = self.plan_detail(plan_id)
        out: list[dict[str, Any]] = []
        for a in detail.accounts:
            out.append({
                "state": "account", "id": a.id, "description": a.description,
                "investment_type": a.investment_type, "owner": a.owner, "balance": a.balance,
                "link": a.link.state.value if a.link else "",
                "redtail_account_id": a.link.redtail_account_id if a.link else "",
                "last_updated": (a.link.last_updated or "") if a.link else "",
            })
        for s in (*detail.pending, *detail.ignored):
            out.append({
                "state": s.state.value, "id": s.id, "description": s.description,
                "investment_type": s.default_investment_type, "owner": "",
                "balance": s.balance, "link": "", "redtail_account_id": s.redtail_account_id,
                "last_updated": s.last_updated or "",
            })
        return out


def _left_pending(rows: list[dict[str, Any]]) -> dict[int, str]:
    """Rows a bulk Add to Plan leaves pending: an unknown balance or a type to review needs a
    person (the single Add to Plan asks for them in the editor)."""
    left: dict[int, str] = {}
    for row in rows:
        if row["state"] != "pending":
            raise InvalidState(f"staged account {row['id']} is {row['state']}: "
                               "Stop Ignoring it before adding it")
        why = [text for flag, text in ((row["balance"] is None, "balance unknown"),
                                       (row["review_type"], "type needs review")) if flag]
        if why:
            left[row["id"]] = " and ".join(why)
    return left


def _with_suggestions(staged: list[StagedAccount], unlinked: list[PlanAccount]
                      ) -> list[StagedAccount]:
    """Each pending row with its suggested link (domain/suggest.py). Only accounts with the
    same last 4 or the same investment type are scored: without either a score cannot reach
    the threshold (2 + 1 < 4), so the answer is the same at a fraction of the cost."""
    by_last4: dict[str, list[PlanAccount]] = {}
    by_type: dict[str, list[PlanAccount]] = {}
    for a in unlinked:
        if a.number_last4:
            by_last4.setdefault(a.number_last4, []).append(a)
        by_type.setdefault(a.investment_type, []).append(a)
    out = []
    for s in staged:
        found = None
        if s.state == "pending":
            candidates = {a.id: a for a in (*by_last4.get(s.number_last4 or "", ()),
                                            *by_type.get(s.default_investment_type, ()))}
            if candidates or not PREFILTER:
                found = suggestions.suggest(s, candidates.values() if PREFILTER else unlinked)
        out.append(s if found == s.suggested_account_id
                   else s.replace(suggested_account_id=found))
    return out


def _unlink_detail(link: Mapping[str, Any] | None, back_to_pending: bool) -> str:
    if link is None:
        return ""
    if back_to_pending:
        return f"Redtail account {link['redtail_account_id']} back to Pending"
    return (f"Redtail account {link['redtail_account_id']} dropped: its contact is no longer "
            "linked to the plan")


__all__ = ["Workspace", "TableQuery", "BulkAdd", "resolve_user", "current_user_name"]
