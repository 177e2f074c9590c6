"""Issue 10 item 4 in a real terminal: the bytes the TUI writes to a pty hold no escape
sequence that came from data (Redtail's company names, a plan named by a user)."""

from __future__ import annotations

import asyncio
import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from plantech_tui.service.workspace import Workspace
from plantech_tui.sync import actions
from plantech_tui.sync.fake import DEMO_API_KEY, DEMO_PASSWORD, DEMO_USERNAME, FakeRedtailServer
from plantech_tui.sync.fake.hostile import hostile_data

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PLAN_NAME = "Evil\x1b]0;pwned\x07 \u202eplan"  # typed by a user: stored as is, shown defused


async def _prepare(db: Path, server: FakeRedtailServer) -> None:
    ws = Workspace.open(db, "advisor")
    try:
        integ, _ = await actions.connect_integration(
            ws, base_url=server.base_url, username=DEMO_USERNAME, password=DEMO_PASSWORD,
            api_key=DEMO_API_KEY)
        plan = ws.create_plan(PLAN_NAME, ["Gomez Addams"])
        await actions.link_contacts_async(ws, plan.id, integ.id, [101, 102])
        await actions.refresh_async(ws, plan.id)
        for staged in ws.plan_detail(plan.id).pending:
            if staged.redtail_account_id in (5001, 5002, 5003):  # OSC 52, CSI, 8-bit C1
                ws.add_to_plan(plan.id, staged.id)
    finally:
        ws.close()


class Pty:
    """The TUI on a pseudo-terminal: every byte it writes is kept."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 220, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True, cwd=REPO)
        os.close(slave)
        self.out = bytearray()

    def read_until(self, needle: bytes, timeout: float = 30.0) -> None:
        """Read what the app writes until `needle` shows: a deadline, not a sleep."""
        deadline = time.monotonic() + timeout
        while needle not in self.out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{needle!r} never showed; the end of the output was:\n"
                                     f"{bytes(self.out[-3000:])!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the app exited: the pty is closed
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"the app exited before {needle!r}: "
                                         f"{bytes(self.out[-3000:])!r}")
                self.out += chunk

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self, timeout: float = 30.0) -> None:
        """Read on until the app exits (a full pty would block its last writes)."""
        deadline = time.monotonic() + timeout
        try:
            while self.proc.poll() is None and time.monotonic() < deadline:
                ready, _, _ = select.select([self.master], [], [], 0.2)
                if ready:
                    try:
                        chunk = os.read(self.master, 65536)
                    except OSError:
                        chunk = b""
                    if not chunk:
                        break
                    self.out += chunk
            self.proc.wait(timeout=max(deadline - time.monotonic(), 1))
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            os.close(self.master)


def test_item4_the_tui_writes_no_escape_from_data_to_the_terminal(tmp_path: Path) -> None:
    """Adversary: a hostile Redtail whose companies hold an OSC 52 clipboard write, a CSI
    clear screen and 8-bit C1 controls, and a user who names a plan with an OSC 0 title
    sequence and a bidi override; the advisor opens the TUI in a terminal."""
    db = tmp_path / "plantech.db"
    with FakeRedtailServer(hostile_data()) as server:
        asyncio.run(_prepare(db, server))
    env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor",
           "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    for var in ("COLUMNS", "LINES"):  # the pty's own size (220×50) decides, not a leftover
        env.pop(var, None)
    pty = Pty([sys.executable, "-m", "plantech_tui.cli", "--db", str(db), "--user", "advisor"],
              env)
    try:
        pty.read_until(b"]0;pwned")  # the plan list
        pty.type(b"\r")  # open the plan: its accounts
        pty.read_until(b"ZWNobyBwd25lZA==")
        pty.read_until(b"Schwab")
        pty.type(b"\x11")  # ctrl+q
    finally:
        pty.close()
    out = bytes(pty.out)
    assert b"Fidelity ]52;c;ZWNobyBwd25lZA==" in out  # shown, defused
    assert b"Charles [2J [H Schwab" in out
    assert b"\x1b]52;" not in out  # no clipboard write
    assert b"\x1b]0;pwned" not in out  # no window title from data
    assert b"\x1b[2J\x1b[H Schwab" not in out and b"Charles\x1b[2J" not in out
    text = out.decode("utf-8", errors="replace")
    assert "\u202e" not in text and "\x9b" not in text and "\x9d" not in text
