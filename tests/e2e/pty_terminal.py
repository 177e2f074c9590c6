"""The TUI on a pseudo-terminal (Python's pty), for tests that must read the raw bytes an app
writes to a real terminal: escapes from data (issue 10, item 4), OSC 52 copies (issue 12,
point 5). Every byte it writes is kept in `output`; reads wait on a condition with a deadline,
never on time."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path


class Terminal:
    """`argv` on the slave side of a pty of `rows`×`cols`, in a session of its own."""

    def __init__(self, argv: list[str], env: dict[str, str], *, rows: int = 40,
                 cols: int = 120, cwd: Path | None = None) -> None:
        env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}  # the pty decides
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True, close_fds=True, cwd=cwd)
        os.close(slave)
        self.output = b""

    def _ready(self, timeout: float) -> bool:
        return bool(select.select([self.master], [], [], timeout)[0])

    def _read(self) -> bool:
        """Take what the app wrote; False once the terminal is closed."""
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # the app exited: the pty is closed
            return False
        self.output += chunk
        return bool(chunk)

    def read_until(self, pattern: bytes | re.Pattern[bytes], timeout: float = 30.0,
                   since: int = 0) -> re.Match[bytes] | int:
        """Read until `pattern` shows in the output after offset `since`; its match (or
        offset). Fails with the end of the output when it never comes."""
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
            if self._ready(min(left, 0.5)) and not self._read():
                raise AssertionError(f"the app exited before {pattern!r}: "
                                     f"{self.output[-3000:]!r}")

    def send(self, data: bytes) -> int:
        """Type `data`; the output offset before it (what it caused comes after)."""
        mark = len(self.output)
        os.write(self.master, data)
        return mark

    def close(self, timeout: float = 30.0) -> None:
        """ctrl+q, then read on until the app exits (a full pty would block its last writes);
        the session is killed if it does not."""
        deadline = time.monotonic() + timeout
        try:
            if self.proc.poll() is None:
                self.send(b"\x11")
            while self.proc.poll() is None and time.monotonic() < deadline:
                if self._ready(0.2) and not self._read():
                    break
            self.proc.wait(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            pass
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            os.close(self.master)
