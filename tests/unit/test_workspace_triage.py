"""Every triage transition of SPEC §2.5–2.6 and its inverse, through the real Workspace on a
real SQLite file: Ignore / Stop Ignoring, Link to Existing Item, Add to Plan, Pause / Play /
Stop, Delete, source-unlinked links, the staged description, and undo."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from plantech_tui.domain.errors import (
    InvalidState,
    NotFound,
    UndoConflict,
    UsageError,
    ValidationFailed,
)
from plantech_tui.service.workspace import Workspace
from tests.helpers import audit_rows, make_integration, snapshot, stage, staged_state

GOMEZ, MORTICIA, WEDNESDAY = 101, 102, 103


@dataclass
class Plan:
    ws: Workspace
    id: int
    integ: int
    manual: int  # a manual account "Gomez 401(k)", 250000.00


@pytest.fixture
def p(db_path: Path) -> Plan:
    ws = Workspace.open(db_path, "alice")
    plan = ws.create_plan("Addams Family", ["Gomez Addams", "Morticia Addams"])
    integ = make_integration(ws, ws.user.id)
    ws.link_contact(plan.id, integ, GOMEZ, "Gomez Addams", "Gomez", party="client")
    ws.link_contact(plan.id, integ, MORTICIA, "Morticia Addams", "Morticia", party="co_client")
    manual = ws.add_account(plan.id, {"description": "Gomez 401(k)", "investment_type": "401(k)",
                                      "balance": "250000.00"})
    return Plan(ws, plan.id, integ, manual.id)


def pending_ids(p: Plan) -> list[int]:
    return [s.id for s in p.ws.plan_detail(p.id).pending]


def ignored_ids(p: Plan) -> list[int]:
    return [s.id for s in p.ws.plan_detail(p.id).ignored]


def plan_rows(p: Plan) -> dict[str, list[tuple[object, ...]]]:
    """The plan state without versions and timestamps (what undo must restore)."""
    conn = p.ws.store.conn
    staged = conn.execute(
        "SELECT id, source_account_id, state, ignore_reason, linked_account_id, link_state, "
        "prior_link_state, description, description_edited, balance FROM staged_accounts "
        "ORDER BY id").fetchall()
    accounts = conn.execute(
        "SELECT id, description, investment_type, owner, balance, number_last4 FROM "
        "plan_accounts ORDER BY id").fetchall()
    return {"staged": staged, "accounts": accounts}


# ------------------------------------------------------------------ ignore / stop ignoring


def test_ignore_then_stop_ignoring_keeps_the_row_and_its_id(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001)
    assert p.ws.ignore(p.id, [sid], reason="  old account, closed  ") == [sid]
    assert pending_ids(p) == [] and ignored_ids(p) == [sid]
    ignored = p.ws.plan_detail(p.id).ignored[0]
    assert ignored.ignore_reason == "old account, closed"
    shown: Any = p.ws.plan_detail(p.id).as_json()
    assert shown["ignored"][0]["ignore_reason"] == "old account, closed"

    assert p.ws.stop_ignoring(p.id, [sid]) == [sid]
    assert pending_ids(p) == [sid] and ignored_ids(p) == []
    back = p.ws.staged(p.id, sid)
    assert back.ignore_reason is None
    assert (back.redtail_account_id, back.description, back.balance) == \
        (5001, "Fidelity 1234", Decimal("100.00"))


def test_repeating_ignore_or_stop_ignoring_is_a_no_op(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001)
    p.ws.ignore(p.id, [sid], reason="first")
    before = snapshot(p.ws)
    assert p.ws.ignore(p.id, [sid], reason="second") == []
    assert snapshot(p.ws) == before  # no change, no audit entry
    assert p.ws.staged(p.id, sid).ignore_reason == "first"
    p.ws.stop_ignoring(p.id, [sid])
    before = snapshot(p.ws)
    assert p.ws.stop_ignoring(p.id, [sid]) == []
    assert snapshot(p.ws) == before


def test_multi_id_ignore_moves_all_at_once(p: Plan) -> None:
    ids = [stage(p.ws, p.id, p.integ, 5001 + i) for i in range(4)]
    p.ws.ignore(p.id, [ids[0]])
    assert p.ws.ignore(p.id, [ids[3], ids[0], ids[1], ids[3]]) == [ids[3], ids[1]]
    assert ignored_ids(p) == [ids[0], ids[1], ids[3]]
    assert pending_ids(p) == [ids[2]]


def test_multi_id_triage_is_all_or_none_naming_the_first_bad_id(p: Plan) -> None:
    a = stage(p.ws, p.id, p.integ, 5001)
    b = stage(p.ws, p.id, p.integ, 5002)
    before = snapshot(p.ws)
    with pytest.raises(NotFound) as err:
        p.ws.ignore(p.id, [a, 998, b, 999])
    assert "998" in str(err.value) and "999" not in str(err.value)
    assert snapshot(p.ws) == before
    p.ws.ignore(p.id, [a, b])
    before = snapshot(p.ws)
    with pytest.raises(NotFound, match="997"):
        p.ws.stop_ignoring(p.id, [a, 997, b])
    assert snapshot(p.ws) == before


def test_triage_with_no_ids_is_a_usage_error(p: Plan) -> None:
    with pytest.raises(UsageError):
        p.ws.ignore(p.id, [])
    with pytest.raises(UsageError):
        p.ws.add_many_to_plan(p.id, [])
    assert p.ws.undo_depth == 0


def test_a_staged_row_of_another_plan_is_not_found(p: Plan) -> None:
    other = p.ws.create_plan("Munsters")
    sid = stage(p.ws, other.id, p.integ, 5001)
    before = snapshot(p.ws)
    for action in (lambda: p.ws.ignore(p.id, [sid]),
                   lambda: p.ws.link_to_existing(p.id, sid, p.manual),
                   lambda: p.ws.add_to_plan(p.id, sid, {}),
                   lambda: p.ws.edit_staged_description(p.id, sid, "x")):
        with pytest.raises(NotFound):
            action()
    assert snapshot(p.ws) == before


# ------------------------------------------------------------------ link to existing item


def test_link_to_existing_takes_the_staged_balance_and_stop_gives_the_row_back(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5002, balance="251234.56", company="Vanguard",
                number_last4="9876", account_type="401(k)", default_investment_type="401(k)")
    account = p.ws.link_to_existing(p.id, sid, p.manual)
    assert account.balance == Decimal("251234.56")
    assert account.description == "Gomez 401(k)"  # manual fields are never overwritten
    assert account.link is not None
    assert (account.link.redtail_account_id, account.link.state.value) == (5002, "active")
    assert pending_ids(p) == []
    assert staged_state(p.ws, sid) == ("linked", p.manual, "active")
    history = p.ws.balance_history(p.id, p.manual)
    assert [(b, s) for _, b, s in history] == [(Decimal("250000.00"), "add"),
                                              (Decimal("251234.56"), "link")]

    stopped = p.ws.stop(p.id, p.manual)
    assert stopped.link is None and stopped.balance == Decimal("251234.56")
    assert pending_ids(p) == [sid]
    row = p.ws.staged(p.id, sid)
    assert (row.description, row.balance) == ("Vanguard 9876", Decimal("251234.56"))
    # and it can be linked again (to the same or another account)
    again = p.ws.link_to_existing(p.id, sid, p.manual)
    assert again.link is not None and again.link.staged_id == sid


def test_linking_a_null_balance_keeps_the_account_balance(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5002, balance=None)
    account = p.ws.link_to_existing(p.id, sid, p.manual)
    assert account.balance == Decimal("250000.00")
    assert [s for _, _, s in p.ws.balance_history(p.id, p.manual)] == ["add"]


def test_linking_an_ignored_row_is_refused(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5002, state="ignored")
    before = snapshot(p.ws)
    with pytest.raises(InvalidState, match=str(sid)):
        p.ws.link_to_existing(p.id, sid, p.manual)
    assert snapshot(p.ws) == before


def test_an_account_is_never_linked_twice(p: Plan) -> None:
    a = stage(p.ws, p.id, p.integ, 5001)
    b = stage(p.ws, p.id, p.integ, 5002)
    p.ws.link_to_existing(p.id, a, p.manual)
    before = snapshot(p.ws)
    with pytest.raises(InvalidState, match="already linked"):
        p.ws.link_to_existing(p.id, b, p.manual)
    assert snapshot(p.ws) == before
    assert staged_state(p.ws, b) == ("pending", None, None)


def test_repeating_a_link_is_a_no_op(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001)
    p.ws.link_to_existing(p.id, sid, p.manual)
    before = snapshot(p.ws)
    depth = p.ws.undo_depth
    again = p.ws.link_to_existing(p.id, sid, p.manual)
    assert again.link is not None and again.link.staged_id == sid
    assert snapshot(p.ws) == before and p.ws.undo_depth == depth


def test_a_linked_row_cannot_be_linked_to_a_second_account(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001)
    other = p.ws.add_account(p.id, {"description": "Other", "investment_type": "Cash",
                                    "balance": "1"})
    p.ws.link_to_existing(p.id, sid, p.manual)
    before = snapshot(p.ws)
    with pytest.raises(NotFound):
        p.ws.link_to_existing(p.id, sid, other.id)
    assert snapshot(p.ws) == before


def test_linking_to_an_account_of_another_plan_is_not_found(p: Plan) -> None:
    other = p.ws.create_plan("Munsters")
    foreign = p.ws.add_account(other.id, {"description": "Herman's IRA",
                                          "investment_type": "Roth IRA", "balance": "5"})
    sid = stage(p.ws, p.id, p.integ, 5001)
    with pytest.raises(NotFound):
        p.ws.link_to_existing(p.id, sid, foreign.id)
    assert staged_state(p.ws, sid) == ("pending", None, None)


# ------------------------------------------------------------------ add to plan


def test_add_to_plan_uses_the_staged_defaults(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001, balance="125000.00", account_type="Rollover IRA",
                default_investment_type="Traditional IRA", contacts=(GOMEZ,))
    account = p.ws.add_to_plan(p.id, sid)
    assert (account.description, account.investment_type, account.owner, account.balance,
            account.number_last4) == ("Fidelity 1234", "Traditional IRA", "Client",
                                      Decimal("125000.00"), "1234")
    assert account.link is not None and account.link.staged_id == sid
    assert account.link.state.value == "active"
    assert pending_ids(p) == []
    assert [s for _, _, s in p.ws.balance_history(p.id, account.id)] == ["add"]


def test_add_to_plan_takes_the_editor_values(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001)
    account = p.ws.add_to_plan(p.id, sid, {
        "description": "  Gomez   brokerage ", "investment_type": "  roth   ira ",
        "owner": "joint", "balance": "$1,234.565", "equity_pct": "60", "fixed_income_pct": "30",
        "cash_pct": "10", "annual_contribution": "6500", "notes": "from Redtail"})
    assert (account.description, account.investment_type, account.owner, account.balance) == \
        ("Gomez brokerage", "Roth IRA", "Joint", Decimal("1234.56"))
    assert (account.equity_pct, account.fixed_income_pct, account.cash_pct) == \
        (Decimal("60.00"), Decimal("30.00"), Decimal("10.00"))


@pytest.mark.parametrize(("contacts", "owner"), [
    ((GOMEZ,), "Client"),
    ((MORTICIA,), "Co-client"),
    ((GOMEZ, MORTICIA), "Joint"),
    ((WEDNESDAY,), "Client"),  # listed only under a contact the plan does not link
])
def test_the_owner_defaults_from_the_contacts(p: Plan, contacts: tuple[int, ...],
                                              owner: str) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001, contacts=contacts)
    assert p.ws.add_to_plan(p.id, sid).owner == owner


def test_add_to_plan_needs_a_balance_when_redtail_has_none(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001, balance=None)
    before = snapshot(p.ws)
    with pytest.raises(ValidationFailed) as err:
        p.ws.add_to_plan(p.id, sid)
    assert err.value.field == "balance" and str(sid) in str(err.value)
    assert snapshot(p.ws) == before
    account = p.ws.add_to_plan(p.id, sid, {"balance": "10"})
    assert account.balance == Decimal("10.00")


@pytest.mark.parametrize(("values", "field", "listed"), [
    ({"investment_type": "Beanie Babies"}, "investment_type", "Taxable Brokerage"),
    ({"owner": "Uncle Fester"}, "owner", "Co-client"),
    ({"balance": "lots"}, "balance", None),
    ({"equity_pct": "50", "cash_pct": "20"}, "equity_pct", None),
])
def test_add_to_plan_validates_the_editor(p: Plan, values: dict[str, str], field: str,
                                          listed: str | None) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001)
    before = snapshot(p.ws)
    with pytest.raises(ValidationFailed) as err:
        p.ws.add_to_plan(p.id, sid, values)
    assert err.value.field == field
    if listed:
        assert listed in str(err.value)  # the valid values are listed
    assert snapshot(p.ws) == before


def test_adding_an_ignored_row_is_refused(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001, state="ignored")
    before = snapshot(p.ws)
    with pytest.raises(InvalidState):
        p.ws.add_to_plan(p.id, sid)
    assert snapshot(p.ws) == before


def test_add_many_is_all_or_none(p: Plan) -> None:
    a = stage(p.ws, p.id, p.integ, 5001)
    b = stage(p.ws, p.id, p.integ, 5002, balance=None)
    before = snapshot(p.ws)
    with pytest.raises(ValidationFailed):
        p.ws.add_many_to_plan(p.id, [(a, {}), (b, {})])
    assert snapshot(p.ws) == before
    added = p.ws.add_many_to_plan(p.id, [(a, {"owner": "Co-client"}), (b, {"balance": "7"})])
    assert [(x.link.staged_id if x.link else None, x.owner) for x in added] == \
        [(a, "Co-client"), (b, "Client")]
    assert pending_ids(p) == []


def test_deleting_an_added_account_returns_the_same_row_to_pending(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001, balance="42.00")
    account = p.ws.add_to_plan(p.id, sid, {"description": "Renamed"})
    back = p.ws.delete_account(p.id, account.id)
    assert back is not None and back.id == sid and back.state.value == "pending"
    assert (back.description, back.balance) == ("Fidelity 1234", Decimal("42.00"))
    assert pending_ids(p) == [sid]
    assert [a.id for a in p.ws.plan_detail(p.id).accounts] == [p.manual]
    with pytest.raises(NotFound):
        p.ws.account(p.id, account.id)


def test_deleting_a_manual_account_touches_no_staged_row(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001)
    assert p.ws.delete_account(p.id, p.manual) is None
    assert pending_ids(p) == [sid]
    with pytest.raises(NotFound):
        p.ws.delete_account(p.id, p.manual)


# ------------------------------------------------------------------ pause / play / stop


def test_pause_play_and_their_no_ops(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001)
    p.ws.link_to_existing(p.id, sid, p.manual)
    paused = p.ws.pause(p.id, p.manual)
    assert paused.link is not None and paused.link.state.value == "paused"
    before = snapshot(p.ws)
    assert p.ws.pause(p.id, p.manual).link.state.value == "paused"  # type: ignore[union-attr]
    assert snapshot(p.ws) == before  # repeating is a no-op: nothing written, not even audit
    played = p.ws.play(p.id, p.manual)
    assert played.link is not None and played.link.state.value == "active"
    before = snapshot(p.ws)
    p.ws.play(p.id, p.manual)
    assert snapshot(p.ws) == before


def test_pause_play_stop_of_a_manual_account_are_refused(p: Plan) -> None:
    before = snapshot(p.ws)
    for action in (p.ws.pause, p.ws.play, p.ws.stop):
        with pytest.raises(InvalidState, match="manual"):
            action(p.id, p.manual)
    assert snapshot(p.ws) == before
    with pytest.raises(NotFound):
        p.ws.pause(p.id, 999)


def test_the_balance_of_an_active_link_is_the_pulls(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001, balance="100.00")
    p.ws.link_to_existing(p.id, sid, p.manual)
    before = snapshot(p.ws)
    with pytest.raises(InvalidState, match="Pause or Stop"):
        p.ws.edit_account(p.id, p.manual, {"balance": "5.00"})
    assert snapshot(p.ws) == before
    # other fields stay editable, and the same balance written back is not a change
    edited = p.ws.edit_account(p.id, p.manual, {"notes": "rollover pending", "balance": "100"})
    assert edited.notes == "rollover pending" and edited.balance == Decimal("100.00")
    p.ws.pause(p.id, p.manual)
    assert p.ws.edit_account(p.id, p.manual, {"balance": "5"}).balance == Decimal("5.00")
    assert [(b, s) for _, b, s in p.ws.balance_history(p.id, p.manual)][-1] == \
        (Decimal("5.00"), "manual")


def test_stopping_a_paused_link_returns_the_row_to_pending(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001)
    p.ws.link_to_existing(p.id, sid, p.manual)
    p.ws.pause(p.id, p.manual)
    account = p.ws.stop(p.id, p.manual)
    assert account.link is None
    assert staged_state(p.ws, sid) == ("pending", None, None)
    with pytest.raises(InvalidState):
        p.ws.stop(p.id, p.manual)  # now a manual account


# ------------------------------------------------------------------ contact links


def test_unlinking_a_contact_marks_links_source_unlinked_and_drops_what_it_alone_reached(
        p: Plan) -> None:
    only_gomez = stage(p.ws, p.id, p.integ, 5001, contacts=(GOMEZ,))
    ignored_gomez = stage(p.ws, p.id, p.integ, 5002, contacts=(GOMEZ,), state="ignored")
    joint = stage(p.ws, p.id, p.integ, 5003, contacts=(GOMEZ, MORTICIA))
    linked = stage(p.ws, p.id, p.integ, 5004, contacts=(GOMEZ,))
    p.ws.link_to_existing(p.id, linked, p.manual)
    p.ws.pause(p.id, p.manual)

    p.ws.unlink_contact(p.id, p.integ, GOMEZ)
    assert pending_ids(p) == [joint] and ignored_ids(p) == []
    ids = {r[0] for r in p.ws.store.conn.execute("SELECT id FROM staged_accounts")}
    assert only_gomez not in ids and ignored_gomez not in ids
    assert staged_state(p.ws, linked) == ("linked", p.manual, "source_unlinked")
    account = p.ws.account(p.id, p.manual)
    assert account.link is not None and account.link.state.value == "source_unlinked"
    with pytest.raises(InvalidState):
        p.ws.play(p.id, p.manual)
    with pytest.raises(InvalidState):
        p.ws.pause(p.id, p.manual)

    p.ws.link_contact(p.id, p.integ, GOMEZ, "Gomez Addams", "Gomez")
    # revived in the state it had: it was paused
    assert staged_state(p.ws, linked) == ("linked", p.manual, "paused")


def test_stopping_a_source_unlinked_account_keeps_the_account(p: Plan) -> None:
    linked = stage(p.ws, p.id, p.integ, 5004, contacts=(GOMEZ,))
    p.ws.link_to_existing(p.id, linked, p.manual)
    p.ws.unlink_contact(p.id, p.integ, GOMEZ)
    account = p.ws.stop(p.id, p.manual)
    assert account.link is None and account.balance == Decimal("100.00")
    # no contact of the plan reaches the Redtail account any more: it is not left pending
    assert pending_ids(p) == [] and ignored_ids(p) == []
    assert p.ws.store.conn.execute("SELECT count(*) FROM staged_accounts").fetchone()[0] == 0


def test_unlinking_a_contact_that_is_not_linked_is_not_found(p: Plan) -> None:
    with pytest.raises(NotFound):
        p.ws.unlink_contact(p.id, p.integ, 4242)


def test_linking_a_contact_twice_is_a_no_op(p: Plan) -> None:
    before = snapshot(p.ws)
    contact = p.ws.link_contact(p.id, p.integ, GOMEZ, "Gomez Addams", "Gomez")
    assert contact.redtail_contact_id == GOMEZ
    assert snapshot(p.ws) == before


# ------------------------------------------------------------------ staged description


def test_edit_staged_description(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001)
    row = p.ws.edit_staged_description(p.id, sid, "  Gomez   brokerage ")
    assert (row.description, row.description_edited) == ("Gomez brokerage", True)
    assert p.ws.add_to_plan(p.id, sid).description == "Gomez brokerage"
    sid2 = stage(p.ws, p.id, p.integ, 5002)
    with pytest.raises(ValidationFailed):
        p.ws.edit_staged_description(p.id, sid2, "   ")
    assert p.ws.staged(p.id, sid2).description == "Fidelity 1234"


# ------------------------------------------------------------------ undo


@pytest.mark.parametrize("action", ["ignore", "stop_ignoring", "link", "add", "add_many",
                                    "edit_description"])
def test_undo_restores_the_rows_exactly(p: Plan, action: str) -> None:
    a = stage(p.ws, p.id, p.integ, 5001, balance="77.70")
    b = stage(p.ws, p.id, p.integ, 5002, state="ignored")
    if action == "stop_ignoring":
        p.ws.ignore(p.id, [a], reason="why not")
    before = plan_rows(p)
    depth = p.ws.undo_depth
    {
        "ignore": lambda: p.ws.ignore(p.id, [a], reason="closed"),
        "stop_ignoring": lambda: p.ws.stop_ignoring(p.id, [a, b]),
        "link": lambda: p.ws.link_to_existing(p.id, a, p.manual),
        "add": lambda: p.ws.add_to_plan(p.id, a, {"owner": "Joint"}),
        "add_many": lambda: p.ws.add_many_to_plan(p.id, [(a, {})]),
        "edit_description": lambda: p.ws.edit_staged_description(p.id, a, "New name"),
    }[action]()
    assert plan_rows(p) != before
    assert p.ws.undo_depth == depth + 1
    p.ws.undo()
    assert plan_rows(p) == before
    assert p.ws.undo_depth == depth


def test_undo_of_a_link_restores_the_balance_with_a_history_point(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001, balance="1.00")
    p.ws.link_to_existing(p.id, sid, p.manual)
    assert p.ws.undo() == "link"
    assert p.ws.account(p.id, p.manual).balance == Decimal("250000.00")
    assert [(b, s) for _, b, s in p.ws.balance_history(p.id, p.manual)] == [
        (Decimal("250000.00"), "add"), (Decimal("1.00"), "link"), (Decimal("250000.00"), "undo")]


def test_undo_goes_back_at_least_twenty_levels(p: Plan) -> None:
    ids = [stage(p.ws, p.id, p.integ, 6000 + i) for i in range(25)]
    start = plan_rows(p)
    for sid in ids:
        p.ws.ignore(p.id, [sid])
    assert p.ws.undo_depth == 25
    for _ in range(25):
        p.ws.undo()
    assert plan_rows(p) == start
    with pytest.raises(InvalidState, match="nothing to undo"):
        p.ws.undo()


def test_undo_walks_back_several_actions_on_the_same_row(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001)
    start = plan_rows(p)
    p.ws.ignore(p.id, [sid], reason="one")
    p.ws.stop_ignoring(p.id, [sid])
    p.ws.edit_staged_description(p.id, sid, "Renamed")
    p.ws.link_to_existing(p.id, sid, p.manual)
    assert [p.ws.undo() for _ in range(4)] == ["link", "edit description", "stop ignoring 1",
                                                "ignore 1"]
    assert plan_rows(p) == start


def test_an_action_between_two_steps_stops_undo_there(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001)
    p.ws.edit_staged_description(p.id, sid, "Renamed")
    p.ws.link_to_existing(p.id, sid, p.manual)
    p.ws.pause(p.id, p.manual)  # not triage: not undoable, but it changed the row
    with pytest.raises(UndoConflict, match="changed since"):
        p.ws.undo()  # the link
    p.ws.stop(p.id, p.manual)
    assert p.ws.staged(p.id, sid).description == "Renamed"
    with pytest.raises(UndoConflict):
        p.ws.undo()  # the description: the row went through link, pause and stop since
    assert p.ws.undo_depth == 0


def test_undo_keeps_what_a_pull_recorded_meanwhile(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001)
    p.ws.edit_staged_description(p.id, sid, "Mine")
    with p.ws.store.write() as db:  # a pull's bookkeeping: no version bump
        db.execute("UPDATE staged_accounts SET last_updated = '2030-01-01T00:00:00Z', "
                   "missing_streak = 1, source_updated_at = 'x' WHERE id = ?", [sid])
    p.ws.undo()
    row = p.ws.store.conn.execute(
        "SELECT description, last_updated, missing_streak, source_updated_at "
        "FROM staged_accounts WHERE id = ?", [sid]).fetchone()
    assert row == ("Fidelity 1234", "2030-01-01T00:00:00Z", 1, "x")


def test_undo_is_refused_when_a_pull_changed_the_row_since(p: Plan) -> None:
    a = stage(p.ws, p.id, p.integ, 5001)
    b = stage(p.ws, p.id, p.integ, 5002)
    p.ws.ignore(p.id, [a])
    p.ws.ignore(p.id, [b])
    # another session of the same advisor changes b meanwhile
    other = Workspace.open(p.ws.store.path, "alice")
    other.stop_ignoring(p.id, [b])
    other.close()
    before = snapshot(p.ws)
    with pytest.raises(UndoConflict, match="Fidelity 1234. changed since"):
        p.ws.undo()
    assert snapshot(p.ws) == before
    # the refused step is gone (it could never apply); the one before it still undoes
    p.ws.undo()
    assert staged_state(p.ws, a) == ("pending", None, None)
    assert staged_state(p.ws, b) == ("pending", None, None)


def test_undo_is_refused_when_the_row_was_refreshed_by_a_pull(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001)
    p.ws.edit_staged_description(p.id, sid, "Mine")
    with p.ws.store.write() as db:  # what the pull engine writes for a changed pending row
        db.execute("UPDATE staged_accounts SET balance = '5.00', version = version + 1 "
                   "WHERE id = ?", [sid])
    with pytest.raises(UndoConflict):
        p.ws.undo()
    assert p.ws.staged(p.id, sid).description == "Mine"


def test_undo_never_touches_a_new_row_that_reuses_an_old_id(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001, contacts=(GOMEZ,))
    p.ws.ignore(p.id, [sid], reason="closed")
    p.ws.unlink_contact(p.id, p.integ, GOMEZ)  # drops the ignored row only Gomez reached
    p.ws.link_contact(p.id, p.integ, GOMEZ, "Gomez Addams", "Gomez")
    new = stage(p.ws, p.id, p.integ, 5009, contacts=(GOMEZ,))  # another Redtail account
    assert new == sid  # SQLite hands out the freed id again
    other = Workspace.open(p.ws.store.path, "alice")
    other.ignore(p.id, [new])  # now at the same version the undo step remembers
    other.close()
    with pytest.raises(UndoConflict, match="gone"):
        p.ws.undo()
    assert staged_state(p.ws, new) == ("ignored", None, None)


def test_undo_belongs_to_the_workspace_that_acted(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001)
    p.ws.ignore(p.id, [sid])
    other = Workspace.open(p.ws.store.path, "alice")
    with pytest.raises(InvalidState):
        other.undo()
    other.close()


def test_undo_is_audited(p: Plan) -> None:
    sid = stage(p.ws, p.id, p.integ, 5001)
    p.ws.ignore(p.id, [sid])
    p.ws.undo()
    last = audit_rows(p.ws)[-1]
    assert (last["action"], last["user_name"], last["plan_id"]) == ("undo", "alice", p.id)
    assert str(sid) in last["detail"]


# ------------------------------------------------------------------ plans


def test_deleting_a_plan_removes_its_rows_and_nothing_else(p: Plan) -> None:
    other = p.ws.create_plan("Munsters")
    keep = stage(p.ws, other.id, p.integ, 5001)
    kept_account = p.ws.add_account(other.id, {"description": "x", "investment_type": "Cash",
                                               "balance": "1"})
    sid = stage(p.ws, p.id, p.integ, 5001)
    p.ws.link_to_existing(p.id, sid, p.manual)
    p.ws.delete_plan(p.id)
    with pytest.raises(NotFound):
        p.ws.plan_detail(p.id)
    conn = p.ws.store.conn
    assert [r[0] for r in conn.execute("SELECT id FROM staged_accounts")] == [keep]
    assert [r[0] for r in conn.execute("SELECT id FROM plan_accounts")] == [kept_account.id]
    assert conn.execute("SELECT count(*) FROM plan_contacts").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM balance_history WHERE plan_account_id = ?",
                        [p.manual]).fetchone()[0] == 0


# ------------------------------------------------------------------ bulk, set-based


def test_ignore_and_undo_of_10k_rows(db_path: Path) -> None:
    """SPEC §4 bulk triage at size: 10k rows ignored in one action, one audit entry per row,
    one undo step restoring the exact prior state. (How long it takes is measured by the
    benchmark, tests/bench/bench_tui.py, not by a timed test on a shared machine.)"""
    from tests.helpers import make_big_plan, plan_state

    ids = make_big_plan(db_path, 10_000)
    ws = Workspace.open(db_path, "advisor")
    plan_id = ids["plan_id"]
    wanted = ws.staged_keys(plan_id, "pending")
    before = plan_state(ws)
    audited = len(audit_rows(ws))
    assert ws.ignore(plan_id, wanted, "bulk") == wanted
    assert ws.staged_counts(plan_id) == {"pending": 0, "ignored": 10_000}
    entries = audit_rows(ws)[audited:]
    assert [e["object_id"] for e in entries] == wanted
    assert {e["action"] for e in entries} == {"ignore"}
    assert ws.undo() == "ignore 10,000"
    assert plan_state(ws) == before
    ws.close()


def test_bulk_add_leaves_unknown_balances_and_types_to_review_pending(p: Plan) -> None:
    a = stage(p.ws, p.id, p.integ, 5001, contacts=(GOMEZ,))
    b = stage(p.ws, p.id, p.integ, 5002, balance=None)
    c = stage(p.ws, p.id, p.integ, 5003, account_type="Annuity",
              default_investment_type="Other")
    d = stage(p.ws, p.id, p.integ, 5004, contacts=(MORTICIA,), balance=None)
    with p.ws.store.write() as db:
        db.execute("UPDATE staged_accounts SET review_type = 1 WHERE id IN (?, ?)", [c, d])
    before = plan_rows(p)
    assert p.ws.bulk_add_check(p.id, [a, b, c, d]) == {
        b: "balance unknown", c: "type needs review", d: "balance unknown and type needs review"}
    result = p.ws.bulk_add_to_plan(p.id, [a, b, c, d])
    assert [x.link.staged_id for x in result.added if x.link] == [a]
    assert result.left_pending == {b: "balance unknown", c: "type needs review",
                                   d: "balance unknown and type needs review"}
    assert pending_ids(p) == [b, c, d]
    assert p.ws.undo() == "add 1"
    assert plan_rows(p) == before
    # one owner for all (canonical), the type still each row's own
    e = stage(p.ws, p.id, p.integ, 5005, account_type="Roth IRA",
              default_investment_type="Roth IRA")
    added = p.ws.bulk_add_to_plan(p.id, [a, e], owner=" joint ").added
    assert [(x.owner, x.investment_type) for x in added] == [
        ("Joint", "Taxable Brokerage"), ("Joint", "Roth IRA")]


def test_bulk_add_is_all_or_none(p: Plan) -> None:
    a = stage(p.ws, p.id, p.integ, 5001)
    ignored = stage(p.ws, p.id, p.integ, 5002, state="ignored")
    before = snapshot(p.ws)
    with pytest.raises(NotFound, match="999"):
        p.ws.bulk_add_to_plan(p.id, [a, 999])
    with pytest.raises(InvalidState, match=str(ignored)):
        p.ws.bulk_add_to_plan(p.id, [a, ignored])
    with pytest.raises(ValidationFailed):
        p.ws.bulk_add_to_plan(p.id, [a], owner="Uncle Fester")
    assert snapshot(p.ws) == before and p.ws.undo_depth == 0


# ------------------------------------------------------------------ the windowed tables' queries


def test_staged_keys_filter_by_description_company_last4_type_and_contact(p: Plan) -> None:
    from plantech_tui.service.workspace import TableQuery

    a = stage(p.ws, p.id, p.integ, 5001, company="Fidelity", number_last4="4401",
              contacts=(GOMEZ,), balance="300.00")
    b = stage(p.ws, p.id, p.integ, 5002, company="Vanguard", number_last4="0046",
              account_type="Roth IRA", default_investment_type="Roth IRA",
              contacts=(MORTICIA,), balance=None)
    c = stage(p.ws, p.id, p.integ, 5003, company=None, number_last4="7264",
              account_type="Checking", default_investment_type="Cash",
              contacts=(GOMEZ, MORTICIA), balance="5.00")
    ignored = stage(p.ws, p.id, p.integ, 5004, state="ignored", company="Fidelity")

    def keys(text: str = "", sort: str | None = None, descending: bool = False) -> list[int]:
        return p.ws.staged_keys(p.id, "pending", TableQuery(text, sort, descending))

    assert keys() == [a, b, c]
    assert keys("fidelity") == [a]  # company (any case); the ignored one is not pending
    assert keys("0046") == [b]  # last 4
    assert keys("cash") == [c] and keys("roth") == [b]  # default type, Redtail type
    assert keys("morticia") == [b, c] and keys("gomez addams") == [a, c]  # contacts
    assert keys("morticia checking") == [c]  # every term must match
    assert keys("100%") == [] and keys("_") == []  # LIKE wildcards are literal
    assert keys(sort="balance") == [c, a, b]  # unknown balances last
    assert keys(sort="balance", descending=True) == [a, c, b]
    assert keys(sort="description") == [c, a, b]  # Checking 7264, Fidelity, Vanguard
    assert p.ws.staged_keys(p.id, "ignored", TableQuery("fid")) == [ignored]
    assert p.ws.staged_in_state(p.id, "pending", [ignored, a, 999]) == [a]


def test_staged_rows_carry_their_suggestion_computed_per_page(p: Plan) -> None:
    match = stage(p.ws, p.id, p.integ, 5001, company="Vanguard", number_last4="9876",
                  account_type="401(k)", default_investment_type="401(k)")
    other = stage(p.ws, p.id, p.integ, 5002)
    with p.ws.store.write() as db:
        db.execute("UPDATE plan_accounts SET number_last4 = '9876' WHERE id = ?", [p.manual])
    rows = p.ws.staged_rows(p.id, [other, match])
    assert [(s.id, s.suggested_account_id) for s in rows] == [(other, None), (match, p.manual)]
    detail = p.ws.plan_detail(p.id)  # plan show agrees
    assert {s.id: s.suggested_account_id for s in detail.pending} == {match: p.manual,
                                                                      other: None}


def test_the_inbox_lists_the_pending_rows_of_the_plans_the_user_sees(p: Plan) -> None:
    other = p.ws.create_plan("Munsters")
    mine = stage(p.ws, p.id, p.integ, 5001)
    theirs_shared = stage(p.ws, other.id, p.integ, 5002)
    stage(p.ws, other.id, p.integ, 5003, state="ignored")
    bob = p.ws.add_user("bob", "advisor")
    bobs = Workspace(p.ws.store, bob)
    hidden = bobs.create_plan("Bob's")
    bobs_row = stage(p.ws, hidden.id, p.integ, 5004)
    assert p.ws.inbox_keys() == [mine, theirs_shared]  # by plan name: Addams, Munsters
    assert [(plan.name, s.id) for plan, s in p.ws.inbox_rows([theirs_shared, mine])] == [
        ("Munsters", theirs_shared), ("Addams Family", mine)]
    assert p.ws.inbox_rows([bobs_row]) == []  # not his plan: not even by id
    assert bobs.inbox_keys() == [bobs_row]
