"""Triage of staged rows: ignore, stop ignoring, link, add (one or in bulk), suggestions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from ..domain import triage
from ..domain.accounts import FIELDS, validate_fields
from ..domain.errors import (
    InvalidState,
    NotFound,
    UsageError,
    ValidationFailed,
)
from ..domain.mapping import canonical_owner
from ..domain.models import (
    PlanAccount,
    StagedAccount,
    legacy_id,
)
from ..domain.permissions import Action, require
from ..store import accounts as A
from ..store import contacts as C
from ..store import rows as R
from ..store import staged as S
from ..store import tables as T
from ..store.db import Database, now_utc
from .accounts import Accounts
from .core import (
    UNDO_LEVELS,
    BulkAdd,
    StagedBefore,
    UndoStep,
    _owner_from,
)


class Staging(Accounts):
    """Triage of the staged rows of a plan (SPEC §3)."""

    # ------------------------------------------------------------------ triage

    def _finish_step(self, db: Database, step: UndoStep) -> None:
        """Remember the versions the step left (one query per table, however many rows)."""
        wanted: dict[str, list[int]] = {
            "staged_accounts": [r.id for r in step.staged_before],
            "plan_accounts": [r["id"] for r in step.accounts_before] + step.created_accounts,
        }
        for table, ids in wanted.items():
            found = S.fingerprints(db, table, ids)
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
        rows = []
        for wanted, row in S.many_in_plan(db, plan_id, ids):
            if row is None or row["state"] == "linked":
                raise NotFound(f"staged account {wanted} not found in plan {plan_id}")
            rows.append(row)
        return rows

    def ignore(self, plan_id: int, staged_ids: Iterable[int], reason: str | None = None
               ) -> list[int]:
        """Pending → Ignored; returns the ids that changed (already ignored: no-op)."""
        return self._move(plan_id, staged_ids, triage.Move.IGNORE,
                          {"ignore_reason": (reason or "").strip() or None})

    def stop_ignoring(self, plan_id: int, staged_ids: Iterable[int]) -> list[int]:
        return self._move(plan_id, staged_ids, triage.Move.STOP_IGNORING,
                          {"ignore_reason": None})

    def _move(self, plan_id: int, staged_ids: Iterable[int], move: triage.Move,
              extra: dict[str, Any]) -> list[int]:
        """One UPDATE for every row that moves, one audit entry per row (executemany); which
        rows move, and where, is domain/triage.py's answer (all or none)."""
        require(self.user, Action.TRIAGE)
        with self.store.write() as db:
            self._plan_row(db, plan_id)
            rows = self._staged_many(db, plan_id, staged_ids)
            outcomes = [triage.apply(triage.status_of(r["state"], r["link_state"]), move,
                                     what=f"staged account {r['id']}") for r in rows]
            moving = [r for r, o in zip(rows, outcomes, strict=True) if o.changed]
            if not moving:
                return []
            done = next(o for o in outcomes if o.changed)
            dst, action = str(done.state), done.audit
            changed = [r["id"] for r in moving]
            sets = {"state": dst, **extra}
            S.set_many(db, changed, sets)
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
            if S.linked_account_id(db, plan_id, staged_id) == account_id:
                return self.account(plan_id, account_id)  # already so: a no-op
            staged = self._staged_row(db, plan_id, staged_id)
            triage.apply(triage.status_of(staged["state"], staged["link_state"]),
                         triage.Move.LINK, what=f"staged account {staged_id}")
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
                         "redtail_account_id": legacy_id(staged["source_account_id"])})
            self._finish_step(db, step)
        return self.account(plan_id, account_id)

    def default_owner(self, plan_id: int, staged: StagedAccount) -> str:
        """Listed only under the client → Client, only under the co-client → Co-client, both → Joint."""
        return _owner_from(self._parties(self.store.db, plan_id), staged.integration_id,
                           staged.contact_ids)

    def _parties(self, db: Database, plan_id: int) -> dict[tuple[int, str], str]:
        """(integration, Redtail contact) → client / co_client, for the plan's linked contacts."""
        return C.parties(db, plan_id)

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
                triage.apply(triage.status_of(row["state"], row["link_state"]),
                             triage.Move.ADD, what=f"staged account {row['id']}")
            listings = T.contacts_of(db, wanted)
            parties = self._parties(db, plan_id)
            top = A.next_id(db) - 1
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
            A.insert_many(db, accounts, history)
            S.link_many(db, links)
            created = [a[0] for a in accounts]
            added = T.rows_by_id(db, "plan_accounts", created)
            R.audit_many(db, user_name=self.user.name, plan_id=plan_id, action="add to plan",
                         object_type="account", entries=[
                             (a["id"], None, R.row_json(a),
                              f"from staged {row['id']} (Redtail account "
                              f"{row['source_account_id']})")
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


def _left_pending(rows: list[dict[str, Any]]) -> dict[int, str]:
    """Rows a bulk Add to Plan leaves pending: an unknown balance or a type to review needs a
    person (the single Add to Plan asks for them in the editor)."""
    left: dict[int, str] = {}
    for row in rows:
        triage.apply(triage.status_of(row["state"], row["link_state"]), triage.Move.ADD,
                     what=f"staged account {row['id']}")
        why = [text for flag, text in ((row["balance"] is None, "balance unknown"),
                                       (row["review_type"], "type needs review")) if flag]
        if why:
            left[row["id"]] = " and ".join(why)
    return left


