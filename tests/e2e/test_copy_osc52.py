"""Issue 12 point 5 through a real terminal: `y` on Investment Assets writes the OSC 52
sequence `ESC ] 52 ; c ; <base64> BEL` — what lets a terminal, even over SSH, put the copied
CSV on the user's clipboard. The app runs in a pseudo-terminal (Python's pty) and the test
reads the raw bytes it writes."""

from __future__ import annotations

import asyncio
import base64
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from plantech_tui.service.workspace import Workspace
from tests.pilot.helpers import fake_redtail, prepare_plan, staged_id

OSC52 = re.compile(rb"\x1b\]52;c;([A-Za-z0-9+/=]*)\x07")


class Terminal:
    """The app on the slave side of a pty (120×40); everything it writes is kept."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        self.output = b""

    def read_until(self, pattern: bytes | re.Pattern[bytes], timeout: float = 30.0,
                   since: int = 0) -> re.Match[bytes] | int:
        """Read until `pattern` shows in the output after offset `since`: a deadline on a
        condition, not a sleep."""
        deadline = time.monotonic() + timeout
        while True:
            if isinstance(pattern, re.Pattern):
                found = pattern.search(self.output, since)
                if found:
                    return found
            elif (at := self.output.find(pattern, since)) >= 0:
                return at
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None and not self._ready(0):
                raise AssertionError(f"{pattern!r} never came; the app wrote (last 3000 "
                                     f"bytes):\n{self.output[-3000:]!r}")
            if self._ready(min(left, 0.5)):
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:  # the app closed the terminal
                    pass

    def _ready(self, timeout: float) -> bool:
        return bool(select.select([self.master], [], [], timeout)[0])

    def send(self, data: bytes) -> int:
        """Type `data`; returns the output offset before it (what it caused comes after)."""
        mark = len(self.output)
        os.write(self.master, data)
        return mark

    def close(self) -> None:
        if self.proc.poll() is None:
            self.send(b"\x11")  # ctrl+q
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the session the test started
                self.proc.wait()
        os.close(self.master)


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
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
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
