"""The command line contract of SPEC §5: exit codes, one-line errors, one JSON document,
global options anywhere, the `plan show` shape, CSV export rules, and the triage commands.

Most calls run `plantech_tui.cli.main` in-process; a few run the installed `plantech`."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from plantech_tui.cli import main
from plantech_tui.service.workspace import Workspace
from tests.helpers import make_integration, snapshot, stage

PLANTECH = Path(sys.executable).with_name("plantech")
GOMEZ, MORTICIA = 101, 102


@dataclass
class Result:
    rc: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)  # fails on anything but exactly one document


class Cli:
    def __init__(self, capsys: pytest.CaptureFixture[str], db: Path) -> None:
        self.capsys = capsys
        self.db = db

    def raw(self, *args: str) -> Result:
        self.capsys.readouterr()
        rc = main(list(args))
        out, err = self.capsys.readouterr()
        result = Result(rc, out, err)
        check_contract(result, args)
        return result

    def __call__(self, *args: str, user: str = "alice") -> Result:
        return self.raw("--db", str(self.db), "--user", user, *args)


def check_contract(r: Result, args: tuple[str, ...] | list[str]) -> None:
    """What holds for every command: exit 0/1/2, errors as one line, never a traceback."""
    assert r.rc in (0, 1, 2), r
    assert "Traceback" not in r.err and "Traceback" not in r.out
    if r.rc != 0:
        assert r.err.endswith("\n") and r.err.count("\n") == 1, repr(r.err)
        assert r.err.startswith("plantech: error: "), repr(r.err)
        if "--json" in args:
            assert r.out == ""
    elif "--json" in args:
        json.loads(r.out)


@dataclass
class World:
    cli: Cli
    ws: Workspace
    plan: int
    integ: int
    pending: int  # 5001, 125000.00, Rollover IRA
    no_balance: int  # 5002, balance null
    ignored: int  # 5003
    manual: int  # Gomez 401(k)
    linked: int  # from 5004, active


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], db_path: Path) -> Cli:
    return Cli(capsys, db_path)


@pytest.fixture
def world(cli: Cli) -> World:
    assert cli("plan", "create", "Addams Family", "--clients", "Gomez Addams;Morticia Addams"
               ).rc == 0
    ws = Workspace.open(cli.db, "alice")
    integ = make_integration(ws, ws.user.id)
    ws.link_contact(1, integ, GOMEZ, "Gomez Addams", "Gomez", party="client")
    ws.link_contact(1, integ, MORTICIA, "Morticia Addams", "Morticia", party="co_client")
    pending = stage(ws, 1, integ, 5001, balance="125000.00", account_type="Rollover IRA",
                    default_investment_type="Traditional IRA", contacts=(GOMEZ, MORTICIA))
    no_balance = stage(ws, 1, integ, 5002, balance=None, company=None, account_type="Roth IRA",
                       default_investment_type="Roth IRA", number_last4="77")
    ignored = stage(ws, 1, integ, 5003, state="ignored")
    manual = ws.add_account(1, {"description": "Gomez 401(k)", "investment_type": "401(k)",
                                "balance": "250000.00"}).id
    linked = ws.add_to_plan(1, stage(ws, 1, integ, 5004, balance="10.00")).id
    return World(cli, ws, 1, integ, pending, no_balance, ignored, manual, linked)


# ------------------------------------------------------------------ global options, JSON


@pytest.mark.parametrize("order", ["before", "after", "mixed", "env"])
def test_global_options_before_and_after_the_subcommand(
        cli: Cli, db_path: Path, order: str, monkeypatch: pytest.MonkeyPatch) -> None:
    db, user = ["--db", str(db_path)], ["--user", "alice"]
    args = {
        "before": [*db, *user, "--json", "plan", "list"],
        "after": ["plan", "list", *db, *user, "--json"],
        "mixed": ["--json", *user, "plan", *db, "list"],
        "env": ["plan", "list", "--json"],
    }[order]
    if order == "env":
        monkeypatch.setenv("PLANTECH_DB", str(db_path))
        monkeypatch.setenv("PLANTECH_USER", "alice")
    r = cli.raw(*args)
    assert r.rc == 0, r
    assert r.json() == {"plans": []}
    assert db_path.exists()
    assert Workspace.open(db_path, "alice").user.role.value == "advisor"


def test_json_goes_with_any_position_of_the_triage_command(world: World) -> None:
    r = world.cli("triage", str(world.plan), "ignore", str(world.pending), "--json")
    assert r.rc == 0 and r.json()["changed"] == [world.pending]
    r = world.cli("--json", "triage", str(world.plan), "stop-ignoring", str(world.pending))
    assert r.rc == 0 and r.json()["changed"] == [world.pending]


def test_plan_create_prints_the_plan_list_entry(cli: Cli) -> None:
    r = cli("plan", "create", "  Addams   Family ", "--clients", "Gomez Addams; Morticia Addams",
            "--json")
    assert r.rc == 0
    created = r.json()
    listed = cli("plan", "list", "--json").json()["plans"]
    assert listed == [created]
    assert created == {"id": 1, "name": "Addams Family",
                       "clients": ["Gomez Addams", "Morticia Addams"], "accounts": 0,
                       "pending": 0, "ignored": 0, "last_pull": None}


def test_plan_list_counts(world: World) -> None:
    [entry] = world.cli("plan", "list", "--json").json()["plans"]
    assert set(entry) == {"id", "name", "clients", "accounts", "pending", "ignored", "last_pull"}
    assert (entry["accounts"], entry["pending"], entry["ignored"]) == (2, 2, 1)
    text = world.cli("plan", "list")
    assert text.rc == 0 and "Addams Family" in text.out


PLAN_KEYS = {"plan", "contacts", "pending", "ignored", "accounts"}
PLAN_PLAN_KEYS = {"id", "name", "clients"}
# issue 11 added the partner-neutral keys (`partner`, `source_*_id`) to every Redtail row
CONTACT_KEYS = {"integration_id", "redtail_contact_id", "name", "partner", "source_contact_id"}
STAGED_KEYS = {"id", "redtail_account_id", "description", "company", "number_last4",
               "account_type", "default_investment_type", "review_type", "balance",
               "missing_at_source", "suggested_account_id", "partner", "source_account_id",
               "type_note"}  # type_note: issue 13 (held-away accounts say so there)
ACCOUNT_KEYS = {"id", "description", "investment_type", "balance", "owner", "link"}
LINK_KEYS = {"integration", "redtail_account_id", "state", "last_updated", "missing_at_source",
             "partner", "source_account_id"}


def test_plan_show_json_has_exactly_the_spec_keys(world: World) -> None:
    doc = world.cli("plan", "show", str(world.plan), "--json").json()
    assert set(doc) == PLAN_KEYS
    assert set(doc["plan"]) == PLAN_PLAN_KEYS
    assert doc["plan"] == {"id": 1, "name": "Addams Family",
                           "clients": ["Gomez Addams", "Morticia Addams"]}
    assert [set(c) for c in doc["contacts"]] == [CONTACT_KEYS, CONTACT_KEYS]
    assert doc["contacts"][0] == {"integration_id": world.integ, "redtail_contact_id": GOMEZ,
                                  "name": "Gomez Addams", "partner": "redtail",
                                  "source_contact_id": str(GOMEZ)}
    assert [set(s) for s in doc["pending"]] == [STAGED_KEYS, STAGED_KEYS]
    assert all(STAGED_KEYS <= set(s) for s in doc["ignored"]) and len(doc["ignored"]) == 1
    assert [set(a) for a in doc["accounts"]] == [ACCOUNT_KEYS, ACCOUNT_KEYS]
    assert doc["pending"][0] == {
        "id": world.pending, "redtail_account_id": 5001, "description": "Fidelity 1234",
        "company": "Fidelity", "number_last4": "1234", "account_type": "Rollover IRA",
        "default_investment_type": "Traditional IRA", "review_type": False,
        "balance": "125000.00", "missing_at_source": False, "suggested_account_id": None,
        "partner": "redtail", "source_account_id": "5001",
        "type_note": ""}  # the test stages this row by hand, without a note
    assert doc["pending"][1]["balance"] is None
    manual, linked = doc["accounts"]
    assert manual == {"id": world.manual, "description": "Gomez 401(k)",
                      "investment_type": "401(k)", "balance": "250000.00", "owner": "Client",
                      "link": None}
    assert set(linked["link"]) == LINK_KEYS
    assert linked["link"]["integration"] == "Redtail CRM"
    assert (linked["link"]["redtail_account_id"], linked["link"]["state"]) == (5004, "active")
    assert linked["balance"] == "10.00"
    for key in ("contacts", "pending", "ignored", "accounts"):
        ids = [x.get("id", x.get("redtail_contact_id")) for x in doc[key]]
        assert ids == sorted(ids), key


def test_plan_show_for_a_client_has_the_same_keys_and_no_staged_data(world: World) -> None:
    assert world.cli("users", "add", "Carl", "--role", "client", "--plan", "1").rc == 0
    doc = world.cli("plan", "show", "1", "--json", user="carl").json()
    assert set(doc) == PLAN_KEYS
    assert (doc["contacts"], doc["pending"], doc["ignored"]) == ([], [], [])
    assert [a["id"] for a in doc["accounts"]] == [world.manual, world.linked]
    text = world.cli("plan", "show", "1", user="carl")
    assert text.rc == 0 and "Pending" not in text.out and "Gomez 401(k)" in text.out


def test_plan_show_text_is_a_readable_summary(world: World) -> None:
    r = world.cli("plan", "show", "1")
    assert r.rc == 0
    assert "Addams Family" in r.out and "$125,000.00" in r.out and "Pending" in r.out
    with pytest.raises(json.JSONDecodeError):
        r.json()


# ------------------------------------------------------------------ errors and exit codes


def test_unknown_user_is_exit_1(world: World) -> None:
    before = snapshot(world.ws)
    r = world.cli("plan", "list", user="mallory")
    assert r.rc == 1 and "mallory" in r.err
    assert snapshot(world.ws) == before


def test_first_command_on_a_new_database_makes_an_advisor(cli: Cli) -> None:
    r = cli("plan", "list", "--json", user="gomez")
    assert r.rc == 0
    assert cli("plan", "list", user="GOMEZ").rc == 0  # names match case-insensitively
    assert cli("plan", "list", user="morticia").rc == 1


@pytest.mark.parametrize("args", [
    ["plan", "show", "99"],
    ["plan", "show", "0"],
    ["plan", "show", "x"],
    ["plan"],
    ["plan", "frobnicate"],
    ["frobnicate"],
    ["plan", "list", "--no-such-option"],
    ["account", "add", "1", "--description", "x", "--type", "Cash"],  # --balance missing
    ["account", "pause", "1", "99"],
    ["triage", "1", "ignore"],
    ["triage", "1", "ignore", "99"],
    ["triage", "99", "ignore", "1"],
    ["users", "add", "zed", "--role", "boss"],
    ["export", "99", "--csv"],
])
def test_invalid_arguments_and_unknown_ids_are_exit_2(world: World, args: list[str]) -> None:
    before = snapshot(world.ws)
    for extra in ([], ["--json"]):
        r = world.cli(*args, *extra)
        assert r.rc == 2, r
    assert snapshot(world.ws) == before


def test_errors_name_the_object(world: World) -> None:
    assert "plan 99" in world.cli("plan", "show", "99").err
    assert "account 42" in world.cli("account", "pause", "1", "42").err
    assert "staged account 77" in world.cli("triage", "1", "ignore", "77").err


def test_a_hidden_plan_reads_like_a_missing_one(world: World) -> None:
    world.cli("plan", "create", "Private")
    world.cli("users", "add", "pat", "--role", "professional", "--plan", "1")
    hidden = world.cli("plan", "show", "2", user="pat")
    missing = world.cli("plan", "show", "3", user="pat")
    assert (hidden.rc, missing.rc) == (2, 2)
    assert hidden.err.replace("2", "N") == missing.err.replace("3", "N")


@pytest.mark.parametrize("args", [
    ["triage", "1", "ignore", "1"],
    ["triage", "1", "stop-ignoring", "3"],
    ["triage", "1", "link", "1", "1"],
    ["triage", "1", "add", "1"],
    ["account", "pause", "1", "2"],
    ["account", "stop", "1", "2"],
    ["account", "add", "1", "--description", "x", "--type", "Cash", "--balance", "1"],
    ["account", "delete", "1", "1"],
    ["plan", "create", "Mine"],
    ["users", "add", "zed", "--role", "client"],
    ["integration", "list"],
])
def test_actions_refused_by_role_are_exit_1_and_change_nothing(world: World,
                                                               args: list[str]) -> None:
    world.cli("users", "add", "carl", "--role", "client", "--plan", "1")
    before = snapshot(world.ws)
    r = world.cli(*args, user="carl")
    assert r.rc == 1, r
    assert "carl" in r.err
    assert snapshot(world.ws) == before


def test_a_client_with_can_edit_may_edit_accounts(world: World) -> None:
    world.cli("users", "add", "cora", "--role", "client", "--can-edit", "--plan", "1")
    r = world.cli("account", "add", "1", "--description", "Savings", "--type", "cash",
                  "--balance", "5", "--json", user="cora")
    assert r.rc == 0 and r.json()["investment_type"] == "Cash"
    assert world.cli("account", "delete", "1", str(world.linked), "--yes", user="cora").rc == 0
    assert world.cli("account", "pause", "1", str(world.manual), user="cora").rc == 1


def test_the_tui_without_a_terminal_is_exit_2(cli: Cli, db_path: Path) -> None:
    r = cli.raw("--db", str(db_path))
    assert r.rc == 2 and "not a terminal" in r.err
    assert not db_path.exists()


def test_help_and_version_create_no_database(cli: Cli, db_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTECH_DB", str(db_path))
    for args in (["--help"], ["plan", "--help"], ["triage", "1", "add", "--help"],
                 ["--version"]):
        with pytest.raises(SystemExit) as done:
            main(args)
        assert done.value.code == 0
        assert capsys.readouterr().out.strip()
    assert not db_path.exists()


def test_an_unusable_database_path_is_one_line(cli: Cli, tmp_path: Path) -> None:
    r = cli.raw("--db", str(tmp_path), "--user", "alice", "plan", "list")  # a directory
    assert r.rc in (1, 2)
    assert str(tmp_path) in r.err
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"\x00not sqlite\xff" * 500)
    r = cli.raw("--db", str(garbage), "--user", "alice", "plan", "list", "--json")
    assert r.rc == 1 and "garbage.db" in r.err


def test_an_id_too_large_for_sqlite_is_exit_2(world: World) -> None:
    for args in (["plan", "show", str(2**63)], ["triage", "1", "ignore", "9" * 30],
                 ["account", "pause", "1", str(2**64)]):
        r = world.cli(*args)
        assert r.rc == 2 and "internal error" not in r.err


def test_an_option_value_of_two_dashes_is_a_value(world: World) -> None:
    r = world.cli("plan", "create", "Dashes", "--clients=--", "--json")
    assert r.rc == 0 and r.json()["clients"] == ["--"]
    r = world.cli("users", "add", "zed", "--role=--")
    assert r.rc == 2 and "invalid choice" in r.err


# ------------------------------------------------------------------ accounts


def test_account_add_prints_the_plan_show_entry(world: World) -> None:
    r = world.cli("account", "add", "1", "--description", "Savings", "--type", "  cash ",
                  "--balance", "$1,234.565", "--owner", "co-client", "--json")
    assert r.rc == 0
    created = r.json()
    assert created == {"id": created["id"], "description": "Savings", "investment_type": "Cash",
                       "balance": "1234.56", "owner": "Co-client", "link": None}
    shown = world.cli("plan", "show", "1", "--json").json()["accounts"]
    assert created in shown


def test_account_add_owner_defaults_to_client(world: World) -> None:
    r = world.cli("account", "add", "1", "--description", "x", "--type", "Cash",
                  "--balance=-5", "--json")
    assert r.rc == 0 and (r.json()["owner"], r.json()["balance"]) == ("Client", "-5.00")


@pytest.mark.parametrize(("flag", "value", "valid"), [
    ("--type", "Beanie Babies", ["Taxable Brokerage", "Roth IRA", "Cash", "Other"]),
    ("--owner", "Uncle Fester", ["Client", "Co-client", "Joint"]),
    ("--balance", "lots", []),
])
def test_account_add_validation_lists_valid_values(world: World, flag: str, value: str,
                                                   valid: list[str]) -> None:
    args = {"--type": "Cash", "--owner": "Client", "--balance": "1", flag: value}
    before = snapshot(world.ws)
    r = world.cli("account", "add", "1", "--description", "x",
                  *[x for k, v in args.items() for x in (k, v)])
    assert r.rc == 2
    assert value in r.err
    for name in valid:
        assert name in r.err
    assert snapshot(world.ws) == before


def test_repeated_pause_and_play_are_no_ops_with_exit_0(world: World) -> None:
    acct = str(world.linked)
    r = world.cli("account", "pause", "1", acct, "--json")
    assert r.rc == 0 and r.json()["link"]["state"] == "paused"
    before = snapshot(world.ws)
    r = world.cli("account", "pause", "1", acct, "--json")
    assert r.rc == 0 and r.json()["link"]["state"] == "paused"
    assert snapshot(world.ws) == before
    assert world.cli("account", "play", "1", acct).rc == 0
    before = snapshot(world.ws)
    assert world.cli("account", "play", "1", acct).rc == 0
    assert snapshot(world.ws) == before


def test_stopping_a_manual_account_is_exit_2(world: World) -> None:
    before = snapshot(world.ws)
    r = world.cli("account", "stop", "1", str(world.manual))
    assert r.rc == 2 and f"account {world.manual}" in r.err
    assert world.cli("account", "pause", "1", str(world.manual)).rc == 2
    assert snapshot(world.ws) == before


def test_stop_and_delete_return_the_redtail_account_to_pending(world: World) -> None:
    r = world.cli("account", "stop", "1", str(world.linked), "--json")
    assert r.rc == 0 and r.json()["link"] is None
    pending = world.cli("plan", "show", "1", "--json").json()["pending"]
    assert 5004 in [p["redtail_account_id"] for p in pending]
    staged = next(p["id"] for p in pending if p["redtail_account_id"] == 5004)
    assert world.cli("triage", "1", "link", str(staged), str(world.manual)).rc == 0
    assert world.cli("account", "delete", "1", str(world.manual), "--json", "--yes").rc == 0
    pending = world.cli("plan", "show", "1", "--json").json()["pending"]
    assert staged in [p["id"] for p in pending]


# ------------------------------------------------------------------ triage


def test_multi_id_triage_is_all_or_none_naming_the_first_bad_id(world: World) -> None:
    before = snapshot(world.ws)
    r = world.cli("triage", "1", "ignore", str(world.pending), "98", str(world.no_balance), "99")
    assert r.rc == 2 and "98" in r.err and "99" not in r.err
    assert snapshot(world.ws) == before
    r = world.cli("triage", "1", "ignore", str(world.pending), str(world.no_balance),
                  "--reason", "closed", "--json")
    assert r.rc == 0
    doc = r.json()
    assert doc["changed"] == [world.pending, world.no_balance]
    assert [s["id"] for s in doc["ignored"]] == [world.pending, world.no_balance]
    shown = world.cli("plan", "show", "1", "--json").json()
    assert shown["pending"] == []
    assert [s["id"] for s in shown["ignored"]] == sorted([world.pending, world.no_balance,
                                                          world.ignored])


def test_repeated_ignore_is_exit_0(world: World) -> None:
    assert world.cli("triage", "1", "ignore", str(world.ignored)).rc == 0
    r = world.cli("triage", "1", "stop-ignoring", str(world.pending), "--json")
    assert r.rc == 0 and r.json()["changed"] == []


def test_linking_an_ignored_row_is_exit_2(world: World) -> None:
    before = snapshot(world.ws)
    r = world.cli("triage", "1", "link", str(world.ignored), str(world.manual))
    assert r.rc == 2 and f"staged account {world.ignored}" in r.err
    assert snapshot(world.ws) == before


def test_link_to_existing(world: World) -> None:
    r = world.cli("triage", "1", "link", str(world.pending), str(world.manual), "--json")
    assert r.rc == 0
    doc = r.json()
    assert (doc["id"], doc["balance"], doc["description"]) == \
        (world.manual, "125000.00", "Gomez 401(k)")
    assert doc["link"]["redtail_account_id"] == 5001 and doc["link"]["state"] == "active"
    # repeating it is a no-op; linking another row to the same account is refused
    assert world.cli("triage", "1", "link", str(world.pending), str(world.manual)).rc == 0
    assert world.cli("triage", "1", "link", str(world.no_balance), str(world.manual)).rc == 2


def test_triage_add_needs_a_balance_when_redtail_has_none(world: World) -> None:
    before = snapshot(world.ws)
    r = world.cli("triage", "1", "add", str(world.no_balance))
    assert r.rc == 2 and "--balance" in r.err
    assert snapshot(world.ws) == before
    r = world.cli("triage", "1", "add", str(world.no_balance), "--balance", "77.7", "--json")
    assert r.rc == 0
    doc = r.json()
    assert (doc["description"], doc["investment_type"], doc["balance"], doc["owner"]) == \
        ("Roth IRA 77", "Roth IRA", "77.70", "Client")


def test_triage_add_defaults_and_overrides(world: World) -> None:
    r = world.cli("triage", "1", "add", str(world.pending), "--json")
    assert r.rc == 0
    doc = r.json()
    # listed under the client and the co-client: Joint
    assert (doc["description"], doc["investment_type"], doc["owner"], doc["balance"]) == \
        ("Fidelity 1234", "Traditional IRA", "Joint", "125000.00")
    assert doc in world.cli("plan", "show", "1", "--json").json()["accounts"]
    ignored = world.cli("triage", "1", "add", str(world.ignored))
    assert ignored.rc == 2


@pytest.mark.parametrize(("flag", "value", "valid"), [
    ("--type", "Stocks", ["Taxable Brokerage", "Traditional IRA", "Custodial (UTMA/UGMA)"]),
    ("--owner", "both", ["Client", "Co-client", "Joint"]),
])
def test_triage_add_validation_lists_valid_values(world: World, flag: str, value: str,
                                                  valid: list[str]) -> None:
    before = snapshot(world.ws)
    r = world.cli("triage", "1", "add", str(world.pending), flag, value)
    assert r.rc == 2
    assert all(name in r.err for name in valid)
    assert snapshot(world.ws) == before
    good = {"--type": " roth  ira ", "--owner": "  JOINT "}[flag]
    r = world.cli("triage", "1", "add", str(world.pending), flag, good, "--json")
    assert r.rc == 0
    key = {"--type": "investment_type", "--owner": "owner"}[flag]
    assert r.json()[key] == {"--type": "Roth IRA", "--owner": "Joint"}[flag]


# ------------------------------------------------------------------ export


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_export_csv_to_stdout(world: World) -> None:
    world.ws.add_account(1, {"description": "Margin loan", "investment_type": "Cash",
                             "balance": "-1500.5"})
    r = world.cli("export", "1", "--csv")
    assert r.rc == 0
    rows = _csv(r.out)
    assert [(row["state"], row["id"]) for row in rows] == [
        ("account", str(world.manual)), ("account", str(world.linked)), ("account", "3"),
        ("pending", str(world.pending)), ("pending", str(world.no_balance)),
        ("ignored", str(world.ignored))]
    by_id = {(row["state"], row["id"]): row for row in rows}
    assert by_id[("account", str(world.manual))]["balance"] == "250000.00"
    assert by_id[("account", "3")]["balance"] == "-1500.50"  # a number, not prefixed
    assert by_id[("pending", str(world.no_balance))]["balance"] == ""
    assert by_id[("account", str(world.linked))]["redtail_account_id"] == "5004"


@pytest.mark.parametrize("description", ["=HYPERLINK(\"x\")", "+1+1", "-2", "@SUM(A1)"])
def test_export_prefixes_formula_cells(world: World, description: str) -> None:
    world.ws.add_account(1, {"description": description, "investment_type": "Cash",
                             "balance": "1"})
    sid = stage(world.ws, 1, world.integ, 6000)
    world.ws.edit_staged_description(1, sid, description)
    rows = _csv(world.cli("export", "1", "--csv").out)
    cells = [row["description"] for row in rows if row["description"].lstrip("'") ==
             description]
    assert cells == ["'" + description] * 2


def test_export_unicode_to_a_file_needs_force_to_overwrite(world: World, tmp_path: Path) -> None:
    world.ws.add_account(1, {"description": "Pugsley’s piggy bank — ¥", "investment_type": "Cash",
                             "balance": "3"})
    target = tmp_path / "addams.csv"
    r = world.cli("export", "1", "--csv", str(target), "--json")
    assert r.rc == 0 and r.json()["rows"] == 6
    first = target.read_bytes()
    assert "Pugsley’s piggy bank — ¥".encode() in first
    world.cli("triage", "1", "ignore", str(world.pending))
    before = target.read_bytes()
    r = world.cli("export", "1", "--csv", str(target))
    assert r.rc == 2 and "--force" in r.err and str(target) in r.err
    assert target.read_bytes() == before
    assert world.cli("export", "1", "--csv", str(target), "--force").rc == 0
    assert target.read_bytes() != before


def test_export_for_a_client_has_only_accounts(world: World) -> None:
    world.cli("users", "add", "carl", "--role", "client", "--plan", "1")
    rows = _csv(world.cli("export", "1", "--csv", user="carl").out)
    assert {row["state"] for row in rows} == {"account"} and len(rows) == 2


def test_export_json_is_one_document(world: World) -> None:
    r = world.cli("export", "1", "--csv", "--json")
    assert r.rc == 0
    doc = r.json()
    assert doc["rows"] == 5 and _csv(doc["csv"])[0]["state"] == "account"


# ------------------------------------------------------------------ users


def test_users_add(world: World) -> None:
    r = world.cli("users", "add", "Morticia", "--role", "client", "--can-edit", "--plan", "1",
                  "--json")
    assert r.rc == 0
    assert r.json() == {"id": 2, "name": "Morticia", "role": "client", "can_edit": True,
                        "plans": [1]}
    assert world.cli("plan", "list", user="morticia").rc == 0
    assert world.cli("users", "add", "x", "--role", "client", "--plan", "42").rc == 2


# ------------------------------------------------------------------ the installed command


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PLANTECH), *args], capture_output=True, text=True, timeout=60,
                          input=stdin, env=dict(os.environ))


def test_installed_command_json_and_errors(db_path: Path) -> None:
    done = _run("--db", str(db_path), "--user", "alice", "plan", "create", "Addams", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["name"] == "Addams"
    assert done.stderr == ""
    done = _run("plan", "show", "1", "--json", "--db", str(db_path), "--user", "alice")
    assert done.returncode == 0 and set(json.loads(done.stdout)) == PLAN_KEYS
    done = _run("--db", str(db_path), "--user", "bob", "plan", "list", "--json")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("plantech: error: ")
    done = _run("--db", str(db_path), "--user", "alice", "account", "stop", "1", "1")
    assert done.returncode == 2 and done.stderr.startswith("plantech: error: ")
    assert "Traceback" not in done.stderr


def test_installed_command_refuses_the_tui_without_a_terminal(db_path: Path) -> None:
    done = _run("--db", str(db_path), stdin="")
    assert done.returncode == 2
    assert done.stderr.startswith("plantech: error: ") and "not a terminal" in done.stderr
    assert done.stderr.count("\n") == 1
    assert not db_path.exists()


# ------------------------------------------------------------------ destructive commands ask


@pytest.mark.parametrize(("args", "verb"), [
    (["account", "delete", "1", "MANUAL"], "delete"),
    (["users", "remove", "pat"], "remove"),
])
def test_destructive_commands_refuse_off_a_terminal_without_yes(
        world: World, monkeypatch: pytest.MonkeyPatch, args: list[str], verb: str) -> None:
    """A script pipes `yes` into `plantech account delete` (or `users remove`): off a terminal
    nothing is asked and nothing is deleted without --yes (exit 2, one line); with --yes the
    same command does it."""
    world.cli("users", "add", "pat", "--role", "professional", "--plan", "1")
    args = [str(world.manual) if a == "MANUAL" else a for a in args]
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\ny\n"))
    before = snapshot(world.ws)
    for extra in ([], ["--json"]):
        r = world.cli(*args, *extra)
        assert r.rc == 2 and r.out == ""
        assert r.err == f"plantech: error: refusing to {verb} without --yes (stdin is not a " \
                        "terminal)\n"
        assert snapshot(world.ws) == before
    r = world.cli(*args, "--yes", "--json")
    assert r.rc == 0, r.err
    assert r.json().get("deleted" if verb == "delete" else "removed") is True
    assert snapshot(world.ws) != before
    if verb == "delete":
        ids = [a["id"] for a in world.cli("plan", "show", "1", "--json").json()["accounts"]]
        assert world.manual not in ids
    else:
        names = [u["name"] for u in world.cli("users", "list", "--json").json()["users"]]
        assert "pat" not in names


def test_a_missing_or_forbidden_target_is_its_own_error_not_a_question(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo'd account id or a user without the right gets the error that says so (exit 2
    "not found" / exit 1 refused by role), not a --yes demand for something it cannot do."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    r = world.cli("account", "delete", "1", "999")
    assert r.rc == 2 and "account 999" in r.err and "--yes" not in r.err
    r = world.cli("users", "remove", "nobody")
    assert r.rc == 2 and "nobody" in r.err and "--yes" not in r.err
    world.cli("users", "add", "carl", "--role", "client", "--plan", "1")
    r = world.cli("account", "delete", "1", str(world.manual), user="carl")
    assert r.rc == 1 and "carl" in r.err and "--yes" not in r.err


def _on_a_terminal(db: Path, answer: bytes, *args: str) -> tuple[int, str]:
    """Run the installed `plantech` with a pseudo-terminal for stdin/stdout/stderr; answer the
    question with `answer` once it is asked. (exit code, everything it wrote)."""
    import pty
    import select

    master, slave = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([str(PLANTECH), "--db", str(db), "--user", "alice", *args],
                            stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    seen = b""
    answered = False
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 120)
            assert ready, f"no output within 120 s: {seen!r}"
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            if not answered and b"[y/N] " in seen:
                os.write(master, answer)
                answered = True
    finally:
        os.close(master)
        rc = proc.wait(timeout=120)
    assert answered, seen
    return rc, seen.decode("utf-8", "replace").replace("\r\n", "\n")


@pytest.mark.skipif(not PLANTECH.exists(), reason="plantech is not installed in this venv")
def test_on_a_terminal_delete_asks_and_n_keeps_the_account(world: World) -> None:
    """An advisor types `plantech account delete 1 N` at the prompt: it asks "Delete account N
    'Gomez 401(k)'? [y/N]"; `n` keeps the account (exit 2, saying so); `y` deletes it."""
    before = snapshot(world.ws)
    rc, text = _on_a_terminal(world.cli.db, b"n\n", "account", "delete", "1", str(world.manual))
    assert f"Delete account {world.manual} 'Gomez 401(k)'? [y/N] " in text
    assert rc == 2
    assert f"plantech: error: not confirmed: account {world.manual} kept" in text
    assert snapshot(world.ws) == before
    # the linked one says where its Redtail account goes
    rc, text = _on_a_terminal(world.cli.db, b"\n", "account", "delete", "1", str(world.linked))
    assert "linked to Redtail account 5004, which goes back to Pending" in text and rc == 2
    assert snapshot(world.ws) == before
    rc, text = _on_a_terminal(world.cli.db, b"y\n", "account", "delete", "1", str(world.manual))
    assert rc == 0 and f"deleted account {world.manual}" in text
    ids = [a["id"] for a in world.cli("plan", "show", "1", "--json").json()["accounts"]]
    assert world.manual not in ids and world.linked in ids
