"""Issue 12 point 9 (edges): what the advisor reads names accounts and people, not row ids.

Undo refusals and the audit log name the account ('Fidelity 1234'), never "staged 2"; a
household member who is neither the plan's client nor co-client is not linked "as Client"."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from plantech_tui.domain.errors import UndoConflict
from plantech_tui.service.workspace import Workspace
from tests.helpers import make_integration, stage

GOMEZ, MORTICIA = 101, 102


@dataclass
class Plan:
    ws: Workspace
    id: int
    integ: int


@pytest.fixture
def p(db_path: Path) -> Plan:
    ws = Workspace.open(db_path, "alice")
    plan = ws.create_plan("Addams Family", ["Gomez Addams", "Morticia Addams"])
    integ = make_integration(ws, ws.user.id)
    ws.link_contact(plan.id, integ, GOMEZ, "Gomez Addams", "Gomez", party="client")
    ws.link_contact(plan.id, integ, MORTICIA, "Morticia Addams", "Morticia", party="co_client")
    return Plan(ws, plan.id, integ)


def test_undo_refusal_names_the_account_and_the_action(p: Plan) -> None:
    """An advisor ignores 'Fidelity 1234'; a colleague stops ignoring it meanwhile. Undo is
    refused, and the message says which account and which action, not "staged 7"."""
    sid = stage(p.ws, p.id, p.integ, 5001, description="Fidelity 1234")
    p.ws.ignore(p.id, [sid])
    other = Workspace.open(p.ws.store.path, "alice")
    other.stop_ignoring(p.id, [sid])
    other.close()
    with pytest.raises(UndoConflict) as refused:
        p.ws.undo()
    text = str(refused.value)
    assert text.startswith("cannot undo Ignore of 'Fidelity 1234': 'Fidelity 1234' changed since")
    assert f"staged account {sid}" not in text and f"staged {sid}" not in text


def test_undo_refusal_of_a_bulk_step_names_the_row_that_changed(p: Plan) -> None:
    """Two rows ignored in one step; a colleague touches the second: the refusal names it."""
    a = stage(p.ws, p.id, p.integ, 5001, description="Fidelity 1234")
    b = stage(p.ws, p.id, p.integ, 5002, description="Schwab 9876")
    p.ws.ignore(p.id, [a, b])
    other = Workspace.open(p.ws.store.path, "alice")
    other.stop_ignoring(p.id, [b])
    other.close()
    with pytest.raises(UndoConflict, match=r"cannot undo ignore 2: 'Schwab 9876' changed since"):
        p.ws.undo()


def test_audit_log_names_the_accounts_an_entry_is_about(p: Plan) -> None:
    """The audit log's Object column reads "staged 'Fidelity 1234'", and an undo's detail
    lists the accounts it restored by name."""
    from plantech_tui.screens.audit_log import object_label

    sid = stage(p.ws, p.id, p.integ, 5001, description="Fidelity 1234")
    p.ws.edit_staged_description(p.id, sid, "Fidelity brokerage")
    account = p.ws.add_account(p.id, {"description": "Gomez 401(k)", "investment_type": "401(k)",
                                      "balance": "250000.00"})
    p.ws.undo()  # the description edit
    ids = p.ws.audit_keys(p.id)
    entries = p.ws.audit_entries(p.id, ids)
    names = p.ws.audit_object_names(p.id, entries)
    labels = {(e.action, object_label(e, names.get(e.id))) for e in entries}
    assert ("edit staged description", "staged 'Fidelity brokerage'") in labels
    assert ("account add", "account 'Gomez 401(k)'") in labels
    assert ("link contact", "contact 'Morticia Addams'") in labels
    undo = next(e for e in entries if e.action == "undo")
    assert "'Fidelity 1234'" in undo.detail and f"staged {sid}" not in undo.detail
    assert account.id


def test_pending_rows_sort_by_contact(p: Plan) -> None:
    """An advisor sorts Pending Data by the Contact column (o): Gomez's rows, then the joint
    one (Gomez first by name), then Morticia's; descending reverses."""
    from plantech_tui.store.tables import TableQuery

    hers = stage(p.ws, p.id, p.integ, 5001, contacts=(MORTICIA,))
    his = stage(p.ws, p.id, p.integ, 5002, contacts=(GOMEZ,))
    nobody = stage(p.ws, p.id, p.integ, 5003, contacts=(999,))  # a contact the plan lacks
    joint = stage(p.ws, p.id, p.integ, 5004, contacts=(MORTICIA, GOMEZ))
    assert p.ws.staged_keys(p.id, "pending", TableQuery(sort="contact")) == [
        nobody, his, joint, hers]
    assert p.ws.staged_keys(p.id, "pending", TableQuery(sort="contact", descending=True)) == [
        hers, joint, his, nobody]


