"""The hostile-input and crash tests, once, for every partner (issue 13): each test runs
against the fake Redtail AND the fake Salesforce, over real loopback HTTP, through the real
CLI. A `Rig` hides only what differs: how to connect, the two clients of the plan, how to
make one of them hostile. The partner-specific suites (test_hostile_responses.py,
test_hostile_text.py, test_crash.py) go deeper into Redtail's own quirks.

Adversaries: a CRM (or a proxy in front of it) that sends an answer over the size cap, an
answer that is not JSON, an error message full of markup and terminal escapes, names and
companies that try to command the terminal; and a machine that dies mid-pull.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from plantech_tui.domain.text import TEXT_CAP
from plantech_tui.partners.redtail.fake import FakeRedtailServer, load_demo_data
from plantech_tui.partners.salesforce import fake as sf_fake
from plantech_tui.sync import credentials
from tests.unit.test_crash import check_invariants, copy_db, plan_state, run_and_kill

from .conftest import Cli, connect, staged_map
from .test_hostile_text import bad_chars, db_text

ESCAPES = "\x1b]52;c;cHduZWQ=\x07\x1b[2J\x9b31m\u202e"
MARKUP = "[bold red]x[/] [@click=app.quit]quit[/]"


@dataclass
class Rig:
    """One partner's fake, connected, and a plan linking a good and a bad client."""

    name: str
    run: Cli
    plan: str
    good: str  # the client whose accounts stay fine
    bad: str  # the client a fault targets
    set_faults: Callable[[str], None]
    faults: dict[str, str]  # what → the fake's spec, aimed at `bad`
    move_good_balance: Callable[[], None]  # the good client's first account moves at the CRM
    make_hostile: Callable[[], None]  # the good client's names become hostile at the CRM
    moved: str  # the new balance after move_good_balance


def _redtail(run: Cli) -> Iterator[Rig]:
    with FakeRedtailServer(load_demo_data()) as server:
        integration = connect(run, server)
        plan = run.ok("plan", "create", "Addams Family", "--clients",
                      "Gomez Addams;Morticia Addams")["id"]
        for contact in ("101", "102"):
            run.ok("plan", "link-contact", str(plan), "--integration", str(integration),
                   "--contact", contact)

        def move() -> None:
            server.data.accounts[5001].balance = "777.0"

        def hostile() -> None:
            server.data.contacts[101].first_name = f"Go{ESCAPES}mez"
            for account_id in (5001, 5002):
                server.data.update_account(account_id,
                                           company=f"Fid{ESCAPES}{MARKUP}" + "Z" * 100_000)

        yield Rig("redtail", run, str(plan), "101", "102", server.set_faults,
                  {"huge": "huge_page:102", "not_json": "malformed:102",
                   "bad_message": "hostile_message:102"}, move, hostile, "777.00")


def _salesforce(run: Cli) -> Iterator[Rig]:
    with sf_fake.FakeSalesforceServer(sf_fake.load_demo_data(), auto_approve=True,
                                      device_interval=0) as server:
        integration = run.ok("integration", "add", "--partner", "salesforce-fsc",
                             "--login-url", server.login_url, "--client-id",
                             server.client_id)["id"]
        plan = run.ok("plan", "create", "Munster Family", "--clients",
                      "Herman Munster;Lily Munster")["id"]
        people = {r["FirstName"]: r["Id"] for r in server.org.rows["Account"].values()
                  if r.get("IsPersonAccount")}
        for who in ("Herman", "Lily"):
            run.ok("plan", "link-contact", str(plan), "--integration", str(integration),
                   "--contact", people[who])
        herman = server.org.by_name("Herman Munster")
        schwab = next(a for a in server.org.accounts_of(herman)
                      if a["Name"] == "Schwab Brokerage")

        def move() -> None:
            schwab["FinServ__Balance__c"] = Decimal("777.00")

        def hostile() -> None:
            herman["FirstName"] = f"Her{ESCAPES}man"
            herman["Name"] = f"Her{ESCAPES}man Munster"
            for account in server.org.accounts_of(herman)[:2]:
                account["Name"] = f"Schwab{ESCAPES}{MARKUP}" + "Z" * 100_000

        lily = people["Lily"]
        yield Rig("salesforce", run, str(plan), people["Herman"], lily, server.set_faults,
                  {"huge": f"huge_page:{lily}", "not_json": f"malformed:{lily}",
                   "bad_message": f"hostile_message:{lily}"}, move, hostile, "777.00")


