"""Firm scale (issue 6): `plantech sync --all` over 1,000 plans × 3 contacts.

The fake Redtail runs in its own process (`plantech fake-redtail --generate 3000 --latency-ms
20`): in-process, its CPU would share our GIL and the measurement would be of the fake. The
database is built directly (one transaction of SQL inserts; one real login for the key), then
the real CLI runs in a subprocess, as cron would run it.

Floor (SPEC §10): the minimum request set — the two lookup lists once per integration per run,
plus one request per page of each contact's accounts — in waves of the in-flight limit, times
the latency. `sync --all` shares one client per integration across plans (PullEngine.pull_many),
so the lookups are fetched once, not once per plan.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.bench.common import Row, scratch_dir, verdict

N_PLANS = 1000
PER_PLAN = 3
LATENCY_MS = 20
IN_FLIGHT = 8  # the CLI's default --max-in-flight
SEED = 20240
PAGE = 50


def _env(tmp: Path) -> dict[str, str]:
    home = tmp / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTECH_")}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CONFIG_HOME=str(home / "config"), XDG_STATE_HOME=str(home / "state"),
               XDG_CACHE_HOME=str(home / "cache"), PLANTECH_CREDENTIALS="file")
    return env


def build_firm(db: Path, base_url: str, env: dict[str, str]) -> int:
    """1,000 plans, each with 3 linked contacts (1001.., in order). Returns the integration id."""
    from plantech_tui.partners.redtail.fake import DEMO_API_KEY, DEMO_PASSWORD, DEMO_USERNAME
    from plantech_tui.service import connections
    from plantech_tui.service.workspace import Workspace
    from plantech_tui.store.db import now_utc
    from plantech_tui.sync import credentials

    saved = dict(os.environ)
    os.environ.update(env)  # the credential file goes where the subprocess will look
    credentials.reset_credential_store()
    try:
        ws = Workspace.open(db, "bench")
        integration, _ = asyncio.run(connections.connect_integration(
            ws, base_url=base_url, username=DEMO_USERNAME, password=DEMO_PASSWORD,
            api_key=DEMO_API_KEY))
        now = now_utc()
        with ws.store.write() as tx:
            conn = tx.conn
            conn.executemany(
                "INSERT INTO plans (id, name, client, co_client, owner_user_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(p, f"Household {p}", f"Client {p}", f"Co-client {p}", ws.user.id, now)
                 for p in range(1, N_PLANS + 1)])
            conn.executemany(
                "INSERT INTO plan_contacts (plan_id, integration_id, source_contact_id, name, "
                "party, linked_at) VALUES (?, ?, ?, ?, ?, ?)",
                [(p, integration.id, 1001 + (p - 1) * PER_PLAN + k, f"Contact {p}.{k}",
                  "client" if k == 0 else "co_client", now)
                 for p in range(1, N_PLANS + 1) for k in range(PER_PLAN)])
        ws.close()
        return integration.id
    finally:
        os.environ.clear()
        os.environ.update(saved)
        credentials.reset_credential_store()


def minimum_requests() -> tuple[int, int]:
    """(minimum requests, accounts listed) for the generated data: 2 lookup lists + one
    request per page of each linked contact's listing (an empty listing is one page)."""
    from plantech_tui.partners.redtail.fake import generate_data

    data = generate_data(N_PLANS * PER_PLAN, SEED)
    pages = 0
    accounts = 0
    for cid in sorted(data.contacts):
        listed = len(list(data.accounts_of(cid)))
        accounts += listed
        pages += max(1, math.ceil(listed / PAGE))
    return 2 + pages, accounts


