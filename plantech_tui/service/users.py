"""Use cases of users: who acts (resolve_user), adding, changing and removing users, their audit."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable, Mapping
from typing import Any

from ..domain.errors import (
    InvalidState,
    NotFound,
    PermissionDenied,
    UnknownUser,
    UsageError,
    ValidationFailed,
)
from ..domain.models import (
    AuditEntry,
    Role,
    User,
)
from ..domain.permissions import Action, require, require_user_change
from ..store import rows as R
from ..store import tables as T
from ..store import users
from ..store.db import Database, Store
from ..store.tables import TableQuery
from .core import (
    WorkspaceCore,
    _unseen_characters,
)


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
        row = users.by_name(db, name)
        if row is None:
            if users.any_user(db):
                raise UnknownUser(
                    f"unknown user {name!r}: an advisor must add it first "
                    f"(plantech users add {name!r} --role …)"
                )
            users.insert(db, name, "advisor", can_edit=True, is_admin=True)
            row = users.by_name(db, name)
            assert row is not None
            R.audit(
                db, user_name=name, plan_id=None, action="user add", object_type="user",
                object_id=row["id"], after=row, detail="first user of a new database: advisor and administrator",
            )
    return R.user_from(row)


class Users(WorkspaceCore):
    """Users and their audit (SPEC §1)."""

    # ------------------------------------------------------------------ users

    # Who may create and change which user is `user_change_refusal` (domain/permissions.py,
    # README "Who manages users"); each method re-reads the acting user inside its
    # transaction, so a session opened before its user was demoted acts as what it is now.

    def _actor(self, db: Database) -> User:
        row = users.by_id(db, self.user.id)
        if row is None:
            raise PermissionDenied(f"{self.user.name} is no longer a user")
        return R.user_from(row)

    @staticmethod
    def _plans_of(db: Database, user_id: int) -> set[int]:
        """The plans a user owns or was granted (an advisor's "own plans")."""
        return users.visible_plan_ids(db, user_id)

    @staticmethod
    def _grants_of(db: Database, user_id: int) -> list[int]:
        return users.grants_of(db, user_id)

    @staticmethod
    def _keep_an_admin(db: Database, before: Mapping[str, Any] | None, still_admin: bool) -> None:
        if before is None or not before["is_admin"] or still_admin:
            return
        others = users.other_admins(db, before["id"])
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
            before = users.by_name(db, name)
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
                users.insert(db, name, role_.value, can_edit, is_admin)
            else:
                users.update(db, before["id"], role_.value, can_edit, is_admin)
            after = users.by_name(db, name)
            assert after is not None
            if before != after:
                self._audit(db, None, "user add" if before is None else "user edit", "user",
                            after["id"], before, after)
            for pid in plans:
                if pid in held:
                    continue
                users.grant(db, after["id"], pid)
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
            before = users.by_name(db, name)
            if before is None:
                raise NotFound(f"user {name!r} not found")
            target = R.user_from(before)
            held = self._grants_of(db, target.id)
            require_user_change(actor, target, target.role, target.is_admin,
                                sorted(self._plans_of(db, target.id)), self._plans_of(db, actor.id))
            self._keep_an_admin(db, before, False)
            owns = users.owned_count(db, target.id)
            if owns:
                raise InvalidState(
                    f"{target.name} owns plans or Redtail integrations and stays a user "
                    f"(make them a professional without --can-edit instead)")
            users.delete(db, target.id)
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
        everyone = [R.user_from(r) for r in users.all_users(db)]
        grants = users.all_grants(db)
        if actor.is_admin:
            return [(u, grants.get(u.id, [])) for u in everyone]
        mine = self._plans_of(db, actor.id)
        owners = users.owners_of(db, sorted(mine))
        out = []
        for u in everyone:
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
        seen = [u.id for u, _ in self._visible_users(db, actor)]
        return users.user_audit_scope(t, seen, sorted(self._plans_of(db, actor.id)))

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

