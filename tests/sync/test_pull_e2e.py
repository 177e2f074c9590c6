"""A whole pull over real loopback HTTP, driven through the CLI as a script would (SPEC §2.4, §3)."""

from __future__ import annotations

from decimal import Decimal

from plantech_tui.service.workspace import Workspace

from .conftest import Cli, admin, connect
from .conftest import staged_map as staged_by_redtail


def dump(db_path) -> str:
    """Every row of every table, audit log and sync runs included."""
    import sqlite3

    conn = sqlite3.connect(db_path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()




def test_search_link_sync_show(run: Cli, fake) -> None:
    integration = connect(run, fake)
    plan = run.ok("plan", "create", "Addams Family", "--clients", "Gomez Addams;Morticia Addams")
    pid = str(plan["id"])
    found = run.ok("plan", "search-contacts", pid, "--integration", str(integration),
                   "--name", "Addams")
    names = {c["name"] for c in found["contacts"]}
    assert {"Gomez Addams", "Morticia Addams"} <= names
    assert found["truncated"] is False
    # issue 11: every row also names its partner and its id as text
    assert all(set(c) == {"redtail_contact_id", "name", "first_name", "last_name", "linked",
                          "partner", "source_contact_id"}
               and c["partner"] == "Redtail CRM"
               and c["source_contact_id"] == str(c["redtail_contact_id"])
               and isinstance(c["redtail_contact_id"], int)
               for c in found["contacts"])
    for contact in ("101", "102"):
        run.ok("plan", "link-contact", pid, "--integration", str(integration), "--contact", contact)
    again = run.ok("plan", "link-contact", pid, "--integration", str(integration),
                   "--contact", "101")  # no-op when already linked
    assert again["redtail_contact_id"] == 101
    found = run.ok("plan", "search-contacts", pid, "--integration", str(integration),
                   "--last-name", "addams")
    linked = {c["redtail_contact_id"] for c in found["contacts"] if c["linked"]}
    assert linked == {101, 102}

    sync = run.ok("sync", "--plan", pid)
    report = sync["plans"][0]
    assert report["plan_id"] == plan["id"] and report["status"] == "ok"
    assert report["skipped_by_type"] == 1  # the Whole Life policy
    assert report["balance_unknown"] == 1  # Northern Trust has no balance
    show = run.ok("plan", "show", pid)
    staged = staged_by_redtail(show)
    assert report["new"] == len(staged) == 11
    # SPEC descriptions: company + last 4; short number whole; no number: company alone;
    # no company: the Redtail account type
    assert staged[5001]["description"] == "Fidelity 4401"
    assert staged[5006]["description"] == "Ally Bank 42"
    assert staged[5009]["description"] == "Chase"
    assert staged[5007]["description"] == "HSA 0977"
    assert staged[5001]["number_last4"] == "4401"
    # default types (Appendix B), incl. through the tax-qualified type
    assert staged[5001]["default_investment_type"] == "401(k)"
    assert staged[5002]["default_investment_type"] == "Taxable Brokerage"
    assert staged[5003]["default_investment_type"] == "Roth IRA"  # Indexed Annuity, tq Roth IRA
    assert staged[5014]["default_investment_type"] == "Annuity (Non-Qualified)"
    assert staged[5011]["default_investment_type"] == "Traditional IRA"  # Rollover IRA
    assert staged[5013]["default_investment_type"] == "Cash"
    assert staged[5005]["balance"] is None
    assert staged[5002]["balance"] == "1250000.00"
    assert 5004 not in staged  # life insurance skipped
    assert 5008 not in staged  # deleted at Redtail
    # the joint brokerage is one row, whoever lists it
    assert [r["redtail_account_id"] for r in show["pending"]].count(5002) == 1
    assert [r["id"] for r in show["pending"]] == sorted(r["id"] for r in show["pending"])

    # a second sync with the same data changes nothing
    second = run.ok("sync", "--plan", pid)["plans"][0]
    assert (second["new"], second["changed"], second["unchanged"]) == (0, 0, 11)
    assert run.ok("plan", "show", pid) == show


def test_balances_pause_play_stop_ignore_across_pulls(run: Cli, fake, addams, db_path) -> None:
    pid = str(addams["plan"])
    run.ok("sync", "--plan", pid)
    manual = run.ok("account", "add", pid, "--description", "Gomez 401(k)", "--type", "401(k)",
                    "--balance", "240000")
    show = run.ok("plan", "show", pid)
    staged = staged_by_redtail(show)
    # link 5001 to the manual account: its balance becomes the staged one at once
    linked = run.ok("triage", pid, "link", str(staged[5001]["id"]), str(manual["id"]))
    assert linked["balance"] == "250000.00"
    assert linked["link"]["state"] == "active" and linked["link"]["redtail_account_id"] == 5001
    # add the joint account to the plan
    added = run.ok("triage", pid, "add", str(staged[5002]["id"]))
    assert added["owner"] == "Joint" and added["investment_type"] == "Taxable Brokerage"
    # ignore the Chase CD
    run.ok("triage", pid, "ignore", str(staged[5009]["id"]), "--reason", "closed soon")

    # Redtail moves balances
    for account_id, balance in ((5001, "260000.5"), (5002, "1300000"), (5009, "1"),
                                (5013, "15000")):
        admin(fake, "POST", f"/accounts/{account_id}/balance", {"balance": balance})
    report = run.ok("sync", "--plan", pid)["plans"][0]
    moved = {c["redtail_account_id"]: (c["old"], c["new"]) for c in report["changes"]}
    assert moved[5001] == ("250000.00", "260000.50")
    assert moved[5002] == ("1250000.00", "1300000.00")
    assert moved[5013] == ("14872.66", "15000.00")  # a pending row refreshed
    assert 5009 not in moved  # ignored rows receive no updates
    show = run.ok("plan", "show", pid)
    accounts = {a["id"]: a for a in show["accounts"]}
    assert accounts[manual["id"]]["balance"] == "260000.50"
    assert accounts[manual["id"]]["description"] == "Gomez 401(k)"  # manual fields kept
    assert staged_by_redtail(show)[5009]["balance"] == "25000.00"
    ws = Workspace.open(db_path)
    history = ws.balance_history(addams["plan"], manual["id"])
    assert [(b, s) for _, b, s in history] == [
        (Decimal("240000.00"), "add"), (Decimal("250000.00"), "link"),
        (Decimal("260000.50"), "pull")]

    # paused: frozen across a pull; play resumes
    run.ok("account", "pause", pid, str(manual["id"]))
    assert run.ok("account", "pause", pid, str(manual["id"]))["link"]["state"] == "paused"
    admin(fake, "POST", "/accounts/5001/balance", {"balance": "270000"})
    report = run.ok("sync", "--plan", pid)["plans"][0]
    assert report["paused"] == 1
    assert {a["id"]: a for a in run.ok("plan", "show", pid)["accounts"]}[manual["id"]][
        "balance"] == "260000.50"
    run.ok("account", "play", pid, str(manual["id"]))
    run.ok("sync", "--plan", pid)
    assert {a["id"]: a for a in run.ok("plan", "show", pid)["accounts"]}[manual["id"]][
        "balance"] == "270000.00"

    # stop: the account stays (manual), the same staged row returns to Pending
    stopped = run.ok("account", "stop", pid, str(manual["id"]))
    assert stopped["link"] is None and stopped["balance"] == "270000.00"
    show = run.ok("plan", "show", pid)
    back = staged_by_redtail(show)[5001]
    assert back["id"] == staged[5001]["id"] and back in show["pending"]
    assert back["balance"] == "270000.00" and back["description"] == "Fidelity 4401"
    admin(fake, "POST", "/accounts/5001/balance", {"balance": "1"})
    run.ok("sync", "--plan", pid)
    assert {a["id"]: a for a in run.ok("plan", "show", pid)["accounts"]}[manual["id"]][
        "balance"] == "270000.00"  # no longer linked: no longer updated

    # delete a linked account: the link breaks and the row returns to Pending, same id
    run.ok("account", "delete", pid, str(added["id"]), "--yes")
    show = run.ok("plan", "show", pid)
    assert staged_by_redtail(show)[5002]["id"] == staged[5002]["id"]
    assert staged_by_redtail(show)[5002] in show["pending"]


def test_null_balance_never_overwrites_and_missing_at_source(run: Cli, fake, addams) -> None:
    pid = str(addams["plan"])
    run.ok("sync", "--plan", pid)
    admin(fake, "POST", "/accounts/5013/balance", {"balance": None})
    report = run.ok("sync", "--plan", pid)["plans"][0]
    assert report["balance_unknown"] == 2
    assert staged_by_redtail(run.ok("plan", "show", pid))[5013]["balance"] == "14872.66"

    admin(fake, "DELETE", "/accounts/5012")
    first = run.ok("sync", "--plan", pid)["plans"][0]
    assert first["missing_at_source"] == 0  # one pull is not enough
    assert staged_by_redtail(run.ok("plan", "show", pid))[5012]["missing_at_source"] is False
    second = run.ok("sync", "--plan", pid)["plans"][0]
    assert second["missing_at_source"] == 1
    row = staged_by_redtail(run.ok("plan", "show", pid))[5012]
    assert row["missing_at_source"] is True  # flagged, never removed
    # a dry run neither counts nor resets, and a failed fetch neither
    admin(fake, "POST", "/accounts", {"id": 5012, "contact_ids": [102], "number": "VG-88120046",
                                      "company": "Vanguard", "balance": "98020.0",
                                      "account_type": "Roth IRA"})
    run.ok("sync", "--plan", pid)
    assert staged_by_redtail(run.ok("plan", "show", pid))[5012]["missing_at_source"] is False


def test_dry_run_reports_the_same_and_changes_nothing(run: Cli, fake, addams, db_path) -> None:
    pid = str(addams["plan"])
    run.ok("sync", "--plan", pid)
    admin(fake, "POST", "/accounts/5011/balance", {"balance": "500000"})
    admin(fake, "POST", "/demo/add-account")
    before = dump(db_path)
    dry = run.ok("sync", "--plan", pid, "--dry-run")["plans"][0]
    assert dry["dry_run"] is True
    assert dump(db_path) == before  # the database is unchanged by the dry run
    real = run.ok("sync", "--plan", pid)["plans"][0]
    assert real["dry_run"] is False
    for key in ("status", "new", "changed", "unchanged", "skipped_by_type", "paused",
                "balance_unknown", "missing_at_source", "changes", "errors", "new_accounts"):
        assert dry[key] == real[key], key
    assert real["new"] == 1 and real["changed"] == 1


def test_unlink_contact_removes_its_rows_and_marks_links(run: Cli, fake, addams) -> None:
    pid = str(addams["plan"])
    integ = str(addams["integration"])
    run.ok("sync", "--plan", pid)
    staged = staged_by_redtail(run.ok("plan", "show", pid))
    acct = run.ok("triage", pid, "add", str(staged[5011]["id"]))  # Morticia's IRA
    run.ok("triage", pid, "ignore", str(staged[5013]["id"]))
    run.ok("plan", "unlink-contact", pid, "--integration", integ, "--contact", "102")
    show = run.ok("plan", "show", pid)
    left = staged_by_redtail(show)
    assert 5012 not in left and 5013 not in left  # only Morticia reached them
    assert 5002 in left  # the joint account: Gomez still reaches it
    linked = {a["id"]: a for a in show["accounts"]}[acct["id"]]
    assert linked["link"]["state"] == "source_unlinked"
    admin(fake, "POST", "/accounts/5011/balance", {"balance": "1"})
    run.ok("sync", "--plan", pid)
    assert {a["id"]: a for a in run.ok("plan", "show", pid)["accounts"]}[acct["id"]][
        "balance"] == "412337.19"  # kept, not updated
    run.ok("plan", "link-contact", pid, "--integration", integ, "--contact", "102")
    assert {a["id"]: a for a in run.ok("plan", "show", pid)["accounts"]}[acct["id"]][
        "link"]["state"] == "active"


def test_link_contact_404_and_usage_errors(run: Cli, fake, addams) -> None:
    pid = str(addams["plan"])
    r = run("plan", "link-contact", pid, "--integration", str(addams["integration"]),
            "--contact", "999999")
    assert r.rc == 1 and r.err.count("\n") == 1 and "999999" in r.err
    assert r.err.startswith("plantech: error: ")
    r = run("plan", "search-contacts", pid, "--integration", str(addams["integration"]))
    assert r.rc == 2 and "criterion" in r.err
    r = run("sync", "--plan", "99")
    assert r.rc == 2 and "plan 99 not found" in r.err


def test_a_text_contact_id_is_refused_by_redtail_in_one_line(run: Cli, fake, addams) -> None:
    """`link-contact --contact` takes a partner's text id (a Salesforce id is 18 characters),
    but an advisor pasting one at a Redtail integration is told Redtail's ids are numbers
    (exit 2), and nothing is asked of Redtail or linked."""
    pid = str(addams["plan"])
    before = len(fake.request_log)
    r = run("plan", "link-contact", pid, "--integration", str(addams["integration"]),
            "--contact", "003Gm00000AbCdEAAZ")
    assert r.rc == 2 and r.err.count("\n") == 1
    assert r.err == ("plantech: error: a Redtail contact id is a number "
                     "(got '003Gm00000AbCdEAAZ')\n")
    assert not [req for req in fake.request_log[before:] if "contacts/" in req[1]]
    r = run("plan", "link-contact", pid, "--integration", str(addams["integration"]),
            "--contact", "two words")
    assert r.rc == 2 and "not an id: 'two words'" in r.err
