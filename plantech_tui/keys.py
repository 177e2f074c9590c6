"""The keys and the theme the user chose, kept in the config file:

    [keys]                     # action id = key(s), comma-separated (ids: `?` help, SPEC §4)
    ignore = "x"
    new = "n,+"

    [ui]
    theme = "nord"             # written when a theme is chosen (ctrl+p → Theme)

The keymap is applied with `App.set_keymap`; an unknown action id, or a key that is not a
string, is one clear error naming the file and the id. No Textual here (the app applies it).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterable

from .config import config_path, reset, settings
from .domain.errors import UsageError


def configured_keys() -> dict[str, str]:
    """The `[keys]` table of the settings, as written."""
    return dict(settings().keys)


def keymap(known: Iterable[str]) -> dict[str, str]:
    """`[keys]` checked against the action ids that exist: {id: "key,key"}."""
    ids = frozenset(known)
    out: dict[str, str] = {}
    for action_id, keys in configured_keys().items():
        if action_id not in ids:
            raise UsageError(f"{config_path()}: [keys] {action_id}: no such action id "
                             f"(one of {', '.join(sorted(ids))})")
        if not isinstance(keys, str) or not [k for k in keys.split(",") if k.strip()]:
            raise UsageError(f"{config_path()}: [keys] {action_id} must be a key as a string, "
                             'or keys separated by commas ("x" or "x,ctrl+x")')
        out[action_id] = ",".join(k.strip() for k in keys.split(",") if k.strip())
    return out


def configured_theme() -> str | None:
    return settings().ui.theme or None


_HEADER = re.compile(r"\s*\[")
_UI = re.compile(r"\s*\[\s*ui\s*\]\s*(#.*)?$")
_THEME = re.compile(r"\s*theme\s*=")


def with_theme(text: str, theme: str) -> str:
    """The config file's text with `[ui] theme` set to `theme`, every other line as it was."""
    lines = text.splitlines()
    line = f"theme = {json.dumps(theme)}"
    for index, current in enumerate(lines):
        if not _UI.match(current):
            continue
        end = next((j for j in range(index + 1, len(lines)) if _HEADER.match(lines[j])),
                   len(lines))
        for j in range(index + 1, end):
            if _THEME.match(lines[j]):
                lines[j] = line
                break
        else:
            lines.insert(index + 1, line)
        return "\n".join(lines) + "\n"
    body = "\n".join(lines)
    return (body + "\n\n" if body.strip() else "") + f"[ui]\n{line}\n"


def save_theme(theme: str) -> None:
    """Keep the chosen theme in the config file (created if missing). UsageError when the file
    cannot be read or written, or would not read back as the same file plus the theme."""
    path = config_path()
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    new = with_theme(text, theme)
    try:
        if tomllib.loads(new).get("ui", {}).get("theme") != theme:
            raise ValueError
    except (tomllib.TOMLDecodeError, ValueError, AttributeError):
        raise UsageError(f"{path}: cannot keep the theme there (edit [ui] theme by hand)"
                         ) from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(new, encoding="utf-8")
        os.replace(tmp, path)
        reset()  # the next read sees it, even within one mtime tick
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
