"""Icons with a text form (SPEC §2.7): meaning never rests on a glyph or a colour alone.

`PLANTECH_ASCII=1` (or `[ui] ascii = true`) selects the ASCII set; so does a terminal that
cannot draw the symbols (a non-UTF-8 output encoding, or the Linux console).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class IconSet:
    link: str
    paused: str
    play: str
    stop: str
    missing: str
    unlinked: str
    menu: str
    pulling: str
    warning: str
    error: str
    ok: str
    mark: str
    suggested: str
    new: str
    changed: str
    sort_up: str
    sort_down: str


UNICODE = IconSet(
    link="🔗", paused="⏸", play="▶", stop="■", missing="!", unlinked="⛓", menu="⋮",
    pulling="⟳", warning="⚠", error="✗", ok="✓", mark="●", suggested="★", new="+",
    changed="~", sort_up="▲", sort_down="▼",
)
ASCII = IconSet(
    link="[L]", paused="[P]", play="[>]", stop="[S]", missing="!", unlinked="[U]", menu=":",
    pulling="[~]", warning="!", error="x", ok="ok", mark="*", suggested="*", new="+",
    changed="~", sort_up="^", sort_down="v",
)


def _terminal_cannot_draw() -> bool:
    stream = sys.__stdout__
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    if encoding and encoding != "utf8":
        return True
    return os.environ.get("TERM") == "linux"


@lru_cache(maxsize=1)
def _cached(ascii_only: bool) -> IconSet:
    return ASCII if ascii_only else UNICODE


def icons() -> IconSet:
    """The icon set for this process (read once per call; cheap)."""
    from ..config import ascii_icons

    return _cached(ascii_icons() or _terminal_cannot_draw())
