"""Use cases of plans: the list, totals, a plan's detail, the windowed tables, export rows."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, TypeVar

from ..domain import suggest as suggestions
from ..domain.errors import (
    UsageError,
    ValidationFailed,
)
from ..domain.models import (
    AuditEntry,
    Plan,
    PlanAccount,
    PlanDetail,
    PlanSummary,
    StagedAccount,
)
from ..domain.permissions import Action, require
from ..store import plans as P
from ..store import rows as R
from ..store import tables as T
from ..store.db import Database
from ..store.tables import TableQuery
from .core import (
    PREFILTER,
    WorkspaceCore,
)

_T = TypeVar("_T")


class Plans(WorkspaceCore):
    """Plans, their detail and the windowed tables."""

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
            plans = P.visible_rows(db, self.user.id)
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
            for balance, linked in P.account_balances(db, pid):
                totals["accounts"] += 1
                totals["total_linked" if linked else "total_manual"] += Decimal(balance)
            totals["last_pull"] = P.last_ok_pull(db, pid)
            if not see_staged:
                continue
            counts = T.staged_counts(db, pid)
            totals["pending"] = counts.get("pending", 0)
            totals["ignored"] = counts.get("ignored", 0)
            totals["total_pending"] = P.pending_total(db, pid)
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
            new_id = P.insert(db, name, people[0] if people else "",
                              people[1] if len(people) > 1 else None, self.user.id)
            row = R.get_row(db, "plans", new_id)
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
            P.update(db, plan_id, changes)
            after = R.get_row(db, "plans", plan_id)
            self._audit(db, plan_id, "plan rename", "plan", plan_id, before, after)
        assert after is not None
        return R.plan_from(after)

    def delete_plan(self, plan_id: int) -> None:
        require(self.user, Action.MANAGE_PLANS)
        with self.store.write() as db:
            before = self._plan_row(db, plan_id)
            P.delete(db, plan_id)
            self._audit(db, plan_id, "plan delete", "plan", plan_id, before, None)

    def plan_detail(self, plan_id: int) -> PlanDetail:
        require(self.user, Action.VIEW_PLAN)
        db = self.store.db
        with self.store.read():
            plan = R.plan_from(self._plan_row(db, plan_id))
            accounts = R.load_accounts(db, plan_id)
            if self.can(Action.PLAN_INTEGRATION):
                contacts = self._partnered(db, [R.contact_from(r) for r in P.contacts(db, plan_id)])
                staged = self._partnered(db, R.load_staged(db, plan_id))
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
            return self._partnered(db, [R.staged_from(
                row, R.staged_contacts(db, [staged_id]).get(staged_id, ()))])[0]

    def balance_history(self, plan_id: int, account_id: int) -> list[tuple[str, Decimal, str]]:
        """(when, balance, source) oldest first."""
        require(self.user, Action.VIEW_PLAN)
        db = self.store.db
        self._plan_row(db, plan_id)
        self._account_row(db, plan_id, account_id)
        return [(r["at"], Decimal(r["balance"]), r["source"])
                for r in P.balance_history(db, account_id)]

    def audit_log(self, plan_id: int) -> list[AuditEntry]:
        require(self.user, Action.PLAN_INTEGRATION)
        db = self.store.db
        self._plan_row(db, plan_id)
        return [R.audit_from(r) for r in P.audit_entries(db, plan_id)]

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
        return P.staged_in_state(self.store.db, plan_id, state, staged_ids)

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
        return self._partnered(db, [R.staged_from(r, listings.get(r["id"], ())) for r in rows])

    def _unlinked_accounts(self, db: Database, plan_id: int) -> list[PlanAccount]:
        return [R.account_from(r, None) for r in P.unlinked_accounts(db, plan_id)]

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
                if e.object_type not in P.NAMED_OBJECTS or e.object_id is None:
                    continue
                name = recorded(e)
                if name is None:
                    name = P.object_name(db, plan_id, e.object_type, e.object_id)
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
                where=P.visible_pending_where(), params=[self.user.id, self.user.id])
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
