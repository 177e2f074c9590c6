"""Issue 10 items 9 and 10: the pull lease holds for the whole fetch, and a cut listing is
partial (SPEC §3, §5)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from plantech_tui.partners.redtail import client as redtail
from plantech_tui.partners.redtail.fake import FakeRedtailServer, generate_data
from plantech_tui.service import pulls
from plantech_tui.service.workspace import Workspace
from plantech_tui.sync import engine

from .conftest import Cli, connect


def wait_for(condition: Callable[[], Any], what: str, limit: float = 30.0) -> Any:
    """Wait on a condition (bounded, so a broken build fails instead of hanging)."""
    deadline = time.monotonic() + limit
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def runs(db_path: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(db_path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM sync_runs ORDER BY id")]


def account_requests(fake: FakeRedtailServer) -> int:
    return sum(1 for _, path in list(fake.request_log) if path.endswith("/accounts"))


class PullThread(threading.Thread):
    """One `Refresh Integrations` of a plan, in its own thread with its own connection."""

    def __init__(self, db_path: Path, plan_id: int) -> None:
        super().__init__(daemon=True)
        self.db_path, self.plan_id = db_path, plan_id
        self.result: Any = None

    def run(self) -> None:
        try:
            ws = Workspace.open(self.db_path)
            self.result = asyncio.run(pulls.sync_async(ws, [self.plan_id]))[0]
        except BaseException as exc:  # noqa: BLE001 - the test asserts on it
            self.result = exc


def test_item9_a_run_whose_lease_lapsed_and_was_taken_over_applies_nothing(
        run: Cli, fake: FakeRedtailServer, addams: dict[str, int], db_path: Path) -> None:
    """Adversary: a Redtail slowed past the lease (600 s) while cron starts a second `sync`
    of the same plan: before, both runs applied the same pull twice."""
    pid = addams["plan"]
    with fake.holding_accounts():  # the first pull's fetch stays open
        first = PullThread(db_path, pid)
        first.start()
        wait_for(lambda: account_requests(fake) >= 1, "the first pull to be fetching")
        # the first run's lease lapses (as after 600 s of a slow fetch)
        with sqlite3.connect(db_path) as conn:
            conn.execute("UPDATE sync_runs SET lease_expires_at = 0 WHERE status = 'running'")
        second = PullThread(db_path, pid)
        second.start()
        wait_for(lambda: len(runs(db_path)) == 2, "the second pull to take the lease")
    first.join(60)
    second.join(60)
    assert not first.is_alive() and not second.is_alive()
    a, b = first.result, second.result
    assert b.status == "ok", b
    assert a.status == "failed", a
    assert [(e.kind, e.message) for e in a.errors] == [
        ("lost_lease", "lost the pull lease to another run")]
    # only one run applied: one pull audit row, one staged copy of each account
    rows = runs(db_path)
    assert [r["status"] for r in rows] == ["abandoned", "ok"]
    with sqlite3.connect(db_path) as conn:
        pulls = conn.execute("SELECT detail FROM audit_log WHERE action = 'pull'").fetchall()
        staged_events = conn.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'pull: staged'").fetchone()[0]
        staged = conn.execute("SELECT count(*) FROM staged_accounts").fetchone()[0]
    assert len(pulls) == 1 and pulls[0][0].startswith(f"run {rows[1]['id']}:")
    assert staged_events == staged


def test_item9_the_lease_is_renewed_while_fetching(
        run: Cli, fake: FakeRedtailServer, addams: dict[str, int], db_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Adversary: a fetch that lasts longer than the lease. The run renews its lease while it
    fetches, so nobody can take the plan over, and it still applies."""
    monkeypatch.setattr(engine, "LEASE_SECONDS", 3.0)  # renewed every second
    pid = addams["plan"]
    with fake.holding_accounts():
        first = PullThread(db_path, pid)
        first.start()
        wait_for(lambda: account_requests(fake) >= 1, "the pull to be fetching")
        initial = runs(db_path)[0]["lease_expires_at"]
        wait_for(lambda: runs(db_path)[0]["lease_expires_at"] > initial,
                 "the lease to be renewed")
        wait_for(lambda: runs(db_path)[0]["lease_expires_at"] > initial + 1.5,
                 "a second renewal, past the first lease's expiry")
        # a second pull now is refused: the lease is alive
        r = run("sync", "--plan", str(pid), "--json")
        assert r.rc == 1 and "already running" in r.err
    first.join(60)
    assert first.result.status == "ok", first.result
    assert [r["status"] for r in runs(db_path)] == ["ok"]


@pytest.fixture
def big_fake() -> Any:
    """One generated contact (1001) with a few hundred accounts: more than 3 pages of 50."""
    with FakeRedtailServer(generate_data(1, seed=4, accounts_per_contact=300)) as server:
        yield server


def test_item10_a_listing_cut_at_the_page_cap_is_partial_and_flags_nothing(
        run: Cli, big_fake: FakeRedtailServer, db_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Adversary: a Redtail whose listing runs past the page cap (1,000 pages of 50: 50,000 of
    100,000 accounts). Before, the pull said `ok`, exit 0, and the accounts past the cut would
    have been flagged missing at source two pulls later."""
    fake = big_fake
    integration = connect(run, fake)
    plan = run.ok("plan", "create", "Big", "--clients", "One")
    run.ok("plan", "link-contact", str(plan["id"]), "--integration", str(integration),
           "--contact", "1001")
    pid = str(plan["id"])
    full = run.ok("sync", "--plan", pid)["plans"][0]
    assert full["status"] == "ok"
    staged_full = len(run.ok("plan", "show", pid)["pending"])
    assert staged_full > 150, staged_full

    monkeypatch.setattr(redtail, "MAX_PAGES", 3)  # 3 pages of 50: the listing is cut
    for _ in range(3):  # three cut pulls: enough to flag anything twice over
        r = run("sync", "--plan", pid, "--json")
        assert r.rc == 1, r.err
        doc = r.json["plans"][0]
        assert doc["status"] == "partial"
        assert [(e["redtail_contact_id"], e["kind"]) for e in doc["errors"]] == [
            (1001, "truncated")]
        assert "stopped after 3 pages" in doc["errors"][0]["message"]
        assert doc["missing_at_source"] == 0 and doc["missing"] == []
        assert "contact 1001" in r.err
    show = run.ok("plan", "show", pid)
    assert len(show["pending"]) == staged_full
    assert not any(row.get("missing_at_source") for row in show["pending"])
    r = run("sync", "--plan", pid)  # the text report says it too
    assert r.rc == 1 and "partial" in r.out and "stopped after 3 pages" in r.out


def test_item10_a_first_pull_cut_stages_what_it_received(
        run: Cli, big_fake: FakeRedtailServer, db_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Adversary: the same cut on the very first pull: what arrived is staged (150 of the
    listing), and the run says partial, not ok."""
    integration = connect(run, big_fake)
    plan = run.ok("plan", "create", "Big", "--clients", "One")
    run.ok("plan", "link-contact", str(plan["id"]), "--integration", str(integration),
           "--contact", "1001")
    monkeypatch.setattr(redtail, "MAX_PAGES", 3)
    r = run("sync", "--plan", str(plan["id"]), "--json")
    assert r.rc == 1
    doc = r.json["plans"][0]
    assert doc["status"] == "partial"
    assert doc["new"] + doc["skipped_by_type"] == 150
