"""The CLI's JSON for Redtail rows stays what it was (issue 11): byte for byte, plus the keys a
second partner needs (`partner`, `source_contact_id`, `source_account_id`).

EXPECTED (data/redtail_json_before_issue11.json) holds `plan show --json` and `triage`'s output captured from main before the
partner-neutral keys were added. A script that parses these documents (a firm's nightly export,
a reconciliation job) must find every key it read, in the same order, with the same values and
types (Redtail ids stay integers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from plantech_tui.cli import main
from plantech_tui.service.workspace import Workspace
from tests.helpers import make_integration, stage

ADDED = ("partner", "source_contact_id", "source_account_id", "type_note")  # type_note: issue 13
EXPECTED = Path(__file__).with_name("data") / "redtail_json_before_issue11.json"


def _scenario(db_path: Path) -> Workspace:
    ws = Workspace.open(db_path, "alice")
    plan = ws.create_plan("Addams", ["Morticia Addams", "Gomez Addams"])
    integ = make_integration(ws, ws.user.id, username="alice-rt")
    ws.link_contact(plan.id, integ, 101, "Morticia Addams", "Morticia")
    ws.link_contact(plan.id, integ, 102, "Gomez Addams", "Gomez")
    stage(ws, plan.id, integ, 5001, contacts=(101,))
    stage(ws, plan.id, integ, 5002, contacts=(101, 102), number_last4="9876",
          company="Vanguard", balance=None)
    ignored = stage(ws, plan.id, integ, 5003, contacts=(102,), company="Schwab")
    ws.ignore(plan.id, [ignored], reason="closed")
    with ws.store.write() as db:  # the clock out of the picture
        db.execute("UPDATE staged_accounts SET last_updated = '2026-01-02T03:04:05Z', "
                   "created_at = '2026-01-01T00:00:00Z'")
    return ws


def _run(capsys: pytest.CaptureFixture[str], db_path: Path, *args: str) -> str:
    capsys.readouterr()
    assert main(["--db", str(db_path), "--user", "alice", *args]) == 0
    return capsys.readouterr().out


def _documents(capsys: pytest.CaptureFixture[str], db_path: Path) -> dict[str, str]:
    ws = _scenario(db_path)
    docs = {"add": _run(capsys, db_path, "triage", "1", "add", "1", "--json"),
            "ignore": _run(capsys, db_path, "triage", "1", "ignore", "2", "--json")}
    docs["show"] = _run(capsys, db_path, "plan", "show", "1", "--json")
    docs["stop-ignoring"] = _run(capsys, db_path, "triage", "1", "stop-ignoring", "2", "3",
                                 "--json")
    ws.close()
    return docs


def _without_added(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _without_added(v) for k, v in doc.items() if k not in ADDED}
    if isinstance(doc, list):
        return [_without_added(v) for v in doc]
    return doc


def _rows(doc: Any) -> list[dict[str, Any]]:
    """Every object that carries a Redtail id."""
    found: list[dict[str, Any]] = []
    if isinstance(doc, dict):
        if any(k.startswith("redtail_") for k in doc):
            found.append(doc)
        for v in doc.values():
            found += _rows(v)
    elif isinstance(doc, list):
        for v in doc:
            found += _rows(v)
    return found


def test_redtail_json_is_what_it_was_plus_the_added_keys(
        capsys: pytest.CaptureFixture[str], db_path: Path) -> None:
    """A firm's script reading `plan show --json` / `plan add --json` for Redtail rows: the
    documents minus the added keys are byte for byte those of before (key order included)."""
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    docs = _documents(capsys, db_path)
    assert set(docs) == set(expected)
    for name, text in docs.items():
        stripped = json.dumps(_without_added(json.loads(text)), indent=2) + "\n"
        assert stripped == expected[name], name


def test_every_redtail_row_names_its_partner_and_source_id_as_text(
        capsys: pytest.CaptureFixture[str], db_path: Path) -> None:
    """A script written for any partner reads `partner` and the `source_*` ids (strings, a
    Salesforce id is 18 characters); for Redtail rows they say the same as the redtail_* keys."""
    docs = _documents(capsys, db_path)
    rows = [r for text in docs.values() for r in _rows(json.loads(text))]
    assert len(rows) >= 6
    for row in rows:
        assert row["partner"] == "redtail"
        for kind in ("contact", "account"):
            if f"redtail_{kind}_id" in row:
                assert isinstance(row[f"redtail_{kind}_id"], int)
                assert row[f"source_{kind}_id"] == str(row[f"redtail_{kind}_id"])
