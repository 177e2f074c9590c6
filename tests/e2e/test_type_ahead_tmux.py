"""Type-ahead over a slow link, through the real terminal driver (tmux): each burst below is
ONE `send-keys -l` string, so the app reads the keys together, as over a laggy SSH session.

Before the key gate in PlantechApp.on_event these bursts deleted Gomez 401(k) (`/fidelity⏎`:
the `d` reached Investment Assets behind the filter, the `⏎` confirmed the Delete), ignored
the highlighted pending row (`2/Fidelity 4401⏎`: the `i` opened Ignore, the rest became its
reason), and left the Pending filter empty (`P/Vanguard`)."""

from __future__ import annotations

import getpass
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import need_tool
from tests.e2e.test_demo_tmux import Tmux

pytestmark = pytest.mark.e2e


def plan_show(db: Path) -> dict:
    """The demo's database as `plantech plan show --json` reads it (another process)."""
    try:
        user = getpass.getuser()
    except Exception:  # the demo's own fallback (plantech_tui.demo.advisor_name)
        user = "advisor"
    done = subprocess.run(
        [sys.executable, "-m", "plantech_tui", "plan", "show", "--json", "--db", str(db),
         "--user", user, "1"], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def names(rows: list[dict]) -> set[str]:
    return {row["description"] for row in rows}


def test_bursts_reach_the_screen_or_input_they_open(tmp_path: Path) -> None:
    """An advisor on a slow SSH link types ahead: `/fidelity⏎`, `2/Fidelity 4401⏎` and
    `P/Vanguard` each arrive as one burst. Nothing is deleted or ignored, and each filter
    holds the whole word typed."""
    need_tool("tmux")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    marker = tmp_path / "e2e-type-ahead.db"
    env = {**os.environ, "TMPDIR": str(tmpdir), "TERM": "xterm-256color", "LANG": "C.UTF-8",
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    for var in ("COLUMNS", "LINES"):
        env.pop(var, None)
    command = (f"{shlex.quote(sys.executable)} -m plantech_tui --db {shlex.quote(str(marker))} "
               "demo; echo EXIT=$?; sleep 600")
    script = tmp_path / "run-demo.sh"
    script.write_text(command + "\n")
    tmux = Tmux(tmp_path / "tmux.sock", "demo")
    subprocess.run([*tmux.base, "new-session", "-d", "-s", "demo", "-x", "120", "-y", "40",
                    f"sh {shlex.quote(str(script))}"], check=True, env=env)

    def burst(text: str) -> None:
        tmux.run("send-keys", "-t", "demo", "-l", text)

    try:
        tmux.wait_for("Welcome to the PlanTech demo", timeout=30)  # a first demo: the tour
        [db] = tmpdir.glob("plantech-demo-*/data/plantech-demo.db")
        tmux.keys("Escape")
        tmux.wait_for("Welcome to the PlanTech demo", gone=True)
        # to Plan Integration, one key at a time (the demo has Gomez linked and pulled from
        # Redtail, Wednesday from Salesforce)
        tmux.wait_for("Addams Family")
        tmux.keys("Enter")
        tmux.wait_for("Investment Assets")
        tmux.keys("m")
        tmux.wait_for("Plan Integration")
        tmux.keys("Down", "Enter")
        tmux.wait_for("Integration (2)")
        before = plan_show(db)
        assert "Gomez 401(k)" in names(before["accounts"])
        pending_before, ignored_before = names(before["pending"]), names(before["ignored"])
        assert pending_before, "the demo has pending rows to ignore by mistake"

        # burst 2, on Plan Integration: another tab first, then `2/Fidelity 4401⏎` at once
        tmux.keys("3")
        tmux.wait_for("No ignored accounts")
        burst("2/Fidelity 4401\r")
        screen = tmux.wait_for("/ Fidelity 4401")
        assert "Reason (optional)" not in screen, screen
        after = plan_show(db)
        assert names(after["ignored"]) == ignored_before, "a typed-ahead `i` ignored an account"
        assert names(after["pending"]) == pending_before
        tmux.keys("Escape")  # leave the filter line
        tmux.keys("Escape")  # back to Investment Assets
        tmux.wait_for("Plan Integration —", gone=True)
        tmux.wait_for("Investment Assets")

        # burst 1, on Investment Assets: `/fidelity⏎` filters, it never deletes
        burst("/fidelity\r")
        screen = tmux.wait_for("/ fidelity")
        assert "Delete Gomez 401(k)?" not in screen, screen
        assert "Gomez 401(k)" in names(plan_show(db)["accounts"]), "the burst deleted it"
        tmux.keys("/")  # enter went back to the rows: `/` and esc clear the filter
        tmux.keys("Escape")
        tmux.wait_for("/ fidelity", gone=True)
        tmux.wait_for("Investment Assets")

        # burst 3: `P` opens Pending Data, `/Vanguard` is its filter, whole
        burst("P/Vanguard")
        screen = tmux.wait_for("/ Vanguard")
        assert "Plan Integration" in screen, screen
        final = plan_show(db)
        assert "Gomez 401(k)" in names(final["accounts"])
        assert names(final["ignored"]) == ignored_before
        tmux.keys("C-q")
        tmux.wait_for("EXIT=0", timeout=20)
    finally:
        subprocess.run([*tmux.base, "kill-server"], capture_output=True)
