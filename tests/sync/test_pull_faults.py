"""Faults reach the engine as real HTTP responses from the fake (SPEC §3, §10)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from plantech_tui.domain.errors import AlreadyRunning
from plantech_tui.partners.http import RetryPolicy
from plantech_tui.partners.redtail.partner import RedtailPartner, connections
from plantech_tui.service import pulls
from plantech_tui.service.workspace import Workspace
from plantech_tui.sync import credentials
from plantech_tui.sync.engine import claim_run

from .conftest import Cli, staged_map


def fast_client_for(waits: list[float], timeout: float = 15.0):
    async def record(seconds: float) -> None:
        waits.append(seconds)

    def client_for(integration):
        secret = credentials.credential_store().get(integration.secret_ref)
        assert secret is not None
        return RedtailPartner().client(integration, secret, timeout=timeout,
                                       retry=RetryPolicy(attempts=3, sleep=record))

    return connections(client_for)


def pull(db_path: Path, plan_id: int, client_for, dry_run: bool = False):
    ws = Workspace.open(db_path)
    return asyncio.run(pulls.sync_async(ws, [plan_id], dry_run=dry_run,
                                          connection_for=client_for))[0]


CONTACT_FAULTS = [
    ("forbidden:102", "forbidden", "User Forbidden"),
    ("not_found:102", "not_found", "Contact not found"),
    ("server_error_contact:102", "server_error", "Internal Server Error"),
    ("malformed:102", "bad_response", ""),
]


@pytest.mark.parametrize(("spec", "kind", "text"), CONTACT_FAULTS)
def test_a_failing_contact_changes_nothing_of_its_own(run: Cli, fake, addams, db_path,
                                                       spec, kind, text) -> None:
    pid = addams["plan"]
    run.ok("sync", "--plan", str(pid))
    before = staged_map(run.ok("plan", "show", str(pid)))
    # Gomez's and Morticia's accounts move at Redtail; Morticia's fetch will fail
    for account_id in (5001, 5011):
        fake.data.accounts[account_id].balance = "777.0"
    fake.set_faults(spec)
    waits: list[float] = []
    report = pull(db_path, pid, fast_client_for(waits))
    assert report.status == "partial"
    assert [(e.redtail_contact_id, e.kind) for e in report.errors] == [(102, kind)]
    assert text in report.errors[0].message
    after = staged_map(run.ok("plan", "show", str(pid)))
    assert after[5001]["balance"] == "777.00"  # Gomez applied
    assert after[5011] == before[5011]  # Morticia's rows untouched
    assert set(after) == set(before)  # nothing removed, nothing flagged
    # the CLI reports it and exits 1, with the server's text on stderr
    fake.set_faults(spec)
    r = run("sync", "--plan", str(pid), "--json")
    assert r.rc == 1
    assert r.json["plans"][0]["errors"][0]["redtail_contact_id"] == 102
    assert "contact 102" in r.err and "Traceback" not in r.err


def test_timeout_is_a_typed_error_and_the_other_contact_applies(run: Cli, fake, addams,
                                                                db_path) -> None:
    pid = addams["plan"]
    fake.set_faults("timeout:101")
    report = pull(db_path, pid, fast_client_for([], timeout=0.5))
    assert [(e.redtail_contact_id, e.kind) for e in report.errors] == [(101, "timeout")]
    shown = staged_map(run.ok("plan", "show", str(pid)))
    assert 5011 in shown and 5001 not in shown


def test_rate_limit_waits_for_retry_after_then_succeeds(run: Cli, fake, addams, db_path) -> None:
    fake.set_faults("rate_limit:2")
    waits: list[float] = []
    report = pull(db_path, addams["plan"], fast_client_for(waits))
    assert report.status == "ok" and not report.errors
    assert len(waits) >= 1 and min(waits) >= 1.0  # Retry-After: 1 honoured
    assert len(report.new) == 11


def test_gateway_timeout_401_and_5xx_are_retried(run: Cli, fake, addams, db_path) -> None:
    fake.set_faults("gateway_timeout:1,server_error:1")
    waits: list[float] = []
    report = pull(db_path, addams["plan"], fast_client_for(waits))
    assert report.status == "ok" and len(waits) == 2


def test_lying_total_pages_terminates_with_bounded_requests(run: Cli, fake, addams,
                                                            db_path) -> None:
    integration = addams["integration"]
    run.ok("plan", "link-contact", str(addams["plan"]), "--integration", str(integration),
           "--contact", "104")  # Pugsley: more than 50 accounts, two pages
    fake.set_faults("lying_pages")
    fake.request_log.clear()
    report = pull(db_path, addams["plan"], fast_client_for([]))
    assert report.status == "ok"
    requests = len(fake.request_log)
    # 2 lookups + Gomez 1-2 pages + Morticia 1-2 + Pugsley 2-3 (one repeat page each at most)
    assert requests <= 12, fake.request_log
    pugsley = [a for a in fake.data.accounts.values() if 104 in a.owners
               and not a.deleted and a.account_type not in ("Term Life", "Whole Life")]
    shown = staged_map(run.ok("plan", "show", str(addams["plan"])))
    assert {a.id for a in pugsley} <= set(shown)


def test_revoked_key_marks_the_integration(run: Cli, fake, addams, db_path) -> None:
    fake.set_faults("unauthorized")
    r = run("sync", "--plan", str(addams["plan"]), "--json")
    assert r.rc == 1 and r.json["plans"][0]["status"] == "failed"
    integ = run.ok("integration", "list")["integrations"][0]
    assert integ["status"] == "needs re-authentication"


def test_one_pull_per_plan_at_a_time(run: Cli, fake, addams, db_path) -> None:
    ws = Workspace.open(db_path)
    held = claim_run(ws.store, addams["plan"], trigger="cli", user_name=ws.user.name)
    assert held
    r = run("sync", "--plan", str(addams["plan"]))
    assert r.rc == 1 and "already running" in r.err
    other = run.ok("plan", "create", "Second plan")
    r = run("sync", "--all", "--json")  # the busy plan is reported under its own id
    assert r.rc == 1
    by_id = {p["plan_id"]: p for p in r.json["plans"]}
    assert by_id[addams["plan"]]["status"] == "failed"
    assert "already running" in by_id[addams["plan"]]["errors"][0]["message"]
    assert by_id[other["id"]]["status"] == "ok"
    with pytest.raises(AlreadyRunning):
        claim_run(ws.store, addams["plan"], trigger="manual", user_name=ws.user.name)
    # an automatic pull just stays quiet while another runs
    assert claim_run(ws.store, addams["plan"], trigger="auto", user_name=ws.user.name,
                     auto=True) is None


def test_automatic_pull_once_per_day_and_failures_do_not_use_it(run: Cli, fake, addams,
                                                                 db_path) -> None:
    ws = Workspace.open(db_path)
    client_for = fast_client_for([])
    fake.set_faults("server_error_contact:101")
    first = asyncio.run(pulls.auto_pull_async(ws, addams["plan"], connection_for=client_for))
    assert first is not None and first.status == "partial"
    fake.set_faults(None)
    second = asyncio.run(pulls.auto_pull_async(ws, addams["plan"], connection_for=client_for))
    assert second is not None and second.status == "ok"  # a partial pull did not use the day
    third = asyncio.run(pulls.auto_pull_async(ws, addams["plan"], connection_for=client_for))
    assert third is None  # already pulled successfully today
    # an explicit refresh is always allowed
    assert asyncio.run(pulls.refresh_async(ws, addams["plan"], connection_for=client_for))


def test_idempotent_plan_state(run: Cli, fake, addams) -> None:
    pid = str(addams["plan"])
    run.ok("sync", "--plan", pid)
    staged = staged_map(run.ok("plan", "show", pid))
    run.ok("triage", pid, "add", str(staged[5002]["id"]))
    run.ok("triage", pid, "ignore", str(staged[5013]["id"]))
    run.ok("triage", pid, "ignore", str(staged[5006]["id"]), "--reason", "held away")
    fake.data.accounts[5002].balance = "1.5"
    run.ok("sync", "--plan", pid)

    def state() -> dict:
        """Plan state without timestamps (SPEC §3's idempotence excludes them)."""
        show = run.ok("plan", "show", pid)
        for account in show["accounts"]:
            if account["link"]:
                account["link"].pop("last_updated")
        return show

    once = state()
    assert once["accounts"][0]["balance"] == "1.50"
    run.ok("sync", "--plan", pid)
    assert state() == once
