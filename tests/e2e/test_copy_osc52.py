"""Issue 12 point 5 through a real terminal: `y` on Investment Assets writes the OSC 52
sequence `ESC ] 52 ; c ; <base64> BEL` — what lets a terminal, even over SSH, put the copied
CSV on the user's clipboard. The app runs in a pseudo-terminal (Python's pty) and the test
reads the raw bytes it writes."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import sys
from pathlib import Path

from plantech_tui.service.workspace import Workspace
from tests.e2e.pty_terminal import Terminal
from tests.pilot.helpers import fake_redtail, prepare_plan, staged_id

OSC52 = re.compile(rb"\x1b\]52;c;([A-Za-z0-9+/=]*)\x07")


def test_y_writes_the_copied_csv_as_osc52(tmp_path: Path) -> None:
    """An advisor working over SSH presses y on "Gomez 401(k)": the terminal receives OSC 52
    whose base64 payload decodes to the row as CSV (description, last 4, balance, Redtail
    account id), so the terminal's clipboard gets exactly what the pilot tests check."""
    db = tmp_path / "plantech.db"
    with fake_redtail() as srv:
        ids = asyncio.run(prepare_plan(db, srv))  # pulled today: opening it does not pull
    ws = Workspace.open(db, "advisor")
    ws.link_to_existing(ids["plan_id"], staged_id(ws, ids["plan_id"], 5001), ids["manual_id"])
    ws.close()
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update(TERM="xterm-256color", LANG="C.UTF-8", HOME=str(home),
               XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"),
               XDG_STATE_HOME=str(home / "state"), XDG_CACHE_HOME=str(home / "cache"))
    term = Terminal([sys.executable, "-m", "plantech_tui", "--db", str(db), "--user",
                     "advisor"], env)
    try:
        term.read_until(b"Addams Family")
        mark = term.send(b"\r")
        term.read_until(b"Gomez 401(k)", since=mark)
        assert not OSC52.search(term.output), "copied before y was pressed"
        mark = term.send(b"y")
        found = term.read_until(OSC52, since=mark)
        assert isinstance(found, re.Match)
        copied = base64.b64decode(found.group(1)).decode("utf-8")
        assert copied == (
            "description,last4,balance,investment_type,owner,link,redtail_account_id\n"
            "Gomez 401(k),4401,250000.00,401(k),Client,active,5001\n")
        term.read_until(b"Copied 1 row", since=mark)
    finally:
        term.close()
