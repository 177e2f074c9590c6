"""`plantech demo` ended from outside (issue 12, point 9): `kill` (SIGTERM) or a closed terminal
(SIGHUP) leaves no database or credential file behind, and SIGTERM gives the terminal back."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import need_tool
from tests.e2e.procs import alive
from tests.e2e.test_demo_tmux import Tmux

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def wait_until(holds: object, what: str, timeout: float = 30.0) -> None:
    """Poll a condition with a deadline (not a sleep as synchronisation)."""
    deadline = time.monotonic() + timeout
    while not holds():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


def start_demo(tmp_path: Path) -> tuple[Tmux, Path, int]:
    """The demo in a tmux window of its own (window 1; window 0 keeps the server alive when
    the demo's pane is killed). Returns the tmux, the demo's temp dir and its pid."""
    need_tool("tmux")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir), "TERM": "xterm-256color", "LANG": "C.UTF-8",
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    for var in ("COLUMNS", "LINES"):
        env.pop(var, None)
    script = tmp_path / "run-demo.sh"
    script.write_text(f"cd {shlex.quote(str(REPO))} && exec {shlex.quote(sys.executable)} "
                      "-m plantech_tui demo --tour\n")
    tmux = Tmux(tmp_path / "tmux.sock", "demo:1")
    subprocess.run([*tmux.base, "new-session", "-d", "-s", "demo", "-x", "120", "-y", "40",
                    "sleep 600"], check=True, env=env)
    tmux.run("new-window", "-t", "demo:1", f"sh {shlex.quote(str(script))}")
    tmux.wait_for("Welcome to the PlanTech demo", timeout=30)
    pid = int(tmux.run("display", "-p", "-t", "demo:1", "#{pane_pid}").strip())  # exec'd
    dirs = list(tmpdir.iterdir())
    assert len(dirs) == 1 and (dirs[0] / "data" / "plantech-demo.db").is_file(), dirs
    return tmux, dirs[0], pid


def test_sigterm_removes_the_temp_dir_and_restores_the_terminal(tmp_path: Path) -> None:
    """An operator's `kill PID` on a running demo: the database and the credential file go
    with the temp dir, and the terminal is left as it was (no alternate screen, no mouse
    reporting), not a screen that eats every click."""
    tmux, root, pid = start_demo(tmp_path)
    try:
        modes = tmux.run("display", "-p", "-t", "demo:1", "#{alternate_on} #{mouse_any_flag}")
        assert modes.split() == ["1", "1"]  # the app is full screen with the mouse on
        tmux.run("set-option", "-t", "demo:1", "remain-on-exit", "on")
        os.kill(pid, 15)
        wait_until(lambda: not alive(pid), "the demo exits on SIGTERM")
        assert not root.exists(), "SIGTERM left the demo's database and credentials behind"
        # tmux may read the app's last bytes (the restoring sequences) after it has exited
        wait_until(lambda: tmux.run("display", "-p", "-t", "demo:1",
                                    "#{alternate_on} #{mouse_any_flag}").split() == ["0", "0"],
                   "the terminal is given back (no alternate screen, no mouse reporting)")
    finally:
        subprocess.run([*tmux.base, "kill-server"], capture_output=True)


def test_closing_the_terminal_removes_the_temp_dir(tmp_path: Path) -> None:
    """A presenter closing the terminal window (the pane is killed: SIGHUP): nothing of the
    demo stays on disk or running."""
    tmux, root, pid = start_demo(tmp_path)
    try:
        tmux.run("kill-pane", "-t", "demo:1")
        wait_until(lambda: not alive(pid), "the demo exits on SIGHUP")
        assert not root.exists(), "SIGHUP left the demo's database and credentials behind"
    finally:
        subprocess.run([*tmux.base, "kill-server"], capture_output=True)
