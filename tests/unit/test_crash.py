"""Crash consistency (SPEC §3, §10): SIGKILL a real `plantech sync` at ≥ 50 points.

The fake Redtail runs in its own process with latency; the sync is the real CLI in a subprocess
with `PLANTECH_TEST_PHASES` set, so the phase file proves where each kill landed: at least 10
kills must land while the apply transaction is open (`apply-begin` written, `committed` not).

Every kill starts from the same base database: a plan with 36 contacts pulled and triaged
(ignored, linked, added, paused rows) plus 24 contacts linked but never pulled, so each pull
both inserts ~650 rows and updates ~1,000 known ones. Between blocks of kills the fake's data moves
(balances, a null balance, a new account), and an uninterrupted pull of a copy of the base
gives the reference state for that block. After each kill: the file passes integrity and
foreign-key checks, every §3 invariant holds, the plan is exactly before or exactly after
(never between), and a rerun reclaims the dead process's lease and converges to the reference.
"""

from __future__ import annotations

import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from plantech_tui.domain.report import PullError
from plantech_tui.partners.redtail.fake import (
    DEMO_API_KEY,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    generate_data,
)
from plantech_tui.service import connections, pulls
from plantech_tui.service.workspace import Workspace
from plantech_tui.sync import credentials

pytestmark = pytest.mark.slow

SEED = 4242
N_CONTACTS = 60
PULLED_FIRST = 36  # contacts 1001..1036 pulled and triaged in the base; the rest never pulled
KILLS = 50
IN_TXN_KILLS = 10
BLOCK = 5  # kills per version of the fake's data
MAX_RUNS = 90
USER = "advisor"
DEADLINE_S = 30.0

# plan state: every table but the audit log and sync runs, without timestamps (SPEC §3)
STATE_COLUMNS: dict[str, str] = {
    "users": "id, name, role, can_edit",
    "plans": "id, name, client, co_client, owner_user_id",
    "plan_grants": "user_id, plan_id",
    "integrations": "id, owner_user_id, partner, environment, base_url, username, secret_ref, "
                    "status, status_message",
    "plan_contacts": "id, plan_id, integration_id, source_contact_id, name, party",
    "plan_accounts": "id, plan_id, description, investment_type, owner, balance, equity_pct, "
                     "fixed_income_pct, cash_pct, annual_contribution, notes, number_last4, "
                     "version",
    "staged_accounts": "id, plan_id, integration_id, source_account_id, state, ignore_reason, "
                       "linked_account_id, link_state, prior_link_state, description, "
                       "description_edited, company, number_last4, account_type, taxqualified, "
                       "taxqualified_type_name, default_investment_type, review_type, type_note, "
                       "type_included, balance, source_updated_at, missing_at_source, "
                       "missing_streak, version",
    "staged_account_contacts": "staged_id, source_contact_id",
    "balance_history": "id, plan_account_id, balance, source",
}

State = dict[str, list[tuple[Any, ...]]]


def plan_state(path: Path) -> State:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT {cols} FROM {t} ORDER BY 1, 2").fetchall()  # noqa: S608
                for t, cols in STATE_COLUMNS.items()}
    finally:
        conn.close()


def state_diff(a: State, b: State) -> str:
    """A short description of how two states differ (for assertion messages)."""
    out = []
    for table in STATE_COLUMNS:
        only_a = set(a[table]) - set(b[table])
        only_b = set(b[table]) - set(a[table])
        if only_a or only_b:
            out.append(f"{table}: {len(only_a)} rows only left, {len(only_b)} only right, e.g. "
                       f"{sorted(only_a)[:1]} / {sorted(only_b)[:1]}")
    return "; ".join(out) or "equal"