@contextmanager
def fake_process(*args: str) -> Iterator[tuple[str, int]]:
    """The fake in its own process: (base URL, pid)."""
    proc = subprocess.Popen([sys.executable, "-m", "plantech_tui", "fake-redtail", *args],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip(), proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fake_requests(base_url: str) -> int:
    import httpx

    admin = base_url.removesuffix("/api/public/v1") + "/__admin/state"
    return int(httpx.get(admin, timeout=10).json()["requests"])


def run_sync(db: Path, env: dict[str, str], *, profile: Path | None = None
             ) -> tuple[float, float, dict[str, Any]]:
    """(wall seconds, CPU seconds of the sync process, its JSON report)."""
    cmd = [sys.executable]
    if profile is not None:
        cmd += ["-m", "cProfile", "-o", str(profile)]
    cmd += ["-m", "plantech_tui", "--db", str(db), "--user", "bench", "sync", "--all", "--json",
            "--max-in-flight", str(IN_FLIGHT)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False,
                          timeout=900)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert len(doc["plans"]) == N_PLANS and all(p["status"] == "ok" for p in doc["plans"])
    return wall, cpu, doc


def startup_seconds(env: dict[str, str], tmp: Path) -> float:
    """`plantech sync --all` on a database with no plans: interpreter, imports, argparse."""
    from plantech_tui.service.workspace import Workspace

    empty = tmp / "empty.db"
    Workspace.open(empty, "bench").close()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "plantech_tui", "--db", str(empty), "--user",
                        "bench", "sync", "--all", "--json"], env=env, capture_output=True,
                       check=True, timeout=60)
        times.append(time.perf_counter() - start)
    return sorted(times)[1]


def bench_firm_sync_all() -> list[Row]:
    tmp = scratch_dir()
    env = _env(tmp)
    db = tmp / "firm.db"
    minimum, accounts = minimum_requests()
    floor = math.ceil(minimum / IN_FLIGHT) * LATENCY_MS / 1000
    name = f"sync --all {N_PLANS:,}×{PER_PLAN} @{LATENCY_MS}ms"
    rows: list[Row] = []
    try:
        runs = _measure(tmp, env, db)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the 1,000-plan database is ~50 MB
    new = sum(p["new"] for p in runs[0][5]["plans"])
    rows.append(Row(name, "floor (waves × latency)", f"{floor:.2f} s",
                    f"{minimum:,} requests min ({accounts:,} accounts), {IN_FLIGHT} in flight"))
    startup = runs[0][6]
    rows.append(Row(name, "process start-up (no plans)", f"{startup:.2f} s", "in every wall time"))
    for label, wall, cpu, fake_cpu, requests, _doc, _startup in runs:
        ratio = wall / floor
        rows.append(Row(name, f"wall, {label}", f"{wall:.2f} s",
                        f"{requests:,} requests; sync CPU {cpu:.1f} s ({cpu / wall:.0%} of "
                        f"wall), fake CPU {fake_cpu:.1f} s"
                        + (f"; {new:,} staged" if label.startswith("first") else "")))
        rows.append(Row(name, f"ratio to floor, {label}", f"{ratio:.2f}×", "≤ 2×",
                        verdict(ratio <= 2)))
    return rows


def _measure(tmp: Path, env: dict[str, str], db: Path) -> list[tuple[Any, ...]]:
    with fake_process("--generate", str(N_PLANS * PER_PLAN), "--seed", str(SEED),
                      "--latency-ms", str(LATENCY_MS)) as (base_url, fake_pid):
        build_firm(db, base_url, env)
        startup = startup_seconds(env, tmp)
        profile = os.environ.get("BENCH_PROFILE")  # cProfile the syncs (slows them 2-4×)
        runs = []
        for label in ("first (all new)", "second (all unchanged)"):
            requests_before, fake_before = fake_requests(base_url), cpu_seconds(fake_pid)
            wall, cpu, doc = run_sync(db, env, profile=Path(f"{profile}.{len(runs)}")
                                      if profile else None)
            requests = fake_requests(base_url) - requests_before
            runs.append((label, wall, cpu, cpu_seconds(fake_pid) - fake_before, requests, doc,
                         startup))
    return runs


BENCHMARKS = [bench_firm_sync_all]
