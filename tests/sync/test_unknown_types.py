"""Account types the mapping does not know are named, never dropped silently (issue 13 §3),
and Remove Integration through the CLI (which revokes where a partner can)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from plantech_tui.domain.report import RefreshReport
from plantech_tui.partners.redtail.fake import FakeRedtailServer
from plantech_tui.screens.refresh_report import report_lines
from plantech_tui.sync import credentials
from plantech_tui.widgets.icons import ASCII as ASCII_ICONS

from .conftest import Cli


def test_a_type_in_no_list_is_named_in_the_report_a_known_skipped_one_is_not(
        run: Cli, fake: FakeRedtailServer, addams: dict[str, int]) -> None:
    """Firm operations lead: Aoife's rental duplex is Redtail type "Real Estate", which the
    firm's mapping has never heard of. It is skipped by type like Gomez's Whole Life policy,
    but only "Real Estate" is named as a type to map: Whole Life is a known, deliberately
    skipped type (skipped_account_types). Without the listing the duplex would vanish from
    view with nothing saying the mapping lacks it."""
    plan, integration = addams["plan"], addams["integration"]
    run.ok("plan", "link-contact", str(plan), "--integration", str(integration),
           "--contact", "212")
    r = run("sync", "--plan", str(plan), "--json")
    assert r.rc == 0, r.err
    [report] = r.json["plans"]
    assert report["unknown_types"] == ["Real Estate (Redtail, 1 account)"]
    text = run("sync", "--plan", str(plan))
    assert "type not in the mapping: Real Estate (Redtail, 1 account)" in text.out
    assert any("Whole Life" in s for s in report["skipped"])  # skipped, counted…
    assert not any("Whole Life" in t for t in report["unknown_types"])  # …not "unknown"

    # the report screen says what to do about it
    lines = report_lines(RefreshReport(plan_id=plan, unknown_types=report["unknown_types"]),
                         ASCII_ICONS)
    at = lines.index(next(x for x in lines if x.startswith("Types the mapping does not know")))
    assert "Real Estate (Redtail, 1 account)" in lines[at + 1]


def test_a_report_with_every_type_known_has_no_unknown_types_key(
        run: Cli, fake: FakeRedtailServer, addams: dict[str, int]) -> None:
    """A script reading `sync --json` from before this change: the Addams' types are all
    known, so the document is what it always was (no new key appears)."""
    r = run("sync", "--plan", str(addams["plan"]), "--json")
    assert r.rc == 0, r.err
    [report] = r.json["plans"]
    assert "unknown_types" not in report


def test_integration_remove_asks_keeps_accounts_and_forgets_the_key(
        run: Cli, fake: FakeRedtailServer, addams: dict[str, int], db_path: Path) -> None:
    """Advisor leaving Redtail, from a script: `integration remove` refuses without --yes off a
    terminal (nothing removed), then removes it: the plan's linked accounts stay as manual
    ones, the integration is gone from `integration list`, and its stored key leaves the
    credential store (a second add gets a fresh one)."""
    integration = addams["integration"]
    with sqlite3.connect(db_path) as db:
        [(ref,)] = db.execute("SELECT secret_ref FROM integrations").fetchall()
    assert credentials.credential_store().get(ref) is not None
    refused = run("integration", "remove", str(integration))
    assert refused.rc == 2 and "without --yes" in refused.err
    assert [i["id"] for i in run.ok("integration", "list")["integrations"]] == [integration]

    done = run.ok("integration", "remove", str(integration), "--yes")
    assert done["removed"] is True and done["warning"] is None
    assert run.ok("integration", "list")["integrations"] == []
    again = run("integration", "remove", str(integration), "--yes")
    assert again.rc == 2 and f"integration {integration} not found" in again.err

    assert credentials.credential_store().get(ref) is None  # the key left the store


def test_a_client_cannot_remove_an_integration(
        run: Cli, fake: FakeRedtailServer, addams: dict[str, int]) -> None:
    """Adversary: a client with a login on the firm's server tries `integration remove`: the
    core refuses (exit 1, one line) and the integration stays."""
    run.ok("users", "add", "morticia", "--role", "client", "--plan", str(addams["plan"]))
    r = run("integration", "remove", str(addams["integration"]), "--yes", user="morticia")
    assert r.rc == 1 and r.err.startswith("plantech: error:") and "Traceback" not in r.err
    assert len(run.ok("integration", "list")["integrations"]) == 1


def test_another_advisor_cannot_remove_or_see_my_integration(
        run: Cli, fake: FakeRedtailServer, addams: dict[str, int]) -> None:
    """Adversary: a second advisor on the firm's server runs `integration remove` with my
    integration's id: it is not theirs, so it does not exist for them (exit 2, one line), and
    mine stays, with its key."""
    run.ok("users", "add", "bob", "--role", "advisor")
    r = run("integration", "remove", str(addams["integration"]), "--yes", user="bob")
    assert r.rc == 2 and f"integration {addams['integration']} not found" in r.err
    assert len(run.ok("integration", "list")["integrations"]) == 1
    assert run.ok("integration", "list", user="bob")["integrations"] == []
