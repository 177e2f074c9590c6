"""Start-up: `plantech` on a prepared database to its first screen, in tmux, against a minimal
Textual app (one Label) measured in the same run.

Each run times `tmux new-session` (of a server already running) to the first `capture-pane`
that shows the app's first-screen text. The two commands alternate, so that a noisy
neighbour hurts both alike; the median of RUNS each is reported, and their ratio (goal ≤ 1.5×).
Where the time goes is shown by `python -X importtime` of the two entry modules.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import plantech_tui
from tests.bench.common import Row, scratch_dir, verdict

RUNS = 7
GOAL = 1.5
MINIMAL_TEXT = "Minimal app ready"
PLAN_NAME = "Startup Family"
MINIMAL_APP = f'''
from textual.app import App, ComposeResult
from textual.widgets import Label


class Minimal(App[None]):
    def compose(self) -> ComposeResult:
        yield Label("{MINIMAL_TEXT}")


Minimal().run()
'''


def _env(tmp: Path) -> dict[str, str]:
    home = tmp / "home"
    # PYTHONDONTWRITEBYTECODE is dropped: an installed plantech runs from compiled bytecode,
    # as textual in site-packages does, so neither side may pay for compiling its sources
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PLANTECH_")
           and k not in ("COLUMNS", "LINES", "TMUX", "PYTHONDONTWRITEBYTECODE")}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CONFIG_HOME=str(home / "config"), XDG_STATE_HOME=str(home / "state"),
               XDG_CACHE_HOME=str(home / "cache"), TERM="xterm-256color", LANG="C.UTF-8")
    return env


def prepare(tmp: Path, env: dict[str, str]) -> Path:
    """A database with a few plans and accounts, as an advisor's first morning."""
    db = tmp / "startup.db"
    code = (
        "import sys\n"
        "from plantech_tui.service.workspace import Workspace\n"
        "ws = Workspace.open(sys.argv[1], 'bench')\n"
        f"for name in ({PLAN_NAME!r}, 'Second Family', 'Third Family'):\n"
        "    plan = ws.create_plan(name, ['A Client', 'A Co-client'])\n"
        "    for i in range(5):\n"
        "        ws.add_account(plan.id, {'description': f'Account {i}', "
        "'investment_type': 'Cash', 'balance': '1000.00'})\n"
        "ws.close()\n")
    subprocess.run([sys.executable, "-c", code, str(db)], env=env, check=True, timeout=60)
    return db


def plantech_command(db: Path) -> str:
    script = Path(sys.executable).with_name("plantech")
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "plantech_tui"]
    return shlex.join([*argv, "--db", str(db), "--user", "bench"])


class Tmux:
    def __init__(self, socket: Path, env: dict[str, str]) -> None:
        self.base = ["tmux", "-S", str(socket)]
        self.env = env

    def __call__(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], capture_output=True, text=True,
                              env=self.env, timeout=30).stdout

    def time_to_text(self, name: str, command: str, text: str, timeout: float = 30) -> float:
        """Seconds from `new-session` to the first capture showing `text`."""
        start = time.perf_counter()
        subprocess.run([*self.base, "new-session", "-d", "-s", name, "-x", "120", "-y", "40",
                        command], check=True, env=self.env, timeout=30)
        try:
            while True:
                if text in self("capture-pane", "-p", "-t", name):
                    return time.perf_counter() - start
                if time.perf_counter() - start > timeout:
                    raise RuntimeError(f"{text!r} never showed for {command}:\n"
                                       + self("capture-pane", "-p", "-t", name))
        finally:
            self("kill-session", "-t", name)


