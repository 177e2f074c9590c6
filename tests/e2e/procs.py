"""Process helpers for the end-to-end tests: wait for a log line, find what is still running."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, already dead but not yet reaped, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def processes_mentioning(text: str) -> set[int]:
    """Live processes (other than this one) whose command line contains `text`."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and alive(int(entry.name)):
            found.add(int(entry.name))
    return found


def wait_for_line(path: Path, text: str, timeout: float,
                  proc: subprocess.Popen[bytes] | None = None) -> str:
    """Poll a log file until a line containing `text` appears: a deadline, not a sleep."""
    deadline = time.monotonic() + timeout
    while True:
        content = path.read_text(errors="replace") if path.exists() else ""
        for line in content.splitlines():
            if text in line:
                return line
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited ({proc.returncode}) before {text!r}:\n"
                                 f"{content[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never appeared in {path}:\n{content[-3000:]}")
        time.sleep(0.05)
