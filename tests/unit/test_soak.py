"""Concurrency soak (issue 6 point 2): for PLANTECH_SOAK_SECONDS (60 s in CI) four processes
work on ONE database at once, each started behind a barrier:

- tui:    PlantechApp headless (run_test) on a plan, pressing `r` (Refresh Integrations) in a
          loop; every notification and every failed worker is logged;
- sync:   `plantech sync --all --json` in a loop (as cron would), moving a few balances in the
          fake Redtail between runs so that the pulls really write;
- edit:   manual account edits through the Workspace (description, notes, a manual balance),
          recording each successful write;
- triage: `plantech triage PLAN ignore|stop-ignoring ID` through the CLI, recording each.

The fake Redtail runs in its own process with a little latency. Then: nothing a user saw says
"database is locked" (or busy, or a traceback, or an internal error); every edit and every
triage survived (the final value is the last successful write's); the store's invariants
hold; and the processes really overlapped in time.

The roles are this module run as a script: `python -m tests.unit.test_soak ROLE CONFIG`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLANTECH = [sys.executable, "-m", "plantech_tui"]
ROLES = ("tui", "sync", "edit", "triage")
LATENCY_MS = 20
FORBIDDEN = re.compile(r"database is locked|database .* is busy|Traceback|internal error",
                       re.IGNORECASE)
ALREADY_RUNNING = re.compile(r"already running", re.IGNORECASE)


# read at import: the autouse fixture clears PLANTECH_* from the environment of each test
SOAK_SECONDS = float(os.environ.get("PLANTECH_SOAK_SECONDS", "60"))
EDIT_PACE_S = 0.005  # an eager editor's pace (not a synchronisation): leaves CPU to the rest


# ---------------------------------------------------------------------- the roles (subprocesses)


class Role:
    """A role's config, its event log, and the barrier."""

    def __init__(self, name: str, config_path: str) -> None:
        self.name = name
        self.cfg: dict[str, Any] = json.loads(Path(config_path).read_text())
        self.dir = Path(self.cfg["dir"])
        self._log = open(self.dir / f"{name}.jsonl", "a", encoding="utf-8")
        self.end = 0.0

    def log(self, **event: Any) -> None:
        self._log.write(json.dumps(event) + "\n")
        self._log.flush()

    def ready(self) -> None:
        (self.dir / f"ready-{self.name}").write_text(str(os.getpid()))

    def go_file(self) -> Path:
        return self.dir / "go"

    def check_go(self) -> bool:
        go = self.go_file()
        if go.exists() and go.read_text().strip():
            self.end = float(go.read_text())
            return True
        return False

    def wait_go(self) -> None:
        self.ready()
        deadline = time.monotonic() + 120
        while not self.check_go():
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name}: never got the go signal")
            time.sleep(0.01)

    def cli(self, *args: str) -> dict[str, Any]:
        t0 = time.time()
        proc = subprocess.run([*PLANTECH, "--db", self.cfg["db"], "--user", "alice", *args],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=120, cwd=ROOT)
        return {"t0": t0, "t1": time.time(), "args": list(args), "rc": proc.returncode,
                "stdout": proc.stdout, "stderr": proc.stderr}


def role_tui(role: Role) -> None:
    from textual.worker import Worker, WorkerState

    from plantech_tui.app import PlantechApp
    from plantech_tui.screens.plan import PlanScreen
    from plantech_tui.screens.refresh_report import RefreshReportScreen

    plan_id = int(role.cfg["tui_plan"])

    class LoggedApp(PlantechApp):
        # a subclass's CSS_PATH is read relative to its own module: point at the app's
        CSS_PATH = str(Path(sys.modules[PlantechApp.__module__].__file__ or "").parent
                       / "styles" / "app.tcss")

        def notify(self, message: str, **kwargs: Any) -> None:  # type: ignore[override]
            role.log(kind="notify", t=time.time(), title=str(kwargs.get("title", "")),
                     severity=str(kwargs.get("severity", "information")), message=str(message))
            super().notify(message, **kwargs)

        def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
            if event.state == WorkerState.ERROR:  # a failure no notification would show
                role.log(kind="worker-error", t=time.time(), name=event.worker.name,
                         error=repr(event.worker.error))

    def pulling(app: PlantechApp) -> bool:
        return any(w.group == "pull" and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
                   for w in app.workers)

    async def until(condition: Any, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"tui: {what} never happened")
            await asyncio.sleep(0.02)

    async def main() -> None:
        app = LoggedApp(role.cfg["db"], "alice")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            app.open_plan(plan_id)
            await until(lambda: isinstance(app.screen, PlanScreen), "the plan screen")
            role.ready()
            await until(role.check_go, "the go signal", timeout=120)
            while time.time() < role.end:
                t0 = time.time()
                await pilot.press("r")
                await pilot.pause()
                await until(lambda: not pulling(app), "the end of the refresh")
                await pilot.pause()
                outcome = "notice"
                if isinstance(app.screen, RefreshReportScreen):
                    outcome = "report"
                    await pilot.press("escape")
                    await until(lambda: isinstance(app.screen, PlanScreen), "back to the plan")
                role.log(kind="refresh", t0=t0, t1=time.time(), outcome=outcome)
            app.exit()

    asyncio.run(main())


