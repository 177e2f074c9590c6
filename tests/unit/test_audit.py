"""SPEC §3: every mutating action writes the append-only audit log — when, who, what,
before → after — in the same transaction; a no-op or a refused action writes nothing."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from plantech_tui.domain.errors import InvalidState, PermissionDenied
from plantech_tui.service.workspace import Workspace
from tests.helpers import audit_rows, make_integration, snapshot, stage

GOMEZ = 101
UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class Ctx:
    def __init__(self, db_path: Path) -> None:
        self.ws = Workspace.open(db_path, "alice")
        ws = self.ws
        self.plan = ws.create_plan("Addams", ["Gomez Addams", "Morticia Addams"]).id
        self.integ = make_integration(ws, ws.user.id)
        ws.link_contact(self.plan, self.integ, GOMEZ, "Gomez Addams", "Gomez")
        self.pending = stage(ws, self.plan, self.integ, 5001, balance="10.00")
        self.ignored = stage(ws, self.plan, self.integ, 5002, state="ignored")
        self.manual = ws.add_account(self.plan, {"description": "Gomez 401(k)",
                                                 "investment_type": "401(k)",
                                                 "balance": "250000"}).id
        self.linked = ws.add_to_plan(self.plan, stage(ws, self.plan, self.integ, 5003)).id


# (label, keyword the action's name carries, the call); each changes something
MUTATIONS: dict[str, tuple[str, Callable[[Ctx], Any]]] = {
    "ignore": ("ignore", lambda c: c.ws.ignore(c.plan, [c.pending], "closed")),
    "stop ignoring": ("stop ignoring", lambda c: c.ws.stop_ignoring(c.plan, [c.ignored])),
    "link": ("link", lambda c: c.ws.link_to_existing(c.plan, c.pending, c.manual)),
    "add": ("add", lambda c: c.ws.add_to_plan(c.plan, c.pending)),
    "edit staged description": ("description",
                                lambda c: c.ws.edit_staged_description(c.plan, c.pending, "X")),
    "undo": ("undo", lambda c: (c.ws.ignore(c.plan, [c.pending]), c.ws.undo())),
    "pause": ("pause", lambda c: c.ws.pause(c.plan, c.linked)),
    "play": ("play", lambda c: (c.ws.pause(c.plan, c.linked), c.ws.play(c.plan, c.linked))),
    "stop": ("stop", lambda c: c.ws.stop(c.plan, c.linked)),
    "add account": ("add", lambda c: c.ws.add_account(c.plan, {
        "description": "Savings", "investment_type": "Cash", "balance": "5"})),
    "edit account": ("edit", lambda c: c.ws.edit_account(c.plan, c.manual, {"balance": "7"})),
    "delete manual account": ("delete", lambda c: c.ws.delete_account(c.plan, c.manual)),
    "delete linked account": ("delete", lambda c: c.ws.delete_account(c.plan, c.linked)),
    "link contact": ("link contact",
                     lambda c: c.ws.link_contact(c.plan, c.integ, 102, "Morticia Addams")),
    "unlink contact": ("unlink contact",
                       lambda c: c.ws.unlink_contact(c.plan, c.integ, GOMEZ)),
    "create plan": ("plan", lambda c: c.ws.create_plan("Munsters")),
    "rename plan": ("plan", lambda c: c.ws.rename_plan(c.plan, "Addams Family")),
    "delete plan": ("plan", lambda c: c.ws.delete_plan(c.plan)),
    "add user": ("user", lambda c: c.ws.add_user("carl", "client", False, [c.plan])),
    "change user": ("user", lambda c: (c.ws.add_user("carl", "client"),
                                       c.ws.add_user("carl", "professional", True))),
    "add integration": ("integration", lambda c: c.ws.save_integration(
        environment="Sandbox", base_url="https://x.test/api/public/v1", username="u",
        secret_ref_factory=lambda: str(uuid.uuid4()))),
    "remove integration": ("integration", lambda c: c.ws.remove_integration(c.integ)),
}


@pytest.mark.parametrize("label", list(MUTATIONS))
def test_every_mutation_is_audited(db_path: Path, label: str) -> None:
    keyword, call = MUTATIONS[label]
    c = Ctx(db_path)
    seen = len(audit_rows(c.ws))
    call(c)
    new = audit_rows(c.ws)[seen:]
    assert new, f"{label} wrote no audit entry"
    assert any(keyword in e["action"] for e in new), [e["action"] for e in new]
    for e in new:
        assert UTC.match(e["at"]), e["at"]
        assert e["user_name"] == "alice"
        assert e["object_type"] and e["action"]
        assert e["before"] is not None or e["after"] is not None or e["detail"]
        for side in ("before", "after"):
            if e[side] is not None:
                json.loads(e[side])


def _entry(c: Ctx, action: str) -> dict[str, Any]:
    entries = [e for e in audit_rows(c.ws) if e["action"] == action]
    assert entries, action
    return entries[-1]


def test_entries_say_what_changed_before_and_after(db_path: Path) -> None:
    c = Ctx(db_path)
    c.ws.ignore(c.plan, [c.pending], "closed")
    e = _entry(c, "ignore")
    assert (e["plan_id"], e["object_type"], e["object_id"]) == (c.plan, "staged", c.pending)
    assert json.loads(e["before"])["state"] == "pending"
    assert json.loads(e["after"]) == {"state": "ignored", "ignore_reason": "closed"}

    c.ws.edit_account(c.plan, c.manual, {"balance": "7.5"})
    e = _entry(c, "account edit")
    assert (json.loads(e["before"])["balance"], json.loads(e["after"])["balance"]) == \
        ("250000.00", "7.50")

    c.ws.pause(c.plan, c.linked)
    e = _entry(c, "account pause")
    assert (json.loads(e["before"]), json.loads(e["after"])) == \
        ({"link_state": "active"}, {"link_state": "paused"})


def test_each_row_of_a_multi_id_action_has_its_entry(db_path: Path) -> None:
    c = Ctx(db_path)
    more = [stage(c.ws, c.plan, c.integ, 6000 + i) for i in range(3)]
    seen = len(audit_rows(c.ws))
    c.ws.ignore(c.plan, [c.pending, *more])
    new = audit_rows(c.ws)[seen:]
    assert sorted(e["object_id"] for e in new) == sorted([c.pending, *more])


def test_no_ops_and_refusals_write_nothing(db_path: Path) -> None:
    c = Ctx(db_path)
    c.ws.ignore(c.plan, [c.pending])
    c.ws.pause(c.plan, c.linked)
    before = snapshot(c.ws)
    c.ws.ignore(c.plan, [c.pending])
    c.ws.stop_ignoring(c.plan, [stage(c.ws, c.plan, c.integ, 7000)])
    c.ws.pause(c.plan, c.linked)
    c.ws.edit_account(c.plan, c.manual, {"balance": "250000.00"})
    c.ws.link_contact(c.plan, c.integ, GOMEZ, "Gomez Addams")
    with pytest.raises(InvalidState):
        c.ws.stop(c.plan, c.manual)
    after = snapshot(c.ws)
    assert after["audit_log"] == before["audit_log"]
    c.ws.add_user("carl", "client", False, [c.plan])
    carl = Workspace.open(db_path, "carl")
    seen = len(audit_rows(c.ws))
    with pytest.raises(PermissionDenied):
        carl.ignore(c.plan, [c.pending])
    assert len(audit_rows(c.ws)) == seen


def test_the_audit_log_is_append_only(db_path: Path) -> None:
    c = Ctx(db_path)
    entries = audit_rows(c.ws)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"), c.ws.store.write() as db:
        db.execute("UPDATE audit_log SET user_name = 'mallory'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"), c.ws.store.write() as db:
        db.execute("DELETE FROM audit_log")
    assert audit_rows(c.ws) == entries


def test_the_plan_audit_log_lists_that_plans_entries_in_order(db_path: Path) -> None:
    c = Ctx(db_path)
    other = c.ws.create_plan("Munsters")
    c.ws.add_account(other.id, {"description": "x", "investment_type": "Cash", "balance": "1"})
    log = c.ws.audit_log(c.plan)
    assert log and all(e.plan_id == c.plan for e in log)
    assert [e.id for e in log] == sorted(e.id for e in log)
    assert {"plan create", "link contact", "account add", "add to plan"} <= {e.action for e in log}
    assert all(e.plan_id == other.id for e in c.ws.audit_log(other.id))


def test_the_first_user_is_audited(db_path: Path) -> None:
    ws = Workspace.open(db_path, "alice")
    first = audit_rows(ws)[0]
    assert (first["action"], first["object_type"], first["user_name"]) == \
        ("user add", "user", "alice")
    assert json.loads(first["after"])["role"] == "advisor"
