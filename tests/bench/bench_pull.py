"""Pull benchmarks (issue 3): concurrency against sequential and against the floor, and the
apply step at 100k accounts.

- one plan, 10 contacts × 30 accounts, 50 ms latency on the fake over real loopback HTTP;
  default in-flight limit (8) vs 1 request in flight, same engine; floor = waves of the minimum
  request set (2 lookup lists + 1 page per contact) at the limit × latency.
- the same requests through a bare httpx client, nothing parsed (the ceiling of the ratio
  on this machine: the fake's and httpx's own CPU per request).
- applying 100k fetched accounts to an empty plan (diff + one transaction), rows per second.
"""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.bench.common import Row, scratch_dir, verdict


def _setup(tmp: Path, base_url: str, contact_ids: list[int]) -> tuple[object, int]:
    from plantech_tui.partners.redtail.fake import DEMO_API_KEY, DEMO_PASSWORD, DEMO_USERNAME
    from plantech_tui.service import connections
    from plantech_tui.service.workspace import Workspace

    ws = Workspace.open(tmp / "bench.db", "bench")
    plan = ws.create_plan("Bench", ["A B"])
    integration, _ = asyncio.run(connections.connect_integration(
        ws, base_url=base_url, username=DEMO_USERNAME, password=DEMO_PASSWORD,
        api_key=DEMO_API_KEY))
    for cid in contact_ids:
        ws.link_contact(plan.id, integration.id, cid, f"Contact {cid}")
    return ws, plan.id