def role_sync(role: Role) -> None:
    import httpx

    admin = role.cfg["base_url"].removesuffix("/api/public/v1") + "/__admin/accounts"
    movable = role.cfg["movable"]
    role.wait_go()
    n = 0
    with httpx.Client(timeout=30) as http:
        while time.time() < role.end:
            for account_id in movable[n % len(movable):][:2]:  # Redtail moves a little
                r = http.post(f"{admin}/{account_id}/balance",
                              json={"balance": f"{10000 + 37 * n + account_id % 100}.25"})
                r.raise_for_status()
            n += 1
            result = role.cli("sync", "--all", "--json")
            role.log(kind="sync", **result)


def role_edit(role: Role) -> None:
    from plantech_tui.domain.errors import PlantechError
    from plantech_tui.service.workspace import Workspace

    ws = Workspace.open(role.cfg["db"], "alice")
    targets = [(t["plan"], t["account"], field) for t in role.cfg["edit_targets"]
               for field in t["fields"]]
    role.wait_go()
    for seq in itertools.count(1):
        if time.time() >= role.end:
            break
        plan_id, account_id, field = targets[seq % len(targets)]
        value = {"description": f"Edited {seq} (soak)", "notes": f"note {seq} — soak",
                 "balance": f"{1000 + seq}.{seq % 100:02d}"}[field]
        t0 = time.time()
        try:
            ws.edit_account(plan_id, account_id, {field: value})
        except PlantechError as exc:
            role.log(kind="edit-error", t0=t0, t1=time.time(), account=account_id, field=field,
                     message=exc.message)
            continue
        role.log(kind="edit", t0=t0, t1=time.time(), plan=plan_id, account=account_id,
                 field=field, value=value)
        time.sleep(EDIT_PACE_S)
    ws.close()


