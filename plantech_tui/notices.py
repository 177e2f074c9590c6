"""One-time notices from the core (today: "no usable OS keyring; storing credentials in a
0600 file"). They go to stderr, unless a full-screen front end claims them: under Textual a
line printed to stderr is swallowed, and the user would never learn where their keys went.
Imports nothing, so claiming costs nothing at start-up."""

from __future__ import annotations

import sys
from collections.abc import Callable

Say = Callable[[str], None]


def to_stderr(message: str) -> None:
    """As the CLI says things: one line on stderr."""
    from .domain.text import safe_for_terminal

    print(f"plantech: {safe_for_terminal(message)}", file=sys.stderr)


_say: Say = to_stderr


def claim(say: Say | None) -> None:
    """Send notices to `say` (None: back to stderr)."""
    global _say
    _say = say or to_stderr


def release(say: Say) -> None:
    """Back to stderr, if `say` still has the notices (another front end may have claimed
    them since)."""
    if _say == say:
        claim(None)


def drop(message: str) -> None:
    """`plantech --quiet`: notices are not said (errors are not notices)."""


def notice(message: str) -> None:
    _say(message)
