"""`plantech demo` in a real terminal (tmux): the tour, open the plan, link a contact from each
partner (Redtail and Salesforce), refresh both, see the new pending rows, ignore one, quit —
and nothing is left running or on disk (SPEC §10, issue 13)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import need_tool

pytestmark = pytest.mark.e2e


class Tmux:
    def __init__(self, socket: Path, session: str) -> None:
        self.base = ["tmux", "-S", str(socket)]
        self.session = session

    def run(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], check=True, capture_output=True,
                              text=True).stdout

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.session, *keys)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session)

    def wait_for(self, text: str, timeout: float = 20.0, *, gone: bool = False) -> str:
        """Poll the screen until `text` shows (or, with gone, no longer shows): a condition
        with a deadline, not a sleep."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if (text in screen) != gone:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never showed; the screen was:\n{screen}")
            time.sleep(0.1)


def test_demo_link_refresh_ignore_quit(tmp_path: Path) -> None:
    """A presenter's first demo: the tour, then the article's steps on a plan where Gomez
    (Redtail) and Wednesday (Salesforce) are linked already: link Morticia from Redtail and
    Pugsley from Salesforce, refresh (their 4 + 2 accounts are new, from both CRMs in one
    pull), ignore one, quit; nothing is left running or on disk."""
    need_tool("tmux")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    marker = tmp_path / "e2e-marker.db"  # makes this demo's command line unique for pgrep
    env = {**os.environ, "TMPDIR": str(tmpdir), "TERM": "xterm-256color", "LANG": "C.UTF-8",
           "XDG_CONFIG_HOME": str(tmp_path / "config")}  # a first demo: the tour opens
    for var in ("COLUMNS", "LINES"):  # Textual would take these over the real terminal size
        env.pop(var, None)
    command = (f"{shlex.quote(sys.executable)} -m plantech_tui --db {shlex.quote(str(marker))} "
               "demo; echo EXIT=$?; sleep 600")
    script = tmp_path / "run-demo.sh"  # keeps the marker out of the shell's own command line
    script.write_text(command + "\n")
    tmux = Tmux(tmp_path / "tmux.sock", "demo")
    subprocess.run([*tmux.base, "new-session", "-d", "-s", "demo", "-x", "120", "-y", "40",
                    f"sh {shlex.quote(str(script))}"], check=True, env=env)
    try:
        tmux.wait_for("Welcome to the PlanTech demo", timeout=30)
        tmux.keys("Escape")
        tmux.wait_for("Welcome to the PlanTech demo", gone=True)
        assert (tmp_path / "config" / "plantech" / "demo-tour-seen").is_file()
        tmux.wait_for("Addams Family")
        tmux.keys("Enter")
        tmux.wait_for("Investment Assets")
        tmux.keys("m")
        tmux.wait_for("Plan Integration")
        tmux.keys("Down", "Enter")
        linked = tmux.wait_for("Integration (2)")
        assert "Gomez Addams" in linked and "Wednesday Addams" in linked, linked
        assert "Pending Data (7)" in linked, linked
        # Morticia, from Redtail (the first integration)
        tmux.keys("n")
        tmux.wait_for("Search criteria")
        tmux.keys("Addams", "Enter")
        tmux.wait_for("Gomez Addams (Redtail 101) — already linked")
        tmux.wait_for("Morticia Addams (Redtail 102)")
        # the cursor starts on Morticia (Gomez, already linked, cannot be selected)
        tmux.keys("Space")
        tmux.wait_for("✓▌ Morticia Addams")
        tmux.keys("C-s")
        tmux.wait_for("Integration (3)")
        # Pugsley, from Salesforce: the search's integration chooser, then his name
        tmux.keys("n")
        tmux.wait_for("Search criteria")
        tmux.keys("BTab")  # from the name field back to the Integration chooser
        tmux.keys("Enter")
        tmux.wait_for("advisor@munster.example")  # the Salesforce integration, listed
        tmux.keys("Down", "Enter")
        tmux.wait_for("Matching Salesforce contacts")
        tmux.keys("Tab", "Pugsley", "Enter")
        tmux.wait_for("Pugsley Addams (Salesforce")
        tmux.keys("Space")
        tmux.wait_for("✓▌ Pugsley Addams")
        tmux.keys("C-s")
        tmux.wait_for("Integration (4)")
        tmux.keys("r")
        tmux.wait_for("Refresh Integrations — Addams Family")
        # the report's body (its last section): the title may paint a frame before it
        report = tmux.wait_for("Errors (0): none")
        assert "6 new" in report, report
        assert "Jackson National 2207" in report and "Redtail type" in report, report
        assert "Dynamite 529 Plan 1010" in report and "Salesforce type" in report, report
        tmux.keys("Escape")
        tmux.wait_for("Refresh Integrations — Addams Family", gone=True)
        tmux.wait_for("Pending Data (13)")
        tmux.keys("2")
        pending = tmux.wait_for("Vanguard 0045")
        assert "$412,337.19" in pending
        tmux.keys("i")
        tmux.wait_for("Reason (optional)")
        tmux.keys("Enter")
        tmux.wait_for("Reason (optional)", gone=True)
        tmux.wait_for("Ignored Data (1)")
        tmux.wait_for("Pending Data (12)")  # both tab counts (each may take its own frame)
        tmux.keys("C-q")
        tmux.wait_for("EXIT=0", timeout=20)
        left = subprocess.run(["pgrep", "-f", f"{marker} demo"], capture_output=True, text=True)
        assert left.stdout.strip() == "", "the demo left a process behind"
        assert list(tmpdir.iterdir()) == [], "the demo left its temporary directory behind"
    finally:
        subprocess.run([*tmux.base, "kill-server"], capture_output=True)
