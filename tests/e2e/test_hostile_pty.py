"""Issue 10 item 4 in a real terminal: the bytes the TUI writes to a pty hold no escape
sequence that came from data (Redtail's company names, a plan named by a user)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from plantech_tui.partners.redtail.fake import (
    DEMO_API_KEY,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    FakeRedtailServer,
)
from plantech_tui.partners.redtail.fake.hostile import hostile_data
from plantech_tui.service import connections, pulls
from plantech_tui.service.workspace import Workspace
from tests.e2e.pty_terminal import Terminal

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PLAN_NAME = "Evil\x1b]0;pwned\x07 \u202eplan"  # typed by a user: stored as is, shown defused


async def _prepare(db: Path, server: FakeRedtailServer) -> None:
    ws = Workspace.open(db, "advisor")
    try:
        integ, _ = await connections.connect_integration(
            ws, base_url=server.base_url, username=DEMO_USERNAME, password=DEMO_PASSWORD,
            api_key=DEMO_API_KEY)
        plan = ws.create_plan(PLAN_NAME, ["Gomez Addams"])
        await connections.link_contacts_async(ws, plan.id, integ.id, [101, 102])
        await pulls.refresh_async(ws, plan.id)
        for staged in ws.plan_detail(plan.id).pending:
            if staged.redtail_account_id in (5001, 5002, 5003):  # OSC 52, CSI, 8-bit C1
                ws.add_to_plan(plan.id, staged.id)
    finally:
        ws.close()


def test_item4_the_tui_writes_no_escape_from_data_to_the_terminal(tmp_path: Path) -> None:
    """Adversary: a hostile Redtail whose companies hold an OSC 52 clipboard write, a CSI
    clear screen and 8-bit C1 controls, and a user who names a plan with an OSC 0 title
    sequence and a bidi override; the advisor opens the TUI in a terminal."""
    db = tmp_path / "plantech.db"
    with FakeRedtailServer(hostile_data()) as server:
        asyncio.run(_prepare(db, server))
    env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor",
           "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    pty = Terminal([sys.executable, "-m", "plantech_tui.cli", "--db", str(db), "--user",
                    "advisor"], env, rows=50, cols=220, cwd=REPO)
    try:
        pty.read_until(b"]0;pwned")  # the plan list
        pty.send(b"\r")  # open the plan: its accounts
        pty.read_until(b"ZWNobyBwd25lZA==")
        pty.read_until(b"Schwab")
    finally:
        pty.close()
    out = pty.output
    assert b"Fidelity ]52;c;ZWNobyBwd25lZA==" in out  # shown, defused
    assert b"Charles [2J [H Schwab" in out
    assert b"\x1b]52;" not in out  # no clipboard write
    assert b"\x1b]0;pwned" not in out  # no window title from data
    assert b"\x1b[2J\x1b[H Schwab" not in out and b"Charles\x1b[2J" not in out
    text = out.decode("utf-8", errors="replace")
    assert "\u202e" not in text and "\x9b" not in text and "\x9d" not in text
