"""Keys while a big pull applies (issue 11): the TUI open on the Plans screen (30 plans),
Refresh Integrations of a plan whose contacts list 100k accounts, and the cursor moved down and
up the list, each key after the last one's repaint, for as long as the pull's apply step runs. Measured three ways in one run:

- idle: the same keys with no pull (the baseline);
- during the apply, as the product runs it (on a worker thread with its own connection);
- the apply run on the UI event loop, as before issue 11 (the engine's `to_thread` replaced by
  a direct call): no key is answered until it ends, so its length is the slowest key.

The partner is an in-memory connection serving prebuilt accounts (the network is not what is
measured; `bench_pull` measures that). Each mode runs in its own process, from bytecode, like
`bench_tui` (whose `Frames` and `press` time key → displayed frame without Pilot's waits).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.bench.common import Row, scratch_dir, verdict

CONTACTS, PER_CONTACT = 3334, 30  # 100,020 accounts
PLANS = 30


def build_db(db: Path) -> int:
    """A plan linked to CONTACTS contacts of one integration; returns the plan id."""
    from plantech_tui.service.workspace import Workspace

    ws = Workspace.open(db, "advisor")
    plan = ws.create_plan("Big book", ["Gomez Addams"])
    for n in range(1, PLANS):  # the advisor's other plans: the list the keys move through
        ws.create_plan(f"Plan {n:02d}", [f"Client {n:02d}"])
    with ws.store.write() as dbw:
        dbw.execute("INSERT INTO integrations (owner_user_id, environment, base_url, username, "
                    "secret_ref, created_at) VALUES (?, 'Custom', 'http://127.0.0.1/x', 'u', "
                    "'ref', 'now')", [ws.user.id])
        dbw.conn.executemany(
            "INSERT INTO plan_contacts (plan_id, integration_id, source_contact_id, name, "
            "linked_at) VALUES (?, 1, ?, 'c', 'now')",
            [(plan.id, str(1000 + c)) for c in range(CONTACTS)])
    ws.close()
    return plan.id


def connection_for() -> Any:
    """An in-memory partner connection answering every contact with its 30 accounts."""
    from plantech_tui.partners.base import AccountListing, PartnerConnection, SourceContact
    from plantech_tui.partners.redtail.fake import generate_data
    from plantech_tui.partners.redtail.models import RedtailAccount
    from plantech_tui.partners.redtail.partner import builtin_mapping, source_accounts

    data = generate_data(CONTACTS, seed=11, accounts_per_contact=PER_CONTACT)
    types = {t["id"]: t["name"] for t in data.account_types}
    tqs = {t["id"]: t["name"] for t in data.tax_qualified_types}
    listings: dict[str, AccountListing] = {}
    for n, cid in enumerate(sorted(data.contacts)):
        accounts = [RedtailAccount.model_validate(a.to_api(cid)) for a in data.accounts_of(cid)]
        listings[str(1000 + n)] = AccountListing(source_accounts(
            accounts, builtin_mapping(), types, tqs))

    class Memory(PartnerConnection):
        label = "Memory"

        @property
        def request_count(self) -> int:
            return 0

        async def search_contacts(self, criteria: Mapping[str, str], *, limit: int = 200
                                  ) -> tuple[list[SourceContact], bool]:
            return [], False

        async def contact(self, contact_id: str) -> SourceContact:
            return SourceContact(contact_id, "c")

        async def household(self, contact_id: str) -> Any:
            raise NotImplementedError

        async def accounts(self, contact_id: str) -> AccountListing:
            return listings[contact_id]

    connection = Memory()
    return lambda integration: connection


async def measure(db: Path, mode: str) -> dict[str, Any]:
    from plantech_tui.app import PlantechApp
    from plantech_tui.screens.plans import PlansScreen
    from plantech_tui.sync import engine as engine_mod
    from plantech_tui.widgets.record_table import RecordTable
    from tests.bench.bench_tui import Frames, peak_mb, press
    from tests.pilot.helpers import settle

    applying = {"start": 0.0, "end": 0.0}
    apply = engine_mod.PullEngine.apply

    def timed_apply(self: Any, *args: Any, **kwargs: Any) -> Any:
        applying["start"] = time.perf_counter()
        try:
            return apply(self, *args, **kwargs)
        finally:
            applying["end"] = time.perf_counter()

    engine_mod.PullEngine.apply = timed_apply  # type: ignore[method-assign]
    if mode == "loop":  # before issue 11: the apply awaited on the UI loop itself
        async def direct(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            return fn(*args, **kwargs)

        engine_mod.asyncio.to_thread = direct  # type: ignore[attr-defined]

    connections = connection_for()
    # the in-memory partner's 100k records are the fixture, not the app: out of the cycle
    # collector's sight, as a real partner's would be (in its own process)
    import gc

    gc.collect()
    gc.freeze()
    out: dict[str, Any] = {"times": []}
    app = PlantechApp(db, "advisor", connection_for=connections)
    async with app.run_test(size=(120, 40)) as pilot:
        frames = Frames(app)
        await settle(pilot)

        table = app.screen.query_one(RecordTable)

        async def one_round() -> None:
            """The cursor down the plans list and back up, each key timed to the frame that
            shows the cursor moved (a key pressed once the apply had ended is not counted:
            what follows a pull is measured elsewhere)."""
            for key in ["down"] * (PLANS - 1) + ["up"] * (PLANS - 1):
                row = table.cursor_row + (1 if key == "down" else -1)
                start = press(app, key, None)
                took = await frames.until(  # or the report screen came first
                    lambda row=row: table.cursor_row == row
                    or not isinstance(app.screen, PlansScreen)) - start
                if mode == "idle" or not applying["end"]:
                    out["times"].append(took)
                elif mode != "idle":
                    return

        if mode == "idle":
            assert isinstance(app.screen, PlansScreen)
            for _ in range(2):
                await one_round()
        else:
            plan_id = 1
            assert app.start_refresh(plan_id)
            while not applying["start"]:
                await asyncio.sleep(0.001)
            while not applying["end"]:
                await one_round()
            out["apply_s"] = applying["end"] - applying["start"]
            while app.pulls:  # the report screen follows; let the pull finish cleanly
                await asyncio.sleep(0.01)
    out["peak_mb"] = peak_mb()
    return out


def _in_process(mode: str, db: Path) -> dict[str, Any]:
    import subprocess

    from tests.bench.bench_tui import _env

    proc = subprocess.run([sys.executable, "-m", "tests.bench.bench_pull_keys", mode, str(db)],
                          capture_output=True, text=True, timeout=1200, env=_env())
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def bench_keys_during_apply() -> list[Row]:
    from tests.bench.bench_tui import _compile

    tmp = scratch_dir()
    _compile()
    results = {}
    for mode in ("idle", "thread", "loop"):
        db = tmp / f"keys-{mode}.db"  # each mode applies to a fresh plan (all new accounts)
        build_db(db)
        results[mode] = _in_process(mode, db)
    idle, ours, before = results["idle"], results["thread"], results["loop"]
    label = f"keys during a pull applying {CONTACTS * PER_CONTACT:,} accounts"

    def ms(xs: list[float], f: Any) -> str:
        return f"{f(xs) * 1000:.0f} ms"

    worst = max(ours["times"])
    return [
        Row(label, "pull's apply step (same run)", f"{ours['apply_s']:.2f} s",
            f"{len(ours['times'])} keys pressed during it"),
        Row(label, "key → repaint, slowest", ms(ours["times"], max), "< 100 ms",
            verdict(worst < 0.1)),
        Row(label, "key → repaint, median", ms(ours["times"], statistics.median),
            f"idle: median {ms(idle['times'], statistics.median)}, "
            f"slowest {ms(idle['times'], max)}"),
        Row(label, "… apply on the UI loop (before issue 11)", f"{before['apply_s']:.2f} s",
            "the loop answers no key for the whole apply: a key pressed as it starts waits "
            "that long"),
    ]


BENCHMARKS = [bench_keys_during_apply]

if __name__ == "__main__":
    what, path = sys.argv[1], Path(sys.argv[2])
    print(json.dumps(asyncio.run(measure(path, what))))
