"""Text from outside (Redtail, other users) made safe: one line, no controls, bounded.

Two edges, one rule set:

* at ingest, `clean_line` turns a Redtail text field into one printable line: C0/C1 controls
  (ESC, BEL, CSI ``\\x9b``, OSC ``\\x9d``, tabs, newlines) become spaces, bidi overrides and
  isolates (U+202A–202E, U+2066–2069, U+200E/200F, U+061C) are dropped, runs of whitespace
  collapse, and the result is capped (``TEXT_CAP`` = the product's 200-character rule for
  descriptions; ``MESSAGE_CAP`` for a server's error text);
* at output, `safe_for_terminal` replaces what a terminal would obey in stored or typed text,
  one character for one (so styled spans keep their places): text shown is never a command.
"""

from __future__ import annotations

import re

__all__ = [
    "MESSAGE_CAP",
    "TEXT_CAP",
    "clean_line",
    "clean_line_cut",
    "is_clean_line",
    "safe_for_terminal",
]

TEXT_CAP = 200  # a Redtail name, company, type...: the product's own rule for descriptions
MESSAGE_CAP = 500  # a server's error text carried into reports and errors

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_CONTROLS = "".join(map(chr, range(0x00, 0x20))) + "".join(map(chr, range(0x7F, 0xA0)))
_LINE_SEPARATORS = "\u2028\u2029"

_DROP_BIDI = str.maketrans("", "", _BIDI)
_CONTROL_TO_SPACE = str.maketrans(dict.fromkeys(_CONTROLS + _LINE_SEPARATORS, " "))
_WS = re.compile(r"\s+")
# output: one replacement character per offending character (keeps lengths and spans)
_TERMINAL = str.maketrans(
    dict.fromkeys((c for c in _CONTROLS + _BIDI + _LINE_SEPARATORS if c != "\n"), " "))
_TERMINAL_LINE = str.maketrans(dict.fromkeys(_CONTROLS + _BIDI + _LINE_SEPARATORS, " "))
_BAD = re.compile(f"[{re.escape(_CONTROLS + _BIDI + _LINE_SEPARATORS)}]")


def is_clean_line(text: str) -> bool:
    """No control, bidi override or line break: nothing a terminal would obey."""
    return _BAD.search(text) is None


def clean_line_cut(text: str, limit: int | None = TEXT_CAP) -> tuple[str, bool]:
    """(the cleaned line, whether it was cut to `limit` characters). A cut line ends in "…"."""
    if not (text.isprintable() and len(text) <= (limit or len(text))
            and "  " not in text and text == text.strip()):
        text = _WS.sub(" ", text.translate(_DROP_BIDI).translate(_CONTROL_TO_SPACE)).strip()
    if limit is not None and len(text) > limit:
        return text[: max(limit - 1, 0)].rstrip() + "…", True
    return text, False


def clean_line(text: str, limit: int | None = TEXT_CAP) -> str:
    """One printable line of at most `limit` characters (None: uncapped)."""
    return clean_line_cut(text, limit)[0]


def safe_for_terminal(text: str, *, multiline: bool = True) -> str:
    """Text a terminal shows and never obeys: every C0/C1 control (but a newline, when
    `multiline`), bidi override or isolate becomes a space, one for one."""
    if text.isprintable() or is_clean_line(text) and (multiline or "\n" not in text):
        return text
    return text.translate(_TERMINAL if multiline else _TERMINAL_LINE)
