"""Triage at 100k rows (issue 5): the windowed Pending pane beside Textual's DataTable.

Each measurement runs in its own process (`python -m tests.bench.bench_tui WHAT DB`), headless
through `App.run_test`, timed from the key that opens the pane to the first frame showing its
first row (the screen's compositor text is read after each `pilot.pause()`, i.e. after a
refresh). The DataTable baseline is the fairest use of it: all rows in one `add_rows` call.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.bench.common import Row, scratch_dir, verdict

N = 100_000


def peak_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: ru_maxrss survives execve,
    so a child started by a big parent would report the parent's peak."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
FIRST_ROW = "Fidelity 0000"  # make_big_plan's row 0


async def _wait_text(pilot: Any, app: Any, text: str, timeout: float = 120.0) -> None:
    from tests.pilot.helpers import screen_text

    deadline = time.perf_counter() + timeout
    while text not in screen_text(app):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{text!r} never painted")
        await pilot.pause()


async def measure_plantech(db: Path) -> dict[str, Any]:
    from plantech_tui.app import PlantechApp
    from plantech_tui.widgets.record_table import RecordTable
    from tests.pilot.helpers import settle

    out: dict[str, Any] = {}
    app = PlantechApp(db, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        start = time.perf_counter()
        await pilot.press("P")
        await _wait_text(pilot, app, FIRST_ROW)
        out["first_paint"] = time.perf_counter() - start
        table = app.screen.query_one("#pending-table", RecordTable)
        await pilot.press("slash")
        await pilot.pause()
        times = []
        typed = ""
        for ch in "fidelity":
            typed += ch
            start = time.perf_counter()
            await pilot.press(ch)
            deadline = start + 30
            while table.filter_text != typed and time.perf_counter() < deadline:
                await pilot.pause()
            await pilot.pause()  # the frame that shows the filtered rows
            times.append(time.perf_counter() - start)
        out["filter_median"] = statistics.median(times)
        out["filtered_rows"] = table.row_count
    out["peak_mb"] = peak_mb()
    return out


async def measure_datatable(db: Path) -> dict[str, Any]:
    """Textual's DataTable holding the same 100k pending rows, all added in one add_rows."""
    import sqlite3

    from textual.app import App, ComposeResult
    from textual.widgets import DataTable, Static

    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT description, balance, default_investment_type, account_type "
                        "FROM staged_accounts WHERE state = 'pending' ORDER BY id").fetchall()
    conn.close()

    class Baseline(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("press P")

        def key_p(self) -> None:
            table: DataTable[Any] = DataTable()
            table.add_columns("Description", "Balance", "Default type", "Redtail type")
            self.mount(table)
            table.add_rows([(d, b or "unknown", t, a) for d, b, t, a in rows])

    out: dict[str, Any] = {}
    app = Baseline()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        start = time.perf_counter()
        await pilot.press("p")
        await _wait_text(pilot, app, FIRST_ROW, timeout=300)
        out["first_paint"] = time.perf_counter() - start
    out["peak_mb"] = peak_mb()
    return out


def _bulk_ignore(db: Path) -> tuple[float, float]:
    """The operation behind `*`/marks + `i` on 10,000 rows: one set-based transaction."""
    from plantech_tui.service.workspace import Workspace

    ws = Workspace.open(db, "advisor")
    plan_id = int(ws.store.conn.execute("SELECT id FROM plans").fetchone()[0])
    staged = [int(r[0]) for r in ws.store.conn.execute(
        "SELECT id FROM staged_accounts WHERE state = 'pending' ORDER BY id LIMIT 10000")]
    start = time.perf_counter()
    ws.ignore(plan_id, staged)
    elapsed = time.perf_counter() - start
    start = time.perf_counter()
    ws.undo()
    return elapsed, time.perf_counter() - start


def _in_process(what: str, db: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "tests.bench.bench_tui", what, str(db)],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_pending_100k() -> list[Row]:
    from tests.helpers import make_big_plan

    db = scratch_dir() / "big.db"
    make_big_plan(db, N)
    ours = [_in_process("plantech", db) for _ in range(3)]
    base = _in_process("datatable", db)
    first = statistics.median(o["first_paint"] for o in ours)
    filt = statistics.median(o["filter_median"] for o in ours)
    peak = max(o["peak_mb"] for o in ours)
    ignore, undo = _bulk_ignore(db)
    label = "pending pane, 100k rows"
    return [
        Row(label, "first paint (key → first row)", f"{first:.3f} s", "< 0.3 s",
            verdict(first < 0.3)),
        Row(label, "DataTable baseline (one add_rows)", f"{base['first_paint']:.2f} s",
            f"peak {base['peak_mb']:.0f} MB"),
        Row(label, "first paint speed-up vs DataTable", f"{base['first_paint'] / first:.0f}×",
            "≥ 20×", verdict(base["first_paint"] / first >= 20)),
        Row(label, "filter keystroke → repaint (median)", f"{filt * 1000:.0f} ms", "< 50 ms",
            verdict(filt < 0.05)),
        Row(label, "bulk ignore of 10k marked rows", f"{ignore:.2f} s", "< 1 s",
            verdict(ignore < 1)),
        Row(label, "undo of that bulk ignore", f"{undo:.2f} s"),
        Row(label, "peak memory (app process)", f"{peak:.0f} MB", "< 150 MB", verdict(peak < 150)),
    ]


BENCHMARKS = [bench_pending_100k]


if __name__ == "__main__":
    what, db_arg = sys.argv[1], Path(sys.argv[2])
    fn = measure_plantech if what == "plantech" else measure_datatable
    print(json.dumps(asyncio.run(fn(db_arg))))
