"""Salesforce through the CLI, over real loopback HTTP against the fake: connect by device
code, search, link, pull, triage, a token that dies mid-pull, a limit error, doctor,
remove (revoke). Everything after staging is the same code path as Redtail's."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from plantech_tui.partners.salesforce import fake
from plantech_tui.sync import credentials
from tests.sync.conftest import Cli

from .conftest import ids

PARTNER = "Salesforce Financial Services Cloud"


def connect(run: Cli, server: Any) -> dict[str, Any]:
    r = run("integration", "add", "--partner", "salesforce-fsc", "--login-url",
            server.login_url, "--client-id", server.client_id, "--json")
    assert r.rc == 0, r.err
    return r.json  # type: ignore[no-any-return]


def munsters(run: Cli, server: Any) -> dict[str, Any]:
    """Connected; the Munster plan with Herman and Lily linked (ids as text)."""
    integration = connect(run, server)["id"]
    plan = run.ok("plan", "create", "Munster Family", "--clients",
                  "Herman Munster;Lily Munster")["id"]
    people = ids(server.org)
    for who in ("Herman", "Lily"):
        run.ok("plan", "link-contact", str(plan), "--integration", str(integration),
               "--contact", people[who])
    return {"plan": str(plan), "integration": integration, "people": people}


def test_integration_add_runs_the_device_flow_and_prints_one_document(
        run: Cli, server: Any) -> None:
    """Advisor over SSH: `integration add --partner salesforce-fsc` prints the URL and the
    code on stderr (the fake approves it at once here) and, with --json, one document:
    id, partner, username, instance_url. `integration list` names the partner."""
    r = run("integration", "add", "--partner", "salesforce-fsc", "--login-url",
            server.login_url, "--client-id", server.client_id, "--json")
    assert r.rc == 0, r.err
    assert f"open {server.login_url}/setup/connect and enter the code" in r.err
    # the org's own type values, read at connect time: what the mapping lacks is said at once
    assert "account types the mapping does not know: Family Office Sweep" in r.err
    doc = r.json
    assert doc["partner"] == PARTNER and doc["username"] == fake.DEMO_USERNAME
    assert doc["instance_url"] == server.instance_url
    listed = run("integration", "list")
    assert PARTNER in listed.out and fake.DEMO_USERNAME in listed.out


def test_integration_add_asks_for_the_partner_s_own_flags(run: Cli, server: Any) -> None:
    """A script written for Redtail, pointed at Salesforce: --password-stdin is refused (no
    password exists), a missing --client-id is named; both exit 2 with one line."""
    no_password = run("integration", "add", "--partner", "salesforce-fsc", "--login-url",
                      server.login_url, "--client-id", server.client_id, "--password-stdin",
                      stdin="secret\n")
    assert no_password.rc == 2 and "takes no password" in no_password.err
    missing = run("integration", "add", "--partner", "salesforce-fsc", "--login-url",
                  server.login_url)
    assert missing.rc == 2 and "--client-id" in missing.err
    assert len(missing.err.strip().splitlines()) == 1
    redtail = run("integration", "add", "--base-url", "http://127.0.0.1:1/api", "--username",
                  "u")
    assert redtail.rc == 2 and "--password-stdin" in redtail.err  # Redtail's contract holds


def test_search_link_pull_and_triage_like_redtail(run: Cli, server: Any) -> None:
    """The whole web flow on Salesforce: search by name, link Herman and Lily by their text
    ids, pull. The joint brokerage is ONE pending row and Add to Plan makes it Joint; the
    held-away 401(k) is pending with its note; closed savings never appear; the credit card
    is skipped by type; the unlabelled holding is named as a type to map. Rows carry
    partner and source ids."""
    m = munsters(run, server)
    search = run.ok("plan", "search-contacts", m["plan"], "--integration",
                    str(m["integration"]), "--name", "munster")
    names = {c["name"] for c in search["contacts"]}
    assert names == {"Herman Munster", "Lily Munster"}

    report = run.ok("sync", "--plan", m["plan"])["plans"][0]
    assert report["status"] == "ok", report["errors"]
    assert report["unknown_types"] == ["(no type) (Salesforce, 1 account)"]
    show = run.ok("plan", "show", m["plan"])
    pending = {row["description"]: row for row in show["pending"]}
    joint = [d for d in pending if d.startswith("Schwab Joint Brokerage")]
    assert len(joint) == 1
    assert not any(d.startswith("Mockingbird Savings") for d in pending)  # closed
    assert not any(d.startswith("Transylvania Visa") for d in pending)  # skipped by type
    held = next(r for d, r in pending.items() if d.startswith("Acme Corp 401(k)"))
    assert held["type_note"].startswith("Held away")
    row = pending[joint[0]]
    assert row["partner"] == "salesforce-fsc" and row["source_account_id"].startswith("a0F")
    assert "redtail_account_id" not in row

    added = run.ok("triage", m["plan"], "add", str(row["id"]))
    assert added["owner"] == "Joint" and added["investment_type"] == "Taxable Brokerage"
    assert added["balance"] == "310500.00"

    # Salesforce moves the balance; the next pull updates the linked account only
    account = next(a for a in server.org.accounts_of(server.org.by_name("Herman Munster"))
                   if a["Name"] == "Schwab Joint Brokerage")
    from decimal import Decimal

    account["FinServ__Balance__c"] = Decimal("320000.10")
    again = run.ok("sync", "--plan", m["plan"])["plans"][0]
    assert again["changed"] == 1 and again["new"] == 0
    plan = run.ok("plan", "show", m["plan"])
    assert {a["description"]: a["balance"] for a in plan["accounts"]}[added["description"]] \
        == "320000.10"


def test_a_token_that_expires_mid_pull_is_refreshed_and_the_pull_completes(
        run: Cli, server: Any, db_path: Path) -> None:
    """The org's session ends while cron pulls: the third data request answers 401, the
    client refreshes once, the pull is ok, and the new access token is what the credential
    store now holds."""
    m = munsters(run, server)
    with sqlite3.connect(db_path) as db:
        [(ref,)] = db.execute("SELECT secret_ref FROM integrations").fetchall()
    before = credentials.credential_store().get(ref)
    server.set_faults("expire_token:3")
    report = run.ok("sync", "--plan", m["plan"])["plans"][0]
    assert report["status"] == "ok" and report["new"] > 5
    assert server.state.refresh_count == 1
    after = credentials.credential_store().get(ref)
    assert after != before and after is not None


def test_a_limit_error_fails_that_client_alone_and_the_report_says_why(
        run: Cli, server: Any) -> None:
    """REQUEST_LIMIT_EXCEEDED while listing Lily: Herman's accounts are staged, the report
    is partial and says the org's API limit stopped Lily; exit 1 for cron."""
    m = munsters(run, server)
    server.set_faults(f"request_limit_owner:{m['people']['Lily']}")
    r = run("sync", "--plan", m["plan"], "--json")
    assert r.rc == 1
    report = r.json["plans"][0]
    assert report["status"] == "partial" and report["new"] > 0
    [error] = report["errors"]
    assert error["kind"] == "rate_limited" and "request limit" in error["message"]
    assert error["source_contact_id"] == m["people"]["Lily"]