def _pull_seconds(base_url: str, contact_ids: list[int], in_flight: int
                  ) -> tuple[float, int, float]:
    """(wall seconds of one pull, requests, seconds of its apply step: the transaction
    after the last answer)."""
    from plantech_tui.service import connections
    from plantech_tui.sync.engine import PullEngine

    tmp = scratch_dir()
    ws, plan_id = _setup(tmp, base_url, contact_ids)
    engine = PullEngine(ws.store, connections.connection_for(ws, in_flight),
                        user_name="bench")
    applying = [0.0]
    apply = engine.apply

    def timed_apply(*args: object, **kwargs: object) -> object:
        start = time.perf_counter()
        try:
            return apply(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            applying[0] = time.perf_counter() - start

    engine.apply = timed_apply  # type: ignore[method-assign, assignment]

    async def go() -> tuple[float, int, float]:
        async with engine:
            start = time.perf_counter()
            report = await engine.pull(plan_id)
            elapsed = time.perf_counter() - start
            assert report is not None and report.status == "ok", report
            return elapsed, engine.request_count, applying[0]

    return asyncio.run(go())


def _bare_seconds(base_url: str, contact_ids: list[int], in_flight: int) -> float:
    """The same 12 requests through a bare httpx client (unauthenticated: the fake answers
    401 after the same latency), nothing parsed or applied: the machine's own ceiling."""
    import httpx

    paths = ["lists/account_types", "lists/account_tax_qualified_types",
             *(f"contacts/{cid}/accounts" for cid in contact_ids)]

    async def go() -> float:
        limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
        async with httpx.AsyncClient(base_url=base_url + "/", limits=limits) as client:
            gate = asyncio.Semaphore(in_flight)

            async def one(path: str) -> None:
                async with gate:
                    (await client.get(path)).read()

            start = time.perf_counter()
            await asyncio.gather(*(one(p) for p in paths))
            return time.perf_counter() - start

    return asyncio.run(go())


@contextmanager
def fake_process(*args: str) -> Iterator[str]:
    """The fake in its own process (as Redtail is): our client and the server must not share
    one interpreter's GIL, or the measurement is of the fake's CPU, not of the pull."""
    proc = subprocess.Popen([sys.executable, "-m", "plantech_tui", "fake-redtail", *args],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def bench_concurrency() -> list[Row]:
    from plantech_tui.partners.redtail.fake import generate_data

    latency = 0.050
    data = generate_data(10, seed=7, accounts_per_contact=30)
    contact_ids = sorted(data.contacts)
    rows: list[Row] = []
    os.environ["PLANTECH_CREDENTIALS"] = "file"
    with fake_process("--generate", "10", "--seed", "7", "--latency-ms", "50") as base_url:
        fast = sorted(_pull_seconds(base_url, contact_ids, 8) for _ in range(5))[2]
        slow = sorted(_pull_seconds(base_url, contact_ids, 1) for _ in range(3))[1]
        bare_fast = sorted(_bare_seconds(base_url, contact_ids, 8) for _ in range(5))[2]
        bare_slow = sorted(_bare_seconds(base_url, contact_ids, 1) for _ in range(3))[1]
    requests = fast[1]
    minimum = 2 + len(contact_ids)
    floor = math.ceil(minimum / 8) * latency
    speedup = slow[0] / fast[0]
    to_floor = fast[0] / floor
    rows.append(Row("pull 10×30 @50ms", "8 in flight (default)", f"{fast[0]:.3f} s",
                    f"{requests} requests; its apply step (after the last answer) "
                    f"{fast[2] * 1000:.0f} ms"))
    rows.append(Row("pull 10×30 @50ms", "1 in flight (sequential)", f"{slow[0]:.3f} s"))
    rows.append(Row("pull 10×30 @50ms", "floor (waves × latency)", f"{floor:.3f} s",
                    f"{minimum} requests min"))
    rows.append(Row("pull 10×30 @50ms", "speed-up vs sequential", f"{speedup:.2f}×", "≥ 5×",
                    verdict(speedup >= 5)))
    rows.append(Row("pull 10×30 @50ms", "bare httpx, same requests: speed-up",
                    f"{bare_slow / bare_fast:.2f}×",
                    f"{bare_fast:.3f} s vs {bare_slow:.3f} s; nothing parsed: this machine's "
                    "ceiling"))
    rows.append(Row("pull 10×30 @50ms", "ratio to floor", f"{to_floor:.2f}×", "≤ 2×",
                    verdict(to_floor <= 2)))
    return rows


def bench_apply_100k() -> list[Row]:
    from plantech_tui.partners.redtail.fake import generate_data
    from plantech_tui.partners.redtail.models import RedtailAccount
    from plantech_tui.partners.redtail.partner import builtin_mapping, source_accounts
    from plantech_tui.service.workspace import Workspace
    from plantech_tui.sync.diff import ContactFetch
    from plantech_tui.sync.engine import PullEngine, claim_run

    n_contacts = 3334
    data = generate_data(n_contacts, seed=11, accounts_per_contact=30)
    types = {t["id"]: t["name"] for t in data.account_types}
    tqs = {t["id"]: t["name"] for t in data.tax_qualified_types}
    fetches = []
    total = 0
    for cid in sorted(data.contacts):
        accounts = [RedtailAccount.model_validate(a.to_api(cid)) for a in data.accounts_of(cid)]
        total += len(accounts)
        fetches.append(ContactFetch(1, str(cid), source="Redtail", accounts=source_accounts(
            accounts, builtin_mapping(), types, tqs)))
    tmp = scratch_dir()
    ws = Workspace.open(tmp / "apply.db", "bench")
    plan = ws.create_plan("Big book", ["A B"])
    with ws.store.write() as db:
        db.execute("INSERT INTO integrations (owner_user_id, environment, base_url, username, "
                   "secret_ref, created_at) VALUES (?, 'Custom', 'http://127.0.0.1/x', 'u', "
                   "'ref', 'now')", [ws.user.id])
        db.conn.executemany("INSERT INTO plan_contacts (plan_id, integration_id, "
                            "source_contact_id, name, linked_at) VALUES (?, 1, ?, 'c', 'now')",
                            [(plan.id, cid) for cid in sorted(data.contacts)])
    engine = PullEngine(ws.store, lambda i: None, user_name="bench")  # type: ignore[arg-type, return-value]
    rows = []
    for label in ("first pull (all new)", "second pull (all unchanged)"):
        run_id = claim_run(ws.store, plan.id, trigger="cli", user_name="bench")
        start = time.perf_counter()
        report = engine.apply(plan.id, fetches, [], run_id=run_id, dry_run=False,
                              started="now")
        elapsed = time.perf_counter() - start
        staged = len(report.new) + report.unchanged + len(report.changes)
        rows.append(Row(f"apply {total:,} fetched accounts", label, f"{elapsed:.2f} s",
                        f"{staged / elapsed:,.0f} rows/s"))
    return rows


# ------------------------------------------------------------------ Salesforce (issue 13)


@contextmanager
def salesforce_process(*args: str) -> Iterator[tuple[str, str]]:
    """The fake Salesforce in its own process: (login URL, client id), its first two lines."""
    proc = subprocess.Popen([sys.executable, "-m", "plantech_tui", "fake-salesforce",
                             "--auto-approve", *args], stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip(), proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _sf_pull_seconds(login_url: str, client_id: str, clients: list[str], in_flight: int
                     ) -> tuple[float, int]:
    from plantech_tui.service import connections
    from plantech_tui.service.workspace import Workspace
    from plantech_tui.sync.engine import PullEngine

    tmp = scratch_dir()
    ws = Workspace.open(tmp / "bench.db", "bench")
    plan = ws.create_plan("Bench", ["A B"])
    integration, _ = asyncio.run(connections.connect_integration(
        ws, partner="salesforce-fsc", login_url=login_url, client_id=client_id))
    for cid in clients:
        ws.link_contact(plan.id, integration.id, cid, f"Client {cid}")  # type: ignore[arg-type]
    engine = PullEngine(ws.store, connections.connection_for(ws, in_flight), user_name="bench")

    async def go() -> tuple[float, int]:
        async with engine:
            start = time.perf_counter()
            report = await engine.pull(plan.id)
            elapsed = time.perf_counter() - start
            assert report is not None and report.status == "ok", report
            return elapsed, engine.request_count

    return asyncio.run(go())


def bench_concurrency_salesforce() -> list[Row]:
    """The same pull as Redtail's row above, from the fake Salesforce: 10 clients × 30
    accounts at 50 ms. Its floor follows its request chain: the API versions, then the
    objects this user sees (which model), then three queries per client (accounts by primary
    owner, by joint owner, owner roles) at 8 in flight."""
    from plantech_tui.partners import registry

    fake = registry.fake("salesforce-fsc")
    latency = 0.050
    org = fake.generate_data(10, seed=7)
    clients = sorted(r["Id"] for r in org.rows["Account"].values() if r.get("IsPersonAccount"))
    os.environ["PLANTECH_CREDENTIALS"] = "file"
    with salesforce_process("--generate", "10", "--seed", "7", "--latency-ms", "50") as (
            login_url, client_id):
        fast = sorted(_sf_pull_seconds(login_url, client_id, clients, 8) for _ in range(5))[2]
        slow = sorted(_sf_pull_seconds(login_url, client_id, clients, 1) for _ in range(3))[1]
    queries = 3 * len(clients)
    floor = (2 + math.ceil(queries / 8)) * latency
    to_floor = fast[0] / floor
    name = "Salesforce pull 10×30 @50ms"
    return [
        Row(name, "8 in flight (default)", f"{fast[0]:.3f} s", f"{fast[1]} requests"),
        Row(name, "1 in flight (sequential)", f"{slow[0]:.3f} s"),
        Row(name, "floor (chain × latency)", f"{floor:.3f} s",
            f"versions, objects, then {queries} queries in waves of 8"),
        Row(name, "speed-up vs sequential", f"{slow[0] / fast[0]:.2f}×"),
        Row(name, "ratio to floor", f"{to_floor:.2f}×", "≤ 2× (as Redtail's)",
            verdict(to_floor <= 2)),
    ]


BENCHMARKS = [bench_concurrency, bench_concurrency_salesforce, bench_apply_100k]
