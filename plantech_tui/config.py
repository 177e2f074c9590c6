"""config.toml under the platformdirs config dir (PLANTECH_CONFIG moves it).

    [redtail]
    api_key = "..."            # the partner API key Redtail issued (or PLANTECH_REDTAIL_API_KEY)
    environment = "Production" # default environment for Add Integration

    [ui]
    ascii = false              # text icons instead of symbols (or PLANTECH_ASCII=1)
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from .domain.errors import UsageError

ENVIRONMENTS = {
    "Production": "https://crm.redtailtechnology.com/api/public/v1",
    "Sandbox": "https://review.crm.redtailtechnology.com/api/public/v1",
}


def config_path() -> Path:
    env = os.environ.get("PLANTECH_CONFIG")
    if env:
        return Path(env)
    from .paths import config_dir

    return config_dir() / "config.toml"


# the shape of what we read: table → key → (type, what the error says it must be)
SHAPE: dict[str, dict[str, tuple[type, str]]] = {
    "redtail": {"api_key": (str, "a string"), "environment": (str, "a string")},
    "ui": {"ascii": (bool, "true or false")},
}
_TABLE = re.compile(r"\s*\[\s*([A-Za-z0-9_-]+)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"\s*([A-Za-z0-9_-]+)\s*=")


def _line_of(text: str, table: str | None, key: str) -> str:
    """ "line N: " where `key` is assigned in `table` (None: at the top), when plain `[table]`
    headers and bare `key =` lines find exactly one such line; else "". (A line scan, not a
    parser: quoted or dotted keys are not found, and then no line is given.)"""
    current: str | None = None
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        header = _TABLE.match(line)
        if header:
            current = header.group(1)
            continue
        if line.lstrip().startswith("["):  # [[arrays]] or [dotted.tables]: lose track
            current = "\0"
            continue
        assigned = _KEY.match(line)
        if assigned and assigned.group(1) == key and current == table:
            found.append(number)
    return f"line {found[0]}: " if len(found) == 1 else ""


def _check_shape(path: Path, text: str, doc: dict[str, Any]) -> None:
    for table, keys in SHAPE.items():
        if table not in doc:
            continue
        section = doc[table]
        if not isinstance(section, dict):
            raise UsageError(f"{path}: {_line_of(text, None, table)}{table} must be a table "
                             f"([{table}])")
        for key, (kind, must) in keys.items():
            if key in section and not isinstance(section[key], kind):
                raise UsageError(f"{path}: {_line_of(text, table, key)}{table}.{key} must be "
                                 f"{must}")


def load_config() -> dict[str, Any]:
    """The config file as a dict, its known tables checked. Every problem is one UsageError
    naming the file (and the line where it is known): unreadable, not UTF-8, not TOML, or a
    value of the wrong kind (`redtail = 'x'`)."""
    path = config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise UsageError(f"{path}: not UTF-8 text (line {line})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: {exc}") from None
    _check_shape(path, text, doc)
    return doc


def default_api_key() -> str | None:
    key = os.environ.get("PLANTECH_REDTAIL_API_KEY")
    if key:
        return key
    value = load_config().get("redtail", {}).get("api_key")
    return value if value else None


def environment_of(base_url: str) -> str:
    for name, url in ENVIRONMENTS.items():
        if base_url.rstrip("/") == url:
            return name
    return "Custom"


def ascii_icons() -> bool:
    if os.environ.get("PLANTECH_ASCII", "") not in ("", "0"):
        return True
    try:
        return bool(load_config().get("ui", {}).get("ascii", False))
    except UsageError:
        return False