@pytest.fixture(params=["redtail", "salesforce"])
def rig(request: pytest.FixtureRequest, run: Cli, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[Rig]:
    # the crash test's `plantech sync` runs in a subprocess: the secret in the 0600 file and
    # the same user name, as cron's sync would have them
    monkeypatch.setenv("PLANTECH_CREDENTIALS", "file")
    monkeypatch.setenv("PLANTECH_USER", "advisor")
    credentials.reset_credential_store()
    yield from (_redtail if request.param == "redtail" else _salesforce)(run)


def _rows_by_contact(rig: Rig) -> dict[str, dict[str, Any]]:
    return {str(k): v for k, v in staged_map(rig.run.ok("plan", "show", rig.plan)).items()}


def _balances(rig: Rig) -> dict[str, str | None]:
    show = rig.run.ok("plan", "show", rig.plan)
    return {r["source_account_id"]: r["balance"] for r in show["pending"] + show["ignored"]}


def _one_client_fails(rig: Rig, fault: str) -> tuple[Any, str]:
    """A clean pull, the good client's balance moves, the fault hits the bad client, pull
    again: (the report, stderr)."""
    first = rig.run.ok("sync", "--plan", rig.plan)["plans"][0]
    assert first["status"] == "ok", first["errors"]
    before = _balances(rig)
    rig.move_good_balance()
    rig.set_faults(rig.faults[fault])
    r = rig.run("sync", "--plan", rig.plan, "--json")
    assert r.rc == 1 and "Traceback" not in r.err
    report = r.json["plans"][0]
    assert report["status"] == "partial"
    [error] = report["errors"]
    assert error["source_contact_id"] == rig.bad
    after = _balances(rig)
    assert set(after) == set(before)  # nothing removed, nothing flagged missing
    changed = {k for k in after if after[k] != before[k]}
    assert len(changed) == 1 and after[changed.pop()] == rig.moved  # the good client applied
    assert not any(bad_chars(line) for line in r.err.splitlines())
    return error, r.err


def test_an_answer_over_the_size_cap_fails_that_client_alone(rig: Rig) -> None:
    """An 11 MB answer for one client's accounts: refused at the cap, that client fails
    with the reason, the other client's new balance still applies."""
    error, err = _one_client_fails(rig, "huge")
    assert error["kind"] == "bad_response" and "over 10 MB" in error["message"]
    assert "over 10 MB" in err


def test_an_answer_that_is_not_json_fails_that_client_alone(rig: Rig) -> None:
    """A maintenance page with a 200 status instead of JSON: that client fails saying
    "not JSON", nothing of it is stored, the other client applies."""
    error, _ = _one_client_fails(rig, "not_json")
    assert error["kind"] == "bad_response" and "not JSON" in error["message"]


def test_a_hostile_error_message_is_one_clean_capped_line(rig: Rig) -> None:
    """The CRM's error text carries markup, terminal escapes and 100 kB: the report and
    stderr carry one line of it, defused and capped at 500 characters."""
    error, err = _one_client_fails(rig, "bad_message")
    assert not bad_chars(error["message"]) and len(error["message"]) <= 500
    assert max(len(line) for line in err.splitlines()) < 700


def test_hostile_names_are_stored_clean_capped_and_reported(rig: Rig, db_path: Path) -> None:
    """Names and companies that try to command the terminal (OSC 52 clipboard, clear screen,
    8-bit CSI, bidi override) or the TUI (markup, a click action), and 100 kB companies:
    the pull succeeds, nothing stored holds a control character, descriptions keep the
    product's 200-character cap, the report lists what was cut, `plan show` prints none of
    it raw."""
    rig.make_hostile()
    r = rig.run("sync", "--plan", rig.plan, "--json")
    assert r.rc == 0, r.err
    report = r.json["plans"][0]
    assert report["truncated"], report
    for table, column, value in db_text(db_path):
        assert not bad_chars(value), (table, column, value[:80])
    shown = rig.run("plan", "show", rig.plan, "--json")
    assert not bad_chars(shown.out)
    for row in shown.json["pending"]:
        assert len(row["description"]) <= TEXT_CAP
    plain = rig.run("plan", "show", rig.plan)
    assert not bad_chars(plain.out)


def test_a_pull_killed_in_its_apply_leaves_before_or_after_and_a_rerun_converges(
        rig: Rig, db_path: Path, tmp_path: Path) -> None:
    """The machine dies while `plantech sync` writes (SIGKILL right after the apply's
    transaction began): the database is intact, the plan is exactly as before or exactly
    as an uninterrupted pull leaves it, and the next sync converges to that."""
    rig.run.ok("sync", "--plan", rig.plan)
    rig.move_good_balance()
    plan_id = int(rig.plan)
    before = plan_state(db_path)
    reference_db = tmp_path / "reference.db"
    copy_db(db_path, reference_db)
    kill = run_and_kill(db_path, plan_id, tmp_path / "phases", "apply-begin", 0.0)
    ref = run_and_kill(reference_db, plan_id, tmp_path / "phases-ref", None, None)
    assert not ref.killed and "committed" in ref.phases
    reference = plan_state(reference_db)
    assert reference != before  # the pull changes something: the kill can be told apart
    check_invariants(db_path, plan_id)
    after_kill = plan_state(db_path)
    assert after_kill in (before, reference), kill.phases
    rerun = rig.run("sync", "--plan", rig.plan, "--json")
    assert rerun.rc == 0, rerun.err
    assert plan_state(db_path) == reference