def test_a_dead_login_is_reconnect_needed_for_cron(run: Cli, server: Any) -> None:
    """The grant was revoked in Salesforce: cron's sync fails with "reconnect needed" (exit
    1), the integration is marked, and nothing is retried in a loop."""
    m = munsters(run, server)
    server.state.expire_access_tokens()
    server.set_faults("dead_refresh")
    r = run("sync", "--plan", m["plan"], "--json")
    assert r.rc == 1 and "reconnect needed" in r.err
    assert server.state.refresh_count <= 2  # once per contact at most, never a loop
    [integration] = run.ok("integration", "list")["integrations"]
    assert integration["status"] != "connected"


def test_doctor_names_the_org_types_the_mapping_does_not_know(run: Cli, server: Any) -> None:
    """Firm operations: doctor probes the Salesforce integration with its stored token and
    lists the org's own account types the mapping lacks, with where to map them."""
    connect(run, server)
    checks = {c["name"]: c for c in run.ok("doctor")["checks"]}
    probe = checks["salesforce-fsc #1"]
    assert probe["status"] == "warn" and "Family Office Sweep" in probe["detail"]
    assert "salesforce_mapping.toml" in probe["fix"]
    assert checks["mapping salesforce-fsc"]["status"] == "ok"


def test_remove_revokes_the_login_at_salesforce(run: Cli, server: Any) -> None:
    """Advisor removing the integration: Salesforce is told (the refresh token dies there),
    and the secret leaves the credential store."""
    connect(run, server)
    [refresh] = list(server.state.refresh)
    done = run.ok("integration", "remove", "1", "--yes")
    assert done["warning"] is None and done["partner"] == PARTNER
    assert refresh not in server.state.refresh and server.state.revoked == 1