def test_a_linked_child_is_in_the_plan_as_neither_client_nor_co_client(db_path: Path) -> None:
    """An advisor links the Addams household to the plan of Gomez (client) and Morticia
    (co-client): Wednesday and Pugsley are neither, and their listing does not turn
    Morticia's account into a Joint one."""
    ws = Workspace.open(db_path, "alice")
    plan = ws.create_plan("Addams Family", ["Gomez Addams", "Morticia Addams"])
    integ = make_integration(ws, ws.user.id)
    linked = {c.name: c.party for c in (
        ws.link_contact(plan.id, integ, 101, "Gomez Addams", "Gomez"),
        ws.link_contact(plan.id, integ, 102, "Morticia Addams", "Morticia"),
        ws.link_contact(plan.id, integ, 103, "Wednesday Friday Addams", "Wednesday"),
        ws.link_contact(plan.id, integ, 104, "Pugsley Addams", "Pugsley"))}
    assert linked == {"Gomez Addams": "client", "Morticia Addams": "co_client",
                      "Wednesday Friday Addams": "other", "Pugsley Addams": "other"}
    # Morticia's account that lists Wednesday too (a custodial one) is Morticia's, not Joint
    sid = stage(ws, plan.id, integ, 5001, contacts=(MORTICIA, 103))
    assert ws.add_to_plan(plan.id, sid).owner == "Co-client"
    ws.close()


def test_a_database_of_the_previous_schema_upgrades_keeping_its_contacts(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An operator upgrades a firm's database: the linked contacts (and their ids) stay, and
    a child can then be recorded as neither client nor co-client."""
    import sqlite3

    from plantech_tui.store import schema

    newest = list(schema.MIGRATIONS)
    conn = sqlite3.connect(db_path, isolation_level=None)  # a plantech of schema 3 wrote it
    monkeypatch.setattr(schema, "MIGRATIONS", newest[:3])
    schema.migrate(conn)
    conn.executescript(
        "INSERT INTO users (id, name, role, can_edit, created_at, is_admin) "
        "VALUES (1, 'alice', 'advisor', 1, 'now', 1);"
        "INSERT INTO plans (id, name, client, co_client, owner_user_id, created_at) "
        "VALUES (1, 'Addams Family', 'Gomez Addams', 'Morticia Addams', 1, 'now');"
        "INSERT INTO integrations (id, owner_user_id, environment, base_url, username, "
        "secret_ref, created_at) VALUES (1, 1, 'Custom', 'http://127.0.0.1:9/x', 'u', 'r', 'now');"
        "INSERT INTO plan_contacts (id, plan_id, integration_id, redtail_contact_id, name, "
        "party, linked_at) VALUES (7, 1, 1, 101, 'Gomez Addams', 'client', 'now');")
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint"):
        conn.execute("UPDATE plan_contacts SET party = 'other' WHERE id = 7")
    conn.close()
    integ, gomez_id = 1, 7  # the ids written above

    monkeypatch.setattr(schema, "MIGRATIONS", newest)
    ws = Workspace.open(db_path, "alice")
    assert ws.store.conn.execute("PRAGMA user_version").fetchone()[0] == len(newest)
    plan_id = 1
    assert [(c.id, c.name, c.party, c.redtail_contact_id, c.source_contact_id)
            for c in ws.contacts(plan_id)] == [(gomez_id, "Gomez Addams", "client", 101, "101")]
    assert ws.link_contact(plan_id, integ, 104, "Pugsley Addams", "Pugsley").party == "other"
    ws.close()