def role_triage(role: Role) -> None:
    targets = role.cfg["triage_targets"]
    role.wait_go()
    for seq in itertools.count(0):
        if time.time() >= role.end:
            break
        target = targets[(seq // 2) % len(targets)]
        verb = "ignore" if seq % 2 == 0 else "stop-ignoring"
        result = role.cli("--json", "triage", str(target["plan"]), verb, str(target["staged"]))
        role.log(kind="triage", plan=target["plan"], staged=target["staged"], verb=verb,
                 **result)


def run_role(name: str, config_path: str) -> None:
    role = Role(name, config_path)
    {"tui": role_tui, "sync": role_sync, "edit": role_edit, "triage": role_triage}[name](role)
    role.log(kind="done", t=time.time())


# ---------------------------------------------------------------------- the test


def wait_until_listening(url: str, timeout: float = 20) -> None:
    """The fake prints its URL once bound, which can be just before it listens: poll."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"the fake Redtail never answered at {url}"
        time.sleep(0.02)


@contextmanager
def fake_redtail(log: Path) -> Iterator[str]:
    """The fake in its own process (its CPU must not share a role's GIL)."""
    with open(log, "wb") as err:
        proc = subprocess.Popen([*PLANTECH, "fake-redtail", "--latency-ms", str(LATENCY_MS)],
                                stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:"), base_url
        wait_until_listening(base_url.removesuffix("/api/public/v1") + "/__admin/state")
        yield base_url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def build(db: Path, base_url: str) -> dict[str, Any]:
    """Three plans of demo contacts, pulled once; linked and manual accounts to edit, pending
    rows to triage. Returns the roles' shared config."""
    from plantech_tui.partners.redtail.fake import DEMO_API_KEY, DEMO_PASSWORD, DEMO_USERNAME
    from plantech_tui.service import connections, pulls
    from plantech_tui.service.workspace import Workspace

    async def setup() -> dict[str, Any]:
        ws = Workspace.open(db, "alice")
        integ, _ = await connections.connect_integration(
            ws, base_url=base_url, username=DEMO_USERNAME, password=DEMO_PASSWORD,
            api_key=DEMO_API_KEY)
        plans = {}
        for name, contacts in (("Addams Family", [101, 102]), ("Second Family", [201, 202]),
                               ("Third Family", [203, 204, 205])):
            plan = ws.create_plan(name, [f"{name} client"])
            await connections.link_contacts_async(ws, plan.id, integ.id, contacts)
            plans[name] = plan.id
        await pulls.sync_async(ws, None)
        edit_targets: list[dict[str, Any]] = []
        triage_targets: list[dict[str, Any]] = []
        movable: list[int] = []
        for name, plan_id in plans.items():
            detail = ws.plan_detail(plan_id)
            pending = list(detail.pending)
            assert len(pending) >= 4, (name, pending)
            for staged in pending[:2]:  # linked accounts: description and notes are manual
                account = ws.add_to_plan(plan_id, staged.id, {})
                edit_targets.append({"plan": plan_id, "account": account.id,
                                     "fields": ["description", "notes"]})
                movable.append(staged.redtail_account_id)
            manual = ws.add_account(plan_id, {"description": f"{name} savings",
                                              "investment_type": "Cash", "balance": "500.00"})
            edit_targets.append({"plan": plan_id, "account": manual.id,
                                 "fields": ["description", "notes", "balance"]})
            triage_targets += [{"plan": plan_id, "staged": s.id} for s in pending[2:4]]
            movable += [s.redtail_account_id for s in pending[4:6]]
        ws.close()
        return {"tui_plan": plans["Addams Family"], "edit_targets": edit_targets,
                "triage_targets": triage_targets, "movable": movable}

    return asyncio.run(setup())


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def overlapped(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """Whether an interval of one list overlaps an interval of the other (wall clock)."""
    return any(x["t0"] < y["t1"] and y["t0"] < x["t1"] for x in a for y in b)


def check_invariants(db: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # one state per Redtail account per plan (the UNIQUE constraint, checked anyway)
        assert conn.execute(
            "SELECT plan_id, integration_id, source_account_id, COUNT(*) FROM staged_accounts "
            "GROUP BY 1, 2, 3 HAVING COUNT(*) > 1").fetchall() == []
        assert conn.execute("SELECT COUNT(*) FROM staged_accounts WHERE state NOT IN "
                            "('pending', 'ignored', 'linked')").fetchone() == (0,)
        # no link without an account (in the same plan), no account linked twice
        assert conn.execute(
            "SELECT s.id FROM staged_accounts s LEFT JOIN plan_accounts a "
            "ON a.id = s.linked_account_id AND a.plan_id = s.plan_id "
            "WHERE s.state = 'linked' AND a.id IS NULL").fetchall() == []
        assert conn.execute(
            "SELECT linked_account_id FROM staged_accounts WHERE linked_account_id IS NOT NULL "
            "GROUP BY 1 HAVING COUNT(*) > 1").fetchall() == []
        assert conn.execute(
            "SELECT id FROM staged_accounts WHERE (state = 'linked') != "
            "(linked_account_id IS NOT NULL AND link_state IS NOT NULL)").fetchall() == []
        assert conn.execute("SELECT COUNT(*) FROM sync_runs WHERE status = 'running'"
                            ).fetchone() == (0,), "a pull lease was left behind"
    finally:
        conn.close()


@pytest.mark.slow
def test_tui_sync_edits_and_triage_on_one_database(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    started = time.monotonic()
    monkeypatch.setenv("PLANTECH_CREDENTIALS", "file")  # one credential file for every process
    from plantech_tui.sync import credentials

    credentials.reset_credential_store()
    db = tmp_path / "soak.db"
    work = tmp_path / "soak"
    work.mkdir()
    seconds = SOAK_SECONDS
    procs: dict[str, subprocess.Popen[bytes]] = {}
    with fake_redtail(tmp_path / "fake.err") as base_url:
        config = build(db, base_url)
        config.update(db=str(db), dir=str(work), base_url=base_url)
        config_path = work / "config.json"
        config_path.write_text(json.dumps(config))
        try:
            for name in ROLES:
                with open(work / f"{name}.out", "wb") as out:
                    procs[name] = subprocess.Popen(
                        [sys.executable, "-m", "tests.unit.test_soak", name, str(config_path)],
                        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
            deadline = time.monotonic() + 60
            while not all((work / f"ready-{n}").exists() for n in ROLES):
                for name, proc in procs.items():
                    assert proc.poll() is None, (
                        f"{name} exited early:\n{(work / f'{name}.out').read_text()[-3000:]}")
                assert time.monotonic() < deadline, "the roles never got ready"
                time.sleep(0.02)
            go_at = time.time()
            (work / "go.tmp").write_text(str(go_at + seconds))
            (work / "go.tmp").rename(work / "go")
            for proc in procs.values():
                proc.wait(timeout=seconds + 60)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    outputs = {n: (work / f"{n}.out").read_text(errors="replace") for n in ROLES}
    for name, proc in procs.items():
        assert proc.returncode == 0, f"{name} failed:\n{outputs[name][-3000:]}"
    events = {n: read_log(work / f"{n}.jsonl") for n in ROLES}
    for name in ROLES:
        assert events[name] and events[name][-1]["kind"] == "done", name

    # 1. nothing a user saw says locked / busy / traceback / internal error
    seen: list[tuple[str, str]] = [(f"{n} output", text) for n, text in outputs.items()]
    for name in ("sync", "triage"):
        seen += [(f"{name} {e['args']}", e["stdout"] + e["stderr"]) for e in events[name]
                 if e["kind"] in ("sync", "triage")]
    seen += [(f"tui notification {e['title']}", e["message"]) for e in events["tui"]
             if e["kind"] == "notify"]
    seen += [("edit error", e["message"]) for e in events["edit"] if e["kind"] == "edit-error"]
    bad = [(where, text[:500]) for where, text in seen if FORBIDDEN.search(text)]
    assert bad == [], bad
    assert [e for e in events["tui"] if e["kind"] == "worker-error"] == []
    assert [e for e in events["edit"] if e["kind"] == "edit-error"] == []
    # the only refusals anyone saw: a pull of the same plan already running elsewhere
    errors = [e for e in events["tui"] if e["kind"] == "notify" and e["severity"] == "error"]
    assert all(ALREADY_RUNNING.search(e["message"]) for e in errors), errors
    syncs = [e for e in events["sync"] if e["kind"] == "sync"]
    for run in syncs:
        if run["rc"] != 0:
            assert run["rc"] == 1 and ALREADY_RUNNING.search(run["stderr"]), run
        for plan in json.loads(run["stdout"])["plans"]:
            assert plan["status"] == "ok" or all(
                ALREADY_RUNNING.search(err["message"]) for err in plan["errors"]), plan
    triages = [e for e in events["triage"] if e["kind"] == "triage"]
    assert all(t["rc"] == 0 for t in triages), [t for t in triages if t["rc"] != 0][:3]

    # 2. no edit or triage lost: the final value is the last successful write's
    from plantech_tui.service.workspace import Workspace

    ws = Workspace.open(db, "alice")
    edits = [e for e in events["edit"] if e["kind"] == "edit"]
    last: dict[tuple[int, int, str], str] = {}
    for e in edits:
        last[(e["plan"], e["account"], e["field"])] = e["value"]
    for (plan_id, account_id, field), value in last.items():
        actual = getattr(ws.account(plan_id, account_id), field)
        if field == "balance":
            assert Decimal(actual) == Decimal(value), (account_id, field, actual, value)
        else:
            assert actual == value, (account_id, field, actual, value)
    final_triage: dict[tuple[int, int], str] = {}
    for t in triages:
        final_triage[(t["plan"], t["staged"])] = "ignored" if t["verb"] == "ignore" else "pending"
    for (plan_id, staged_id), state in final_triage.items():
        assert ws.staged(plan_id, staged_id).state.value == state, (staged_id, state)
    ws.close()

    # 3. the store's invariants
    check_invariants(db)

    # 4. the processes really worked at the same time
    refreshes = [e for e in events["tui"] if e["kind"] == "refresh"]
    assert len(refreshes) >= 3 and len(syncs) >= 3 and len(edits) >= 20 and len(triages) >= 4, (
        len(refreshes), len(syncs), len(edits), len(triages))
    assert sum(1 for r in refreshes if r["outcome"] == "report") >= 1
    for a, b in (("tui", "sync"), ("edit", "sync"), ("edit", "tui"), ("triage", "sync"),
                 ("triage", "edit")):
        ops = {"tui": refreshes, "sync": syncs, "edit": edits, "triage": triages}
        assert overlapped(ops[a], ops[b]), f"{a} and {b} never overlapped"
    windows = {n: (min(e.get("t0", e.get("t", 0)) for e in events[n] if "t0" in e),
                   max(e["t1"] for e in events[n] if "t1" in e)) for n in ROLES}
    assert max(w[0] for w in windows.values()) < min(w[1] for w in windows.values()), windows
    print(f"soak {seconds:.0f} s: {len(refreshes)} refreshes, {len(syncs)} syncs, "
          f"{len(edits)} edits, {len(triages)} triage commands; "
          f"total {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    run_role(sys.argv[1], sys.argv[2])