def test_link_a_whole_household_from_salesforce(run: Cli, server: Any, db_path: Path) -> None:
    """Advisor linking the Munsters in one step (Link household): Herman, Lily and Grandpa
    (a member of the Munster household, though his primary household is another) are linked
    with their Salesforce ids; in the plan Herman is the client, Lily the co-client, Grandpa
    "other"."""
    import asyncio

    from plantech_tui.service.connections import link_household_async
    from plantech_tui.service.workspace import Workspace

    connect(run, server)
    plan = run.ok("plan", "create", "Munster Family", "--clients",
                  "Herman Munster;Lily Munster")["id"]
    people = ids(server.org)
    ws = Workspace.open(db_path)  # the CLI's user: the login name
    try:
        linked = asyncio.run(link_household_async(ws, plan, 1, people["Herman"]))
    finally:
        ws.close()
    assert {c.source_contact_id: c.party for c in linked} == {
        people["Herman"]: "client", people["Lily"]: "co_client", people["Sam"]: "other"}
    show = run.ok("plan", "show", str(plan))
    assert {c["source_contact_id"] for c in show["contacts"]} == {
        people["Herman"], people["Lily"], people["Sam"]}
    assert all(c["partner"] == "salesforce-fsc" for c in show["contacts"])


def test_the_fake_salesforce_command(tmp_path: Path) -> None:
    """A developer runs `plantech fake-salesforce`: the first line is the login URL, the
    second the client id; the versions list answers on the instance host; Enter on stdin
    approves a waiting device code; SIGTERM ends it with exit 0. A bad option is one line,
    exit 2."""
    import json as _json
    import signal
    import subprocess
    import sys

    import httpx

    bad = subprocess.run([sys.executable, "-m", "plantech_tui", "fake-salesforce",
                          "--faults", "nonsense"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "unknown fault" in bad.stderr
    proc = subprocess.Popen([sys.executable, "-m", "plantech_tui", "fake-salesforce"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        login_url = proc.stdout.readline().strip()
        client_id = proc.stdout.readline().strip()
        instance = proc.stdout.readline().strip().removeprefix("instance: ")
        assert login_url.startswith("http://127.0.0.1:") and client_id == fake.DEMO_CLIENT_ID
        versions = httpx.get(f"{instance}/services/data/", timeout=10).json()
        assert "61.0" in {v["version"] for v in versions}
        code = httpx.post(f"{login_url}/services/oauth2/token", timeout=10, data={
            "response_type": "device_code", "client_id": client_id,
            "scope": "api refresh_token"}).json()
        poll = {"grant_type": "device", "client_id": client_id, "code": code["device_code"]}
        assert httpx.post(f"{login_url}/services/oauth2/token", data=poll,
                          timeout=10).json()["error"] == "authorization_pending"
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stderr is not None
        while "approved" not in (line := proc.stderr.readline()):
            assert line, "the fake ended"
        assert code["user_code"] in line
        tokens = httpx.post(f"{login_url}/services/oauth2/token", data=poll, timeout=10)
        assert "refresh_token" in _json.loads(tokens.text)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
