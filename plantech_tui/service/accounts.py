"""Use cases of plan accounts: add, edit, delete, and a link's pause, play and stop."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..domain import triage
from ..domain.accounts import FIELDS, AccountFields, validate_fields
from ..domain.errors import (
    InvalidState,
)
from ..domain.models import (
    PlanAccount,
    StagedAccount,
    legacy_id,
)
from ..domain.permissions import Action, require
from ..store import accounts as A
from ..store import rows as R
from ..store import staged as S
from ..store.db import Database, now_utc
from .plans import Plans


class Accounts(Plans):
    """Plan accounts and their links."""

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
        account_id = A.insert(db, plan_id, fields.as_row())
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
            back = self._unlink(db, link, triage.Move.DELETE) if link is not None else False
            A.delete(db, account_id)
            self._audit(db, plan_id, "account delete", "account", account_id, before, None,
                        detail=_unlink_detail(link, back))
        if link is None or not back or not self.can(Action.PLAN_INTEGRATION):
            return None
        return self.staged(plan_id, link["id"])

    def _unlink(self, db: Database, link: dict[str, Any],
                move: triage.Move = triage.Move.STOP) -> bool:
        """Break a link (Stop, or the plan account's Delete); the Redtail account returns to
        Pending (True). A source-unlinked account that no linked contact reaches any more is
        dropped instead (False), as unlinking its contact would have dropped it had it been
        pending (SPEC §3): domain/triage.py decides."""
        status = triage.status_of(link["state"], link["link_state"])
        reached = status is not triage.Status.SOURCE_UNLINKED or self._reached(db, link)
        if triage.apply(status, move, reached=reached).removes_row:
            S.delete(db, link["id"])
            self._audit(db, link["plan_id"], "staged removed", "staged", link["id"], link, None,
                        detail="link broken while its Redtail contact is unlinked from the plan")
            return False
        R.update_row(db, "staged_accounts", link["id"], {
            "state": "pending", "linked_account_id": None, "link_state": None,
            "prior_link_state": None})
        return True

    def _reached(self, db: Database, staged: Mapping[str, Any]) -> bool:
        """Does a contact linked to the plan list this Redtail account?"""
        return S.reached(db, staged)

    def _linked_account(self, db: Database, plan_id: int, account_id: int
                        ) -> tuple[dict[str, Any], dict[str, Any]]:
        self._plan_row(db, plan_id)
        row = self._account_row(db, plan_id, account_id)
        link = self._link_of(db, account_id)
        if link is None:
            raise InvalidState(f"account {account_id} is a manual account, not linked to Redtail")
        return row, link

    def _set_link_state(self, plan_id: int, account_id: int, move: triage.Move) -> PlanAccount:
        """Pause or Play, as domain/triage.py allows it."""
        require(self.user, Action.PAUSE_PLAY_STOP)
        with self.store.write() as db:
            _, link = self._linked_account(db, plan_id, account_id)
            outcome = triage.apply(triage.status_of(link["state"], link["link_state"]), move,
                                   what=f"account {account_id}")
            if outcome.changed:
                R.update_row(db, "staged_accounts", link["id"],
                             {"link_state": outcome.link_state})
                self._audit(db, plan_id, outcome.audit, "account", account_id,
                            {"link_state": link["link_state"]},
                            {"link_state": outcome.link_state})
        return self.account(plan_id, account_id)

    def pause(self, plan_id: int, account_id: int) -> PlanAccount:
        return self._set_link_state(plan_id, account_id, triage.Move.PAUSE)

    def play(self, plan_id: int, account_id: int) -> PlanAccount:
        return self._set_link_state(plan_id, account_id, triage.Move.PLAY)

    def stop(self, plan_id: int, account_id: int) -> PlanAccount:
        """Break the link, keep the account; the Redtail account returns to Pending."""
        require(self.user, Action.PAUSE_PLAY_STOP)
        with self.store.write() as db:
            row, link = self._linked_account(db, plan_id, account_id)
            back = self._unlink(db, link)
            self._audit(db, plan_id, "account stop", "account", account_id,
                        {"link": legacy_id(link["source_account_id"]), "link_state": link["link_state"]},
                        {"link": None}, detail=_unlink_detail(link, back))
        return self.account(plan_id, account_id)


def _unlink_detail(link: Mapping[str, Any] | None, back_to_pending: bool) -> str:
    if link is None:
        return ""
    if back_to_pending:
        return f"Redtail account {link['source_account_id']} back to Pending"
    return (f"Redtail account {link['source_account_id']} dropped: its contact is no longer "
            "linked to the plan")

