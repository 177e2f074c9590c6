"""Migration 5 (issue 11): a partner's ids are opaque text in source_* columns.

Adversary: the upgrade itself — a firm's database written by the previous plantech, with
staged rows in every state, contact listings and a linked account, must come through with
every id, listing and link intact; and a Salesforce-like id of all digits with leading zeros
(which an INTEGER column would have turned into a number) must be kept exactly.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from plantech_tui.service.workspace import Workspace
from plantech_tui.store import schema

OLD_ROWS = """
INSERT INTO users (id, name, role, can_edit, created_at, is_admin)
    VALUES (1, 'alice', 'advisor', 1, 'now', 1);
INSERT INTO plans (id, name, client, co_client, owner_user_id, created_at)
    VALUES (1, 'Addams Family', 'Gomez Addams', 'Morticia Addams', 1, 'now');
INSERT INTO integrations (id, owner_user_id, environment, base_url, username, secret_ref,
                          created_at)
    VALUES (1, 1, 'Custom', 'http://127.0.0.1:9/x', 'u', 'r', 'now');
INSERT INTO plan_contacts (id, plan_id, integration_id, redtail_contact_id, name, party,
                           linked_at)
    VALUES (1, 1, 1, 101, 'Gomez Addams', 'client', 'now'),
           (2, 1, 1, 102, 'Morticia Addams', 'co_client', 'now');
INSERT INTO plan_accounts (id, plan_id, description, investment_type, owner, balance,
                           created_at, updated_at)
    VALUES (1, 1, 'Gomez 401(k)', '401(k)', 'Client', '250000.00', 'now', 'now');
INSERT INTO staged_accounts (id, plan_id, integration_id, redtail_account_id, state,
                             linked_account_id, link_state, description,
                             default_investment_type, balance, redtail_updated_at,
                             created_at)
    VALUES (11, 1, 1, 5001, 'pending', NULL, NULL, 'Fidelity 1234', 'Taxable Brokerage',
            '100.00', '2024-01-02T03:04:05Z', 'now'),
           (12, 1, 1, 5002, 'ignored', NULL, NULL, 'Vanguard 5678', 'Roth IRA', '5.00',
            NULL, 'now'),
           (13, 1, 1, 5003, 'linked', 1, 'paused', 'Schwab 4401', '401(k)', '250000.00',
            NULL, 'now');
INSERT INTO staged_account_contacts (staged_id, redtail_contact_id)
    VALUES (11, 101), (11, 102), (12, 102), (13, 101);
"""


@pytest.fixture
def old_db(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    newest = list(schema.MIGRATIONS)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    monkeypatch.setattr(schema, "MIGRATIONS", newest[:4])  # the previous plantech
    assert schema.migrate(conn) == 4
    conn.executescript(OLD_ROWS)
    conn.close()
    monkeypatch.setattr(schema, "MIGRATIONS", newest)
    return db_path


def test_the_upgrade_keeps_every_id_listing_and_link(old_db: Path) -> None:
    ws = Workspace.open(old_db, "alice")
    conn = ws.store.conn
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    cols = {t: {r[1]: r[2] for r in conn.execute(f"PRAGMA table_info({t})")}
            for t in ("plan_contacts", "staged_accounts", "staged_account_contacts")}
    assert cols["plan_contacts"]["source_contact_id"] == "TEXT"
    assert cols["staged_accounts"]["source_account_id"] == "TEXT"
    assert "source_updated_at" in cols["staged_accounts"]
    assert cols["staged_account_contacts"]["source_contact_id"] == "TEXT"
    assert not any("redtail" in c for t in cols.values() for c in t)

    detail = ws.plan_detail(1)
    [pending], [ignored] = detail.pending, detail.ignored
    assert (pending.id, pending.source_account_id, pending.redtail_account_id) == (11, "5001", 5001)
    assert pending.contact_ids == ("101", "102")
    assert pending.source_updated_at == "2024-01-02T03:04:05Z"
    assert (ignored.id, ignored.contact_ids) == (12, ("102",))
    [account] = detail.accounts
    assert account.link is not None and account.link.state.value == "paused"
    assert account.link.redtail_account_id == 5003
    # the CLI's JSON for these Redtail rows: the redtail_* keys as numbers, plus the text ids
    shown = pending.as_json()
    assert shown["redtail_account_id"] == 5001 and shown["source_account_id"] == "5001"
    assert [c.as_json()["redtail_contact_id"] for c in ws.contacts(1)] == [101, 102]
    # and the rows still behave: Play the paused link, a joint pending row added as Joint
    assert ws.play(1, 1).link.state.value == "active"  # type: ignore[union-attr]
    assert ws.add_to_plan(1, 11).owner == "Joint"
    ws.close()


def test_an_all_digit_text_id_keeps_its_leading_zeros(db_path: Path) -> None:
    """An 18-character id of digits (possible for Salesforce) is text, not a number."""
    ws = Workspace.open(db_path, "alice")
    plan = ws.create_plan("P", ["A B"])
    from tests.helpers import make_integration

    integ = make_integration(ws, ws.user.id)
    contact = ws.link_contact(plan.id, integ, "001000000000000012", "A B", "A")
    assert contact.source_contact_id == "001000000000000012"
    assert [c.source_contact_id for c in ws.contacts(plan.id)] == ["001000000000000012"]
    ws.unlink_contact(plan.id, integ, "001000000000000012")
    assert ws.contacts(plan.id) == []
    ws.close()
