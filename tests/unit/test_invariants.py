"""SPEC §3's one-state invariant under random sequences of actions (SPEC §10): a hypothesis
state machine drives the real Workspace on a real SQLite file — triage, accounts, Pause /
Play / Stop, contact links, pulls refreshing rows, undo, and invalid or refused actions by
three users — and checks after every step that

* every Redtail account known to a plan is in exactly one state (pending, ignored, or linked
  to exactly one plan account), and the plan shows it in exactly one place;
* no link points at a missing account or an account of another plan; no account is linked twice;
* pending and ignored rows are reached by a linked contact; a source-unlinked link is not;
* the database matches a simple model of what each action should have done, a refused or
  invalid action changed nothing (audit log included), and every change was audited.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from plantech_tui.domain.errors import (
    InvalidState,
    NotFound,
    PermissionDenied,
    PlantechError,
    UndoConflict,
    ValidationFailed,
)
from plantech_tui.partners.redtail.partner import builtin_mapping
from plantech_tui.service.workspace import UNDO_LEVELS, Workspace, resolve_user
from plantech_tui.store.db import Store
from tests.helpers import audit_rows, make_integration, snapshot, stage

MAPPING = builtin_mapping()
PLANS = (1, 2)
CONTACTS = {1: (101, 102, 103), 2: (201, 202)}
INITIALLY_LINKED = {1: {101, 102}, 2: {201}}
USERS = ("alice",) * 6 + ("paula", "carl")  # mostly the advisor
EDITORS = {"alice", "paula"}  # paula: professional with can_edit; carl: client without
MISSING = 999

balances = st.one_of(st.none(), st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1e6"),
                                            places=2, allow_nan=False, allow_infinity=False))


def build_template(path: Path) -> None:
    store = Store(path)
    ws = Workspace(store, resolve_user(store, "alice"), mapping=MAPPING)
    assert ws.create_plan("Addams", ["Gomez Addams", "Morticia Addams"]).id == 1
    assert ws.create_plan("Munsters", ["Herman Munster"]).id == 2
    assert make_integration(ws, ws.user.id) == 1
    for plan, contacts in {1: {101, 102, 103}, 2: {201}}.items():
        for c in sorted(contacts):
            ws.link_contact(plan, 1, c, f"Contact {c}", party="co_client" if c == 102 else None)
    ws.add_user("paula", "professional", True, PLANS)
    ws.add_user("carl", "client", False, PLANS)
    # a plan already in use: pending, ignored, manual, active and paused linked accounts
    for rid, listed, balance in ((4001, (101,), "100.00"), (4002, (102,), None),
                                 (4003, (101, 102), "2500.50"), (4004, (101,), "-10.00"),
                                 (4005, (102,), "7.00"), (4006, (101,), "8.00"),
                                 (4007, (101, 102), "9.00")):
        stage(ws, 1, 1, rid, contacts=listed, balance=balance, number_last4=str(rid))
    ws.ignore(1, [5])
    for description in ("Gomez 401(k)", "Savings"):
        ws.add_account(1, {"description": description, "investment_type": "Cash",
                           "balance": "1000"})
    ws.add_to_plan(1, 6)
    ws.pause(1, ws.add_to_plan(1, 7).id)
    # Wednesday's account, linked, then her contact unlinked: source unlinked
    ws.add_to_plan(1, stage(ws, 1, 1, 4008, contacts=(103,), balance="12.00"))
    ws.unlink_contact(1, 1, 103)
    for rid in (4101, 4102):
        stage(ws, 2, 1, rid, contacts=(201,), balance="50.00", number_last4=str(rid))
    ws.add_account(2, {"description": "Herman's IRA", "investment_type": "Roth IRA",
                       "balance": "300"})
    store.close()


# ------------------------------------------------------------------ the model

_gen = iter(range(1, 10**9))


@dataclass
class SRow:
    plan: int
    rid: int
    contacts: frozenset[int]
    balance: Decimal | None
    description: str
    state: str = "pending"
    account: int | None = None
    link: str | None = None
    prior: str | None = None
    reason: str | None = None
    touch: int = 0
    gen: int = field(default_factory=lambda: next(_gen))


@dataclass
class ARow:
    plan: int
    balance: Decimal
    touch: int = 0
    gen: int = field(default_factory=lambda: next(_gen))


@dataclass
class Step:
    label: str
    staged: dict[int, tuple[SRow, int, int]] = field(default_factory=dict)  # copy, before, after
    accounts: dict[int, tuple[ARow, int, int]] = field(default_factory=dict)
    created: dict[int, tuple[int, int]] = field(default_factory=dict)  # gen, touch after


class Refused(Exception):
    """What the model expects instead of a change."""

    def __init__(self, kind: type[PlantechError], then: Any = None) -> None:
        super().__init__(kind.__name__)
        self.kind = kind
        self.then = then  # what the refusal still changes in the model (not in the database)


class TriageMachine(RuleBasedStateMachine):
    template: Path

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="plantech-inv-"))
        path = self.folder / "plantech.db"
        shutil.copyfile(self.template, path)
        self.ws: dict[str, Workspace] = {}
        for name in ("alice", "paula", "carl"):
            store = Store(path)
            self.ws[name] = Workspace(store, resolve_user(store, name), mapping=MAPPING)
        self.staged, self.accounts = self.load_model()
        self.linked = {p: set(c) for p, c in INITIALLY_LINKED.items()}
        self.stack: list[Step] = []
        self.next_rid = 5000

    def load_model(self) -> tuple[dict[int, SRow], dict[int, ARow]]:
        """The template's rows, as the model sees them."""
        conn = self.alice.store.conn
        listing: dict[int, set[int]] = {}
        for sid, contact in conn.execute("SELECT staged_id, CAST(source_contact_id AS INTEGER) "
                                         "FROM staged_account_contacts"):
            listing.setdefault(sid, set()).add(contact)
        staged = {r[0]: SRow(plan=r[1], rid=r[2], contacts=frozenset(listing[r[0]]),
                             balance=None if r[3] is None else Decimal(r[3]), description=r[4],
                             state=r[5], account=r[6], link=r[7], prior=r[8], reason=r[9])
                  for r in conn.execute(
                      "SELECT id, plan_id, CAST(source_account_id AS INTEGER), balance, description, state, "
                      "linked_account_id, link_state, prior_link_state, ignore_reason "
                      "FROM staged_accounts")}
        accounts = {r[0]: ARow(plan=r[1], balance=Decimal(r[2])) for r in conn.execute(
            "SELECT id, plan_id, balance FROM plan_accounts")}
        assert len(staged) == 10 and len(accounts) == 6
        assert [r.link for r in staged.values()].count("source_unlinked") == 1
        return staged, accounts

    def teardown(self) -> None:
        for ws in self.ws.values():
            ws.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -------------------------------------------------------------- model helpers

    @property
    def alice(self) -> Workspace:
        return self.ws["alice"]

    def reached(self, row: SRow) -> bool:
        return bool(row.contacts & self.linked[row.plan])

    def visible(self, plan: int, sid: int) -> SRow:
        row = self.staged.get(sid)
        if row is None or row.plan != plan or row.state == "linked":
            raise Refused(NotFound)
        return row

    def account_in(self, plan: int, aid: int) -> ARow:
        if plan not in PLANS:
            raise Refused(NotFound)
        acct = self.accounts.get(aid)
        if acct is None or acct.plan != plan:
            raise Refused(NotFound)
        return acct

    def link_of(self, aid: int) -> tuple[int, SRow] | None:
        for sid, row in self.staged.items():
            if row.account == aid:
                return sid, row
        return None

    def touch_s(self, sid: int) -> None:
        self.staged[sid].touch += 1

    def touch_a(self, aid: int) -> None:
        self.accounts[aid].touch += 1

    def push(self, step: Step) -> None:
        self.stack.append(step)
        del self.stack[:-UNDO_LEVELS]

    def unlink_row(self, sid: int) -> None:
        """Stop / Delete of a linked account: back to Pending, or dropped if unreachable."""
        row = self.staged[sid]
        if row.link == "source_unlinked" and not self.reached(row):
            del self.staged[sid]
        else:
            self.staged[sid] = replace(row, state="pending", account=None, link=None, prior=None,
                                       touch=row.touch + 1)

    def save(self) -> tuple[Any, ...]:
        """A copy of the model (rows are mutated in place; saved copies in steps are not)."""
        return ({sid: copy.copy(r) for sid, r in self.staged.items()},
                {aid: copy.copy(a) for aid, a in self.accounts.items()},
                {p: set(c) for p, c in self.linked.items()},
                [Step(s.label, dict(s.staged), dict(s.accounts), dict(s.created))
                 for s in self.stack])

    def act(self, user: str, needs: str, expect: Any, call: Any, label: str) -> Any:
        """Run `call` as `user`; `expect()` applies the model (or raises Refused). A refusal
        must leave the database exactly as it was; a change must be audited."""
        before = snapshot(self.alice)
        allowed = user == "alice" or (needs == "edit" and user in EDITORS)
        try:
            if not allowed:
                raise Refused(PermissionDenied)
            saved = self.save()
            try:
                changed = expect()
            except Refused as refused:
                self.staged, self.accounts, self.linked, self.stack = saved
                if refused.then is not None:
                    refused.then()
                raise
        except Refused as refused:
            event(f"{label}: {refused.kind.__name__}")
            with pytest.raises(refused.kind):
                call(self.ws[user])
            assert snapshot(self.alice) == before, f"refused {refused.kind.__name__} changed data"
            return None
        event(f"{label}: {'changed' if changed else 'no-op'}")
        result = call(self.ws[user])
        after = snapshot(self.alice)
        if changed:
            assert len(after["audit_log"]) > len(before["audit_log"]), "a change was not audited"
        else:
            assert after == before, "a no-op changed the database"
        return result

    # -------------------------------------------------------------- a pull staging accounts

    @rule(plan=st.sampled_from(PLANS), data=st.data(),
          news=st.lists(balances, min_size=1, max_size=3))
    def pull_stages_new_accounts(self, plan: int, data: st.DataObject,
                                 news: list[Decimal | None]) -> None:
        linked = sorted(self.linked[plan])
        if not linked:
            return
        for balance in news:
            contacts = data.draw(st.sets(st.sampled_from(linked), min_size=1))
            self.next_rid += 1
            sid = stage(self.alice, plan, 1, self.next_rid, contacts=sorted(contacts),
                        balance=None if balance is None else f"{balance:f}",
                        number_last4=str(self.next_rid)[-4:])
            assert sid not in self.staged
            self.staged[sid] = SRow(plan, self.next_rid, frozenset(contacts), balance,
                                    f"Fidelity {str(self.next_rid)[-4:]}")

    @rule(data=st.data(), balance=balances.filter(lambda b: b is not None))
    def pull_refreshes_a_balance(self, data: st.DataObject, balance: Decimal) -> None:
        """What the engine writes for a pending row or an active link whose balance moved."""
        if not self.staged:
            return
        sid = data.draw(st.sampled_from(sorted(self.staged)))
        row = self.staged[sid]
        text = f"{balance:f}"
        with self.alice.store.write() as db:
            if row.state == "pending" and row.balance != balance:
                db.execute("UPDATE staged_accounts SET balance = ?, version = version + 1 "
                           "WHERE id = ?", [text, sid])
                row.balance = balance
                row.touch += 1
            elif row.link == "active":
                assert row.account is not None
                if self.accounts[row.account].balance != balance:
                    db.execute("UPDATE plan_accounts SET balance = ?, version = version + 1 "
                               "WHERE id = ?", [text, row.account])
                    db.execute("UPDATE staged_accounts SET balance = ? WHERE id = ?", [text, sid])
                    self.accounts[row.account].balance = balance
                    self.touch_a(row.account)
                row.balance = balance

    # -------------------------------------------------------------- triage

    def _pick(self, data: st.DataObject, rows: dict[int, Any]) -> tuple[int, int]:
        """(plan, id): mostly a real row and its own plan; sometimes a missing id, another
        plan or a plan that does not exist."""
        if rows and data.draw(st.sampled_from([True] * 7 + [False])):
            row_id = data.draw(st.sampled_from(sorted(rows)))
            plan = rows[row_id].plan
        else:
            row_id = MISSING
            plan = data.draw(st.sampled_from(PLANS))
        if data.draw(st.sampled_from([False] * 9 + [True])):
            plan = data.draw(st.sampled_from([*PLANS, MISSING]))
        return plan, row_id

    def pick_staged(self, data: st.DataObject) -> tuple[int, int]:
        triageable = {sid: r for sid, r in self.staged.items() if r.state != "linked"}
        if triageable and data.draw(st.sampled_from([True] * 4 + [False])):
            return self._pick(data, triageable)
        return self._pick(data, self.staged)

    def pick_account(self, data: st.DataObject) -> tuple[int, int]:
        with_link = {a: acct for a, acct in self.accounts.items() if self.link_of(a) is not None}
        if with_link and bool(data.draw(st.sampled_from([True, False]))):
            return self._pick(data, with_link)
        return self._pick(data, self.accounts)

    @rule(data=st.data(), user=st.sampled_from(USERS), to=st.sampled_from(["ignored", "pending"]))
    def ignore_or_stop_ignoring(self, data: st.DataObject, user: str, to: str) -> None:
        plan, first = self.pick_staged(data)
        same = sorted(sid for sid, row in self.staged.items() if row.plan == plan) or [MISSING]
        more = data.draw(st.lists(st.sampled_from([*same, *same, *same, MISSING]), max_size=3))
        ids = [first, *more]
        src = "pending" if to == "ignored" else "ignored"
        reason = data.draw(st.sampled_from([None, "closed", "  duplicate  "]))

        def expect() -> bool:
            if plan not in PLANS:
                raise Refused(NotFound)
            rows = [(sid, self.visible(plan, sid)) for sid in dict.fromkeys(ids)]
            step = Step(f"{to} {len(rows)}")
            for sid, row in rows:
                if row.state == src:
                    step.staged[sid] = (copy.deepcopy(row), row.touch, row.touch + 1)
                    row.state = to
                    row.reason = (reason or "").strip() or None if to == "ignored" else None
                    self.touch_s(sid)
            if step.staged:
                self.push(step)
            return bool(step.staged)

        def call(ws: Workspace) -> Any:
            if to == "ignored":
                return ws.ignore(plan, ids, reason)
            return ws.stop_ignoring(plan, ids)

        self.act(user, "triage", expect, call, "ignore/stop ignoring")

    @rule(data=st.data(), user=st.sampled_from(USERS))
    def link_to_existing(self, data: st.DataObject, user: str) -> None:
        plan, sid = self.pick_staged(data)
        same = sorted(a for a, acct in self.accounts.items() if acct.plan == plan)
        aid = data.draw(st.sampled_from([*same, *same, *same, MISSING]))

        def expect() -> bool:
            if plan not in PLANS:
                raise Refused(NotFound)
            current = self.staged.get(sid)
            if current is not None and current.plan == plan and current.account == aid:
                return False  # repeating a link: a no-op
            row = self.visible(plan, sid)
            if row.state == "ignored":
                raise Refused(InvalidState)
            acct = self.account_in(plan, aid)
            if self.link_of(aid) is not None:
                raise Refused(InvalidState)
            step = Step("link")
            step.staged[sid] = (copy.deepcopy(row), row.touch, row.touch + 1)
            a_before = acct.touch
            saved = copy.deepcopy(acct)
            if row.balance is not None and row.balance != acct.balance:
                acct.balance = row.balance
                self.touch_a(aid)
            step.accounts[aid] = (saved, a_before, acct.touch)
            row.state, row.account, row.link = "linked", aid, "active"
            self.touch_s(sid)
            self.push(step)
            return True

        self.act(user, "triage", expect, lambda ws: ws.link_to_existing(plan, sid, aid),
                 "link")

    @rule(data=st.data(), user=st.sampled_from(USERS), balance=balances)
    def add_to_plan(self, data: st.DataObject, user: str, balance: Decimal | None) -> None:
        plan, sid = self.pick_staged(data)
        values = {} if balance is None else {"balance": f"{balance:f}"}
        pending_step: list[Step] = []

        def expect() -> bool:
            if plan not in PLANS:
                raise Refused(NotFound)
            row = self.visible(plan, sid)
            if row.state == "ignored":
                raise Refused(InvalidState)
            if balance is None and row.balance is None:
                raise Refused(ValidationFailed)
            step = Step("add 1")
            step.staged[sid] = (copy.deepcopy(row), row.touch, row.touch + 1)
            pending_step.append(step)
            return True

        account = self.act(user, "triage", expect, lambda ws: ws.add_to_plan(plan, sid, values),
                           "add")
        if account is None:
            return
        row = self.staged[sid]
        assert account.id not in self.accounts
        amount = balance if balance is not None else row.balance
        assert amount is not None and account.balance == amount
        self.accounts[account.id] = ARow(plan, amount)
        row.state, row.account, row.link = "linked", account.id, "active"
        self.touch_s(sid)
        step = pending_step[0]
        step.created[account.id] = (self.accounts[account.id].gen, 0)
        self.push(step)

    @rule(data=st.data(), user=st.sampled_from(USERS),
          text=st.sampled_from(["Gomez brokerage", "  Gomez   brokerage ", "Joint account"]))
    def edit_staged_description(self, data: st.DataObject, user: str, text: str) -> None:
        plan, sid = self.pick_staged(data)

        def expect() -> bool:
            if plan not in PLANS:
                raise Refused(NotFound)
            row = self.visible(plan, sid)
            clean = " ".join(text.split())
            if row.description == clean:
                return False
            self.push(Step("edit description", {sid: (copy.deepcopy(row), row.touch,
                                                      row.touch + 1)}))
            row.description = clean
            self.touch_s(sid)
            return True

        self.act(user, "triage", expect,
                 lambda ws: ws.edit_staged_description(plan, sid, text), "edit description")

    @precondition(lambda self: bool(self.stack))  # "nothing to undo" is a unit test
    @rule(user=st.sampled_from(USERS))
    def undo(self, user: str) -> None:
        def expect() -> bool:
            if not self.stack:
                raise Refused(InvalidState)
            step = self.stack[-1]
            gone = any(sid not in self.staged or self.staged[sid].gen != saved.gen
                       or self.staged[sid].touch != after
                       for sid, (saved, _, after) in step.staged.items())
            gone = gone or any(aid not in self.accounts or self.accounts[aid].gen != saved.gen
                               or self.accounts[aid].touch != after
                               for aid, (saved, _, after) in step.accounts.items())
            gone = gone or any(aid not in self.accounts or self.accounts[aid].gen != gen
                               or self.accounts[aid].touch != after
                               for aid, (gen, after) in step.created.items())
            if gone:  # refused, and the step is dropped: it could never apply again
                raise Refused(UndoConflict, then=lambda: self.stack.pop())
            rewound: dict[tuple[str, int], tuple[int, int]] = {}
            for sid, (saved, before, _) in step.staged.items():
                row = self.staged[sid]
                self.staged[sid] = replace(saved, balance=row.balance, touch=row.touch + 1,
                                           gen=row.gen)
                rewound[("s", sid)] = (before, row.touch + 1)
            for aid, (kept, before, _) in step.accounts.items():
                acct = self.accounts[aid]
                if acct.balance != kept.balance:
                    acct.balance = kept.balance
                    acct.touch += 1
                rewound[("a", aid)] = (before, acct.touch)
            for aid in step.created:
                del self.accounts[aid]
            self.stack.pop()
            for older in self.stack:
                for sid, (saved, before, after) in list(older.staged.items()):
                    if ("s", sid) in rewound and rewound[("s", sid)][0] == after:
                        older.staged[sid] = (saved, before, rewound[("s", sid)][1])
                for aid, (saved_a, before, after) in list(older.accounts.items()):
                    if ("a", aid) in rewound and rewound[("a", aid)][0] == after:
                        older.accounts[aid] = (saved_a, before, rewound[("a", aid)][1])
            return True

        if user != "alice":  # others have nothing to undo, and may not anyway
            self.act(user, "triage", lambda: True, lambda ws: ws.undo(), "undo")
            return
        try:
            self.act(user, "triage", expect, lambda ws: ws.undo(), "undo")
        finally:
            assert self.alice.undo_depth == len(self.stack)

    # -------------------------------------------------------------- accounts

    @rule(plan=st.sampled_from([1, 2, MISSING]), user=st.sampled_from(USERS),
          balance=balances.filter(lambda b: b is not None))
    def add_manual_account(self, plan: int, user: str, balance: Decimal) -> None:
        def expect() -> bool:
            if plan not in PLANS:
                raise Refused(NotFound)
            return True

        account = self.act(user, "edit", expect, lambda ws: ws.add_account(plan, {
            "description": "Manual", "investment_type": "Cash", "balance": f"{balance:f}"}),
            "add account")
        if account is not None:
            assert account.id not in self.accounts
            self.accounts[account.id] = ARow(plan, balance)

    @rule(data=st.data(), user=st.sampled_from(USERS),
          balance=balances.filter(lambda b: b is not None))
    def edit_balance(self, data: st.DataObject, user: str, balance: Decimal) -> None:
        plan, aid = self.pick_account(data)

        def expect() -> bool:
            acct = self.account_in(plan, aid)
            if acct.balance == balance:
                return False
            link = self.link_of(aid)
            if link is not None and link[1].link == "active":
                raise Refused(InvalidState)
            acct.balance = balance
            self.touch_a(aid)
            return True

        self.act(user, "edit", expect,
                 lambda ws: ws.edit_account(plan, aid, {"balance": f"{balance:f}"}), "edit balance")

    @rule(data=st.data(), user=st.sampled_from(USERS))
    def delete_account(self, data: st.DataObject, user: str) -> None:
        plan, aid = self.pick_account(data)

        def expect() -> bool:
            self.account_in(plan, aid)
            link = self.link_of(aid)
            if link is not None:
                self.unlink_row(link[0])
            del self.accounts[aid]
            return True

        self.act(user, "edit", expect, lambda ws: ws.delete_account(plan, aid), "delete")

    @rule(data=st.data(), user=st.sampled_from(USERS),
          verb=st.sampled_from(["pause", "play", "stop"]))
    def pause_play_stop(self, data: st.DataObject, user: str, verb: str) -> None:
        plan, aid = self.pick_account(data)

        def expect() -> bool:
            self.account_in(plan, aid)
            link = self.link_of(aid)
            if link is None:
                raise Refused(InvalidState)
            sid, row = link
            if verb == "stop":
                self.unlink_row(sid)
                return True
            src, dst = ("active", "paused") if verb == "pause" else ("paused", "active")
            if row.link == dst:
                return False
            if row.link != src:
                raise Refused(InvalidState)
            row.link = dst
            self.touch_s(sid)
            return True

        self.act(user, "pause", expect, lambda ws: getattr(ws, verb)(plan, aid), verb)

    # -------------------------------------------------------------- contacts

    @rule(plan=st.sampled_from(PLANS), data=st.data(), user=st.sampled_from(USERS),
          now=st.sampled_from([False, False, True]))
    def unlink_contact(self, plan: int, data: st.DataObject, user: str, now: bool) -> None:
        if not now:  # less often than the other rules, so that plans keep some contacts
            return
        contact = data.draw(st.sampled_from(CONTACTS[plan]))

        def expect() -> bool:
            if contact not in self.linked[plan]:
                raise Refused(NotFound)
            self.linked[plan].discard(contact)
            for sid, row in list(self.staged.items()):
                if row.plan != plan or contact not in row.contacts or self.reached(row):
                    continue
                if row.state == "linked":
                    if row.link != "source_unlinked":
                        row.prior, row.link = row.link, "source_unlinked"
                        self.touch_s(sid)
                else:
                    del self.staged[sid]
            return True

        self.act(user, "triage", expect, lambda ws: ws.unlink_contact(plan, 1, contact),
                 "unlink contact")

    @rule(plan=st.sampled_from(PLANS), data=st.data(), user=st.sampled_from(USERS))
    def link_contact(self, plan: int, data: st.DataObject, user: str) -> None:
        contact = data.draw(st.sampled_from(CONTACTS[plan]))

        def expect() -> bool:
            if contact in self.linked[plan]:
                return False
            self.linked[plan].add(contact)
            for sid, row in self.staged.items():
                if row.plan == plan and contact in row.contacts and row.link == "source_unlinked":
                    row.link, row.prior = row.prior or "active", None
                    self.touch_s(sid)
            return True

        self.act(user, "triage", expect,
                 lambda ws: ws.link_contact(plan, 1, contact, f"Contact {contact}"), "link contact")

    # -------------------------------------------------------------- what must always hold

    @invariant()
    def one_state_per_redtail_account(self) -> None:
        conn = self.alice.store.conn
        rows = conn.execute(
            "SELECT s.id, s.plan_id, CAST(s.source_account_id AS INTEGER), s.state, s.linked_account_id, "
            "s.link_state, a.plan_id FROM staged_accounts s LEFT JOIN plan_accounts a "
            "ON a.id = s.linked_account_id").fetchall()
        seen: set[tuple[int, int]] = set()
        linked_accounts: set[int] = set()
        for sid, plan, rid, state, account, link, account_plan in rows:
            assert (plan, rid) not in seen, f"Redtail {rid} twice in plan {plan}"
            seen.add((plan, rid))
            assert state in ("pending", "ignored", "linked")
            if state == "linked":
                assert account is not None and link in ("active", "paused", "source_unlinked")
                assert account_plan == plan, f"staged {sid} links a missing or foreign account"
                assert account not in linked_accounts, f"account {account} linked twice"
                linked_accounts.add(account)
            else:
                assert account is None and link is None

    @invariant()
    def the_plan_shows_each_redtail_account_once(self) -> None:
        for plan in PLANS:
            detail = self.alice.plan_detail(plan)
            places = [s.redtail_account_id for s in detail.pending]
            places += [s.redtail_account_id for s in detail.ignored]
            places += [a.link.redtail_account_id for a in detail.accounts if a.link]
            assert sorted(places) == sorted(r.rid for r in self.staged.values() if r.plan == plan)
            assert len(places) == len(set(places))

    @rule(plan=st.sampled_from(PLANS), user=st.sampled_from(["paula", "carl"]))
    def others_see_the_accounts_and_no_staged_data(self, plan: int, user: str) -> None:
        seen = self.ws[user].plan_detail(plan)
        assert (seen.pending, seen.ignored, seen.contacts) == ((), (), ())
        assert [a.id for a in seen.accounts] == sorted(a for a, acct in self.accounts.items()
                                                      if acct.plan == plan)
        assert {r["state"] for r in self.ws[user].export_rows(plan)} <= {"account"}

    @invariant()
    def the_database_matches_the_model(self) -> None:
        conn = self.alice.store.conn
        staged = {r[0]: tuple(r[1:]) for r in conn.execute(
            "SELECT id, plan_id, CAST(source_account_id AS INTEGER), state, linked_account_id, link_state, "
            "ignore_reason, description, balance FROM staged_accounts")}
        assert staged == {sid: (r.plan, r.rid, r.state, r.account, r.link, r.reason,
                                r.description, None if r.balance is None else f"{r.balance:f}")
                          for sid, r in self.staged.items()}
        accounts = {r[0]: (r[1], Decimal(r[2])) for r in conn.execute(
            "SELECT id, plan_id, balance FROM plan_accounts")}
        assert accounts == {aid: (a.plan, a.balance) for aid, a in self.accounts.items()}
        contacts = {(r[0], r[1]) for r in conn.execute(
            "SELECT plan_id, CAST(source_contact_id AS INTEGER) FROM plan_contacts")}
        assert contacts == {(p, c) for p, cs in self.linked.items() for c in cs}

    @invariant()
    def staged_rows_are_reached_by_a_linked_contact(self) -> None:
        for sid, row in self.staged.items():
            if row.state == "linked":
                assert (row.link == "source_unlinked") == (not self.reached(row)), sid
            else:
                assert self.reached(row), f"staged {sid} is {row.state} but no contact lists it"

    @invariant()
    def the_audit_log_only_grows(self) -> None:
        entries = audit_rows(self.alice)
        assert [e["id"] for e in entries] == list(range(1, len(entries) + 1))

    # hypothesis needs at least one initialize-free start; keep the model honest on entry
    @initialize()
    def start(self) -> None:
        assert audit_rows(self.alice)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("invariants") / "template.db"
    build_template(path)
    return path


def test_the_one_state_invariant_holds_under_random_actions(template: Path) -> None:
    TriageMachine.template = template
    run_state_machine_as_test(
        TriageMachine,
        settings=settings(settings(), deadline=None, stateful_step_count=30),
    )