def copy_db(src: Path, dst: Path) -> None:
    """A consistent copy through SQLite's backup API (WAL content included)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    source = sqlite3.connect(src)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def check_invariants(path: Path, plan_id: int) -> list[dict[str, Any]]:
    """SPEC §3 on the raw file; returns the sync_runs rows still 'running'."""
    conn = sqlite3.connect(path)  # as the next process would: it recovers a crashed WAL
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        conn.row_factory = sqlite3.Row

        def rows(sql: str) -> list[sqlite3.Row]:
            return conn.execute(sql).fetchall()

        # each Redtail account in exactly one state per plan
        assert rows("SELECT plan_id, integration_id, source_account_id FROM staged_accounts "
                    "GROUP BY 1, 2, 3 HAVING count(*) > 1") == []
        assert rows("SELECT id FROM staged_accounts WHERE state NOT IN "
                    "('pending', 'ignored', 'linked') OR (state = 'linked') != "
                    "(linked_account_id IS NOT NULL) OR (state = 'linked') != "
                    "(link_state IS NOT NULL)") == []
        # no link without an account (of the same plan); no account linked twice
        assert rows("SELECT s.id FROM staged_accounts s LEFT JOIN plan_accounts a ON "
                    "a.id = s.linked_account_id AND a.plan_id = s.plan_id "
                    "WHERE s.state = 'linked' AND a.id IS NULL") == []
        assert rows("SELECT linked_account_id FROM staged_accounts WHERE linked_account_id "
                    "IS NOT NULL GROUP BY 1 HAVING count(*) > 1") == []
        # a staged row is never written without the contacts that list it
        assert rows("SELECT s.id FROM staged_accounts s WHERE NOT EXISTS (SELECT 1 FROM "
                    "staged_account_contacts c WHERE c.staged_id = s.id)") == []
        # every plan account's balance matches its latest history point
        assert rows("SELECT a.id FROM plan_accounts a WHERE a.balance != (SELECT h.balance "
                    "FROM balance_history h WHERE h.plan_account_id = a.id "
                    "ORDER BY h.id DESC LIMIT 1)") == []
        running = [dict(r) for r in rows("SELECT * FROM sync_runs WHERE status = 'running'")]
        for run in running:  # a lease left behind belongs to a dead process only
            assert run["plan_id"] == plan_id
            with pytest.raises(ProcessLookupError):
                os.kill(run["pid"], 0)
        return running
    finally:
        conn.close()


# ------------------------------------------------------------------ the fake, in its own process


@dataclass
class Fake:
    proc: subprocess.Popen[str]
    base_url: str
    http: httpx.Client

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        admin_url = self.base_url.removesuffix("/api/public/v1") + "/__admin"
        r = self.http.request(method, admin_url + path, json=body)
        r.raise_for_status()
        return r.json()


def read_line(proc: subprocess.Popen[str], deadline: float) -> str:
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            return proc.stdout.readline().strip()
        assert proc.poll() is None, "the fake Redtail exited"
    raise AssertionError("the fake Redtail did not print its URL in time")


@pytest.fixture
def slow_fake() -> Iterator[Fake]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "plantech_tui", "fake-redtail", "--generate", str(N_CONTACTS),
         "--seed", str(SEED), "--latency-ms", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = read_line(proc, time.monotonic() + DEADLINE_S)
        assert url.startswith("http://127.0.0.1:"), url
        with httpx.Client(timeout=10) as http:
            yield Fake(proc, url, http)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# ------------------------------------------------------------------ the base database


def build_base(path: Path, fake: Fake) -> tuple[int, list[int]]:
    """A plan with 36 contacts pulled and triaged, then 24 more linked but never pulled."""
    ws = Workspace.open(path, USER)
    try:
        integration, _ = connections.run_async(connections.connect_integration(
            ws, base_url=fake.base_url, username=DEMO_USERNAME, password=DEMO_PASSWORD,
            api_key=DEMO_API_KEY))
        plan = ws.create_plan("Crash test household", ["Pat Client", "Sam Client"])
        contacts = range(1001, 1001 + N_CONTACTS)
        for cid in contacts[:PULLED_FIRST]:
            ws.link_contact(plan.id, integration.id, cid, f"Contact {cid}", party=(
                "co_client" if cid % 2 == 0 else "client"))
        [report] = connections.run_async(pulls.sync_async(ws, [plan.id]))
        assert not isinstance(report, PullError) and report.status == "ok", report
        pending = [s for s in ws.plan_detail(plan.id).pending if s.balance is not None]
        assert len(pending) > 30
        ws.ignore(plan.id, [s.id for s in pending[:6]], "closed at the custodian")
        for i, staged in enumerate(pending[6:10]):  # link to manual accounts
            account = ws.add_account(plan.id, {"description": f"Manual {i}",
                                               "investment_type": "Taxable Brokerage",
                                               "balance": "1.00", "owner": "Client"})
            ws.link_to_existing(plan.id, staged.id, account.id)
        added = [ws.add_to_plan(plan.id, s.id) for s in pending[10:14]]
        ws.pause(plan.id, added[0].id)
        ws.edit_staged_description(plan.id, pending[14].id, "Edited by the advisor")
        for cid in contacts[PULLED_FIRST:]:
            ws.link_contact(plan.id, integration.id, cid, f"Contact {cid}")
        return plan.id, [s.redtail_account_id for s in pending[:15]]
    finally:
        ws.close()


def move_data(fake: Fake, block: int, account_ids: list[int], triaged: list[int],
              contact_ids: list[int]) -> None:
    """A deterministic change of the fake's data: balances (some of triaged accounts: ignored,
    linked, paused, edited), a null balance, a new account."""
    rng = random.Random(SEED * 1000 + block)
    for account_id in rng.sample(account_ids, 20) + rng.sample(triaged, 6):
        cents = rng.randrange(-50_000_00, 5_000_000_00)
        fake.admin("POST", f"/accounts/{account_id}/balance",
                   {"balance": f"{cents // 100}.{abs(cents) % 100:02d}"})
    fake.admin("POST", f"/accounts/{rng.choice(account_ids)}/balance", {"balance": None})
    fake.admin("POST", "/accounts", {
        "id": 900_000 + block, "contact_ids": [rng.choice(contact_ids)], "number": f"X{block:05d}",
        "company": "Crash Test Bank", "balance": f"{rng.randrange(1, 10**7)}.25",
        "account_type": "Brokerage", "taxqualified": False})


def pull_in_process(path: Path, plan_id: int) -> None:
    ws = Workspace.open(path, USER)
    try:
        [report] = connections.run_async(pulls.sync_async(ws, [plan_id]))
    finally:
        ws.close()
    assert not isinstance(report, PullError), report
    assert report.status == "ok", report.errors


# ------------------------------------------------------------------ one killed run


@dataclass
class Kill:
    strategy: str
    pid: int
    phases: list[str] = field(default_factory=list)
    seen: dict[str, float] = field(default_factory=dict)  # marker → seconds after start
    killed: bool = False

    @property
    def in_transaction(self) -> bool:
        return "apply-begin" in self.phases and "committed" not in self.phases


def phases_of(path: Path, pid: int) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        name, _, who = line.partition(" ")
        if who == str(pid):
            out.append(name)
    return out


def run_and_kill(db: Path, plan_id: int, phase_file: Path, after: str | None,
                 delay: float | None) -> Kill:
    """Run `plantech sync` and SIGKILL it `delay` s after the phase marker `after` appears
    (`after` None: after the start; `delay` None: let it finish). The phase file is polled."""
    phase_file.unlink(missing_ok=True)
    env = dict(os.environ, PLANTECH_TEST_PHASES=str(phase_file))
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "plantech_tui", "--db", str(db), "--user", USER, "sync",
         "--plan", str(plan_id), "--json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    kill = Kill(f"{after or 'start'}+{delay * 1000:.0f}ms" if delay is not None else "none",
                proc.pid)
    deadline = started + DEADLINE_S
    kill_at = started + delay if after is None and delay is not None else None
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            now = time.monotonic()
            for name in phases_of(phase_file, proc.pid):
                kill.seen.setdefault(name, now - started)
            if kill_at is None and delay is not None and after in kill.seen:
                kill_at = started + kill.seen[after] + delay
            if kill_at is not None and now >= kill_at:
                break
            time.sleep(0.0005)  # polling the phase file and the clock
        if delay is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kill.killed = True
        proc.wait(timeout=DEADLINE_S)  # reaps it: a zombie would still look alive
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if kill.killed:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 0, err
    kill.phases = phases_of(phase_file, proc.pid)
    return kill


def test_sigkill_anywhere_leaves_before_or_after_and_a_rerun_converges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slow_fake: Fake
) -> None:
    monkeypatch.setenv("PLANTECH_CREDENTIALS", "file")  # shared with the CLI subprocesses
    credentials.reset_credential_store()
    started = time.monotonic()
    base, work, ref = tmp_path / "base.db", tmp_path / "work.db", tmp_path / "ref.db"
    plan_id, triaged = build_base(base, slow_fake)
    base_state = plan_state(base)
    data = generate_data(N_CONTACTS, SEED)  # the same data the fake generated
    contact_ids = sorted(data.contacts)
    account_ids = sorted(data.accounts)

    rng = random.Random(SEED)
    kills: list[Kill] = []
    runs = 0
    apply_window: float | None = None  # apply-begin → committed, in the calibration run
    write_window = 0.0  # apply-rows → apply-end: the writes
    run_time = 0.0
    reference: State = {}
    while len(kills) < KILLS or sum(k.in_transaction for k in kills) < IN_TXN_KILLS:
        assert runs < MAX_RUNS, f"only {len(kills)} kills in {runs} runs"
        if runs % BLOCK == 0:  # the fake's data moves: a new reference
            move_data(slow_fake, runs // BLOCK, account_ids, triaged, contact_ids)
            copy_db(base, ref)
            pull_in_process(ref, plan_id)
            reference = plan_state(ref)
            assert reference != base_state
        if apply_window is None:  # calibrate: one uninterrupted run, timed by its markers
            after, delay = None, None
        else:
            after, delay = [("apply-begin", 0.0), ("apply-rows", 0.0),
                            ("apply-rows", rng.uniform(0.0, write_window)),
                            ("apply-begin", rng.uniform(0.0, apply_window)),
                            (None, rng.uniform(0.0, run_time))][runs % 5]
        runs += 1
        copy_db(base, work)
        kill = run_and_kill(work, plan_id, tmp_path / f"phases-{runs}", after, delay)
        strategy = kill.strategy
        if apply_window is None:
            apply_window = kill.seen["committed"] - kill.seen["apply-begin"]
            write_window = kill.seen["apply-end"] - kill.seen["apply-rows"]
            run_time = kill.seen["committed"] + 0.1
        running = check_invariants(work, plan_id)
        after_kill = plan_state(work)
        where = f"run {runs} ({strategy}, phases {kill.phases})"
        if "committed" in kill.phases or not kill.killed:
            assert after_kill == reference, f"{where}: {state_diff(after_kill, reference)}"
        elif "apply-end" not in kill.phases:  # killed before COMMIT was issued: rolled back
            assert after_kill == base_state, f"{where}: {state_diff(after_kill, base_state)}"
        else:  # between apply-end and the committed marker: either, never between
            assert after_kill in (base_state, reference), where
        if kill.killed:
            kills.append(kill)
            if "claimed" in kill.phases and "apply-end" not in kill.phases:
                assert [r["pid"] for r in running] == [kill.pid], where
        # the rerun reclaims a dead lease and converges to the uninterrupted result
        pull_in_process(work, plan_id)
        assert check_invariants(work, plan_id) == []
        after_rerun = plan_state(work)
        assert after_rerun == reference, f"{where} rerun: {state_diff(after_rerun, reference)}"
        conn = sqlite3.connect(work)
        try:
            statuses = [r[0] for r in conn.execute("SELECT status FROM sync_runs ORDER BY id")]
        finally:
            conn.close()
        assert statuses[-1] == "ok" and "running" not in statuses, (where, statuses)
        if running:
            assert "abandoned" in statuses, (where, statuses)

    in_txn = [k for k in kills if k.in_transaction]
    assert len(kills) >= KILLS
    assert len(in_txn) >= IN_TXN_KILLS, [k.phases for k in kills]
    # the kills are spread: before the claim or during the fetch, and inside the apply
    assert any("apply-begin" not in k.phases for k in kills)
    assert any(k.in_transaction and k.strategy.startswith("apply-begin+") and
               not k.strategy.endswith("+0ms") for k in kills)
    print(f"{len(kills)} kills in {runs} runs, {len(in_txn)} inside the apply transaction, "
          f"{time.monotonic() - started:.1f} s")