def startup_times(runs: int = RUNS) -> tuple[list[float], list[float]]:
    """(plantech seconds, minimal-app seconds), RUNS each, alternating."""
    if shutil.which("tmux") is None:
        raise RuntimeError("tmux is not installed")
    tmp = scratch_dir()
    env = _env(tmp)
    db = prepare(tmp, env)
    # bytecode for every plantech module, not only those the warm-up happens to import
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(plantech_tui.__file__).parent)],
                   check=True, env=env, timeout=120, stdout=subprocess.DEVNULL)
    minimal = tmp / "minimal_app.py"
    minimal.write_text(MINIMAL_APP)
    tmux = Tmux(tmp / "tmux.sock", env)
    # the server is started once, outside the timings, by a session that just waits
    subprocess.run([*tmux.base, "new-session", "-d", "-s", "keep", "sleep 3600"], check=True,
                   env=env, timeout=30)
    plantech, baseline = [], []
    try:
        # one warm-up each: the first run pays for cold file caches and .pyc writes
        tmux.time_to_text("warm-p", plantech_command(db), PLAN_NAME)
        tmux.time_to_text("warm-m", shlex.join([sys.executable, str(minimal)]), MINIMAL_TEXT)
        for i in range(runs):
            plantech.append(tmux.time_to_text(f"p{i}", plantech_command(db), PLAN_NAME))
            baseline.append(tmux.time_to_text(
                f"m{i}", shlex.join([sys.executable, str(minimal)]), MINIMAL_TEXT))
    finally:
        tmux("kill-server")
        shutil.rmtree(tmp, ignore_errors=True)
    return plantech, baseline


def import_tree(module: str) -> tuple[float, dict[str, float]]:
    """One `python -X importtime -c "import MODULE"`: the module's cumulative import time (ms)
    and, per third-party (not stdlib) package, the time spent importing it where plantech code first
    imports it (ms; nested third-party imports are counted under the first one)."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                         capture_output=True, text=True, check=True, timeout=60).stderr
    # lines come children first: "import time: SELF | CUMULATIVE | <2 spaces per depth>NAME"
    stack: list[tuple[int, str, float, list[object]]] = []
    for match in re.finditer(r"import time:\s+\d+ \|\s+(\d+) \| ( *)(\S+)", err):
        us, indent, name = match.groups()
        depth = len(indent) // 2
        children: list[object] = []
        while stack and stack[-1][0] == depth + 1:
            children.insert(0, stack.pop())
        stack.append((depth, name, int(us) / 1000, children))
    root = next(node for node in stack if node[1] == module)
    by_package: dict[str, float] = {}

    def walk(node: tuple[int, str, float, list[object]]) -> None:
        _depth, name, ms, children = node
        top = name.split(".")[0]
        if top != "plantech_tui":
            if top not in sys.stdlib_module_names:
                by_package[top] = by_package.get(top, 0.0) + ms
            return
        for child in children:
            walk(child)  # type: ignore[arg-type]

    walk(root)
    return root[2], by_package


def import_ms(module: str, repeat: int = 5) -> tuple[float, list[tuple[str, float]]]:
    """Median cumulative import time of `module` (ms) and its five heaviest packages."""
    runs = [import_tree(module) for _ in range(repeat)]
    total = statistics.median(r[0] for r in runs)
    packages = {name for _t, found in runs for name in found}
    heavy = {n: statistics.median(found.get(n, 0.0) for _t, found in runs) for n in packages}
    return total, sorted(heavy.items(), key=lambda kv: -kv[1])[:5]


def bench_startup() -> list[Row]:
    plantech, baseline = startup_times()
    p, m = statistics.median(plantech), statistics.median(baseline)
    ratio = p / m
    name = "start-up to first screen (tmux)"
    rows = [
        Row(name, "minimal Textual app (one Label)", f"{m:.2f} s",
            f"median of {RUNS}; range {min(baseline):.2f}–{max(baseline):.2f} s"),
        Row(name, "plantech, Plans on a prepared db", f"{p:.2f} s",
            f"median of {RUNS}; range {min(plantech):.2f}–{max(plantech):.2f} s"),
        Row(name, "ratio plantech / minimal", f"{ratio:.2f}×", f"≤ {GOAL}×",
            verdict(ratio <= GOAL)),
    ]
    for module in ("plantech_tui.cli", "plantech_tui.app"):
        total, top = import_ms(module)
        heaviest = ", ".join(f"{n} {ms:.0f} ms" for n, ms in top) or "none (stdlib only)"
        rows.append(Row(name, f"import {module}", f"{total:.0f} ms",
                        f"third-party, as first imported: {heaviest}"))
    return rows


BENCHMARKS = [bench_startup]


if __name__ == "__main__":
    from tests.bench.__main__ import table

    print(table(bench_startup()))
