"""The settings: config.toml under the platformdirs config dir (PLANTECH_CONFIG moves it),
typed by one model (`Settings`: frozen dataclasses, checked strictly against their
annotations), read once and kept (`settings()`). Not pydantic: importing it cost the TUI's
start-up 70 ms (`make bench`'s start-up row went from 1.38× to 1.79× the minimal app), for a
dozen keys whose checks are a loop here.

    [redtail]
    api_key = "..."            # the partner API key Redtail issued (PLANTECH_REDTAIL__API_KEY)
    environment = "Production" # default environment for Add Integration

    [ui]
    ascii = false              # text icons instead of symbols (PLANTECH_UI__ASCII=1)
    theme = "nord"             # kept when a theme is chosen

    [keys]                     # action id = key(s): see keys.py
    ignore = "x"

Environment variables PLANTECH_<TABLE>__<KEY> override the file (PLANTECH_ASCII and
PLANTECH_REDTAIL_API_KEY, the older names, still work).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
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


@dataclass(frozen=True, slots=True)
class RedtailSettings:
    api_key: str | None = None  # the partner API key Redtail issued
    environment: str | None = None  # Add Integration's default environment


@dataclass(frozen=True, slots=True)
class UISettings:
    ascii: bool = False  # text icons instead of symbols
    theme: str | None = None  # kept when a theme is chosen (keys.save_theme)


@dataclass(frozen=True, slots=True)
class Settings:
    """The config file, typed: every table and key the product reads, nothing else. An unknown
    table or key, or a value of the wrong type, is one UsageError naming the file, the line
    and the key (`_typed`)."""

    redtail: RedtailSettings = field(default_factory=RedtailSettings)
    ui: UISettings = field(default_factory=UISettings)
    keys: Mapping[str, str] = field(default_factory=dict)  # action id → key(s) (keys.py)


# each table's model, and what the error says a key must be
_TABLES: dict[str, Any] = {"redtail": RedtailSettings, "ui": UISettings}
_MUST = {bool: "true or false", str: "a string"}


def _typed(doc: Mapping[str, Any], path: Path, text: str) -> Settings:
    """The settings a parsed file (or file + environment) says, checked against the models'
    annotations: strict (a string is not a boolean), closed (an unknown name is an error)."""
    for table in doc:
        if table not in (*_TABLES, "keys"):
            header = next((f"line {n}: " for n, line in enumerate(text.splitlines(), 1)
                           if (m := _TABLE.match(line)) and m.group(1) == table),
                          _line_of(text, None, table))
            raise UsageError(f"{path}: {header}unknown table [{table}] (known: "
                             f"{', '.join((*_TABLES, 'keys'))})")
    built: dict[str, Any] = {}
    for table, model in _TABLES.items():
        section = doc.get(table, {})
        if not isinstance(section, dict):
            raise UsageError(f"{path}: {_line_of(text, None, table)}{table} must be a table "
                             f"([{table}])")
        known = {f.name: f.type for f in fields(model)}
        for key, value in section.items():
            if key not in known:
                raise UsageError(f"{path}: {_line_of(text, table, key)}unknown key "
                                 f"{table}.{key} (known in [{table}]: {', '.join(known)})")
            kind = bool if known[key].startswith("bool") else str
            if type(value) is not kind and not (value is None and "None" in known[key]):
                raise UsageError(f"{path}: {_line_of(text, table, key)}{table}.{key} must be "
                                 f"{_MUST[kind]}")
        built[table] = model(**section)
    keys = doc.get("keys", {})
    if not isinstance(keys, dict):
        raise UsageError(f"{path}: {_line_of(text, None, 'keys')}keys must be a table ([keys])")
    for action_id, value in keys.items():
        if not isinstance(value, str):
            raise UsageError(f"{path}: {_line_of(text, 'keys', action_id)}[keys] {action_id} "
                             'must be a key as a string, or keys separated by commas ("x" or '
                             '"x,ctrl+x")')
    return Settings(built["redtail"], built["ui"], dict(keys))


# PLANTECH_<TABLE>__<KEY> overrides the file; these older names too
_LEGACY_ENV = {"PLANTECH_REDTAIL_API_KEY": ("redtail", "api_key"),
               "PLANTECH_ASCII": ("ui", "ascii")}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def _with_environment(doc: dict[str, Any]) -> dict[str, Any]:
    """PLANTECH_UI__ASCII=1, PLANTECH_REDTAIL__API_KEY=… (and the older PLANTECH_ASCII,
    PLANTECH_REDTAIL_API_KEY) override the file."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for name, value in os.environ.items():
        if name in _LEGACY_ENV:
            found[_LEGACY_ENV[name]] = (name, value)
        elif name.startswith("PLANTECH_") and "__" in name:
            table, _, key = name[len("PLANTECH_"):].lower().partition("__")
            if table in ("redtail", "ui"):
                found[(table, key)] = (name, value)
    if not found:
        return doc
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in doc.items()}
    for (table, key), (name, value) in found.items():
        if key == "ascii":
            if value.strip().lower() not in (*_TRUE, *_FALSE):
                raise UsageError(f"{name} must be 1 or 0 (true or false), not {value!r}")
            parsed: Any = value.strip().lower() in _TRUE
        else:
            parsed = value or None
            if parsed is None and name in _LEGACY_ENV:
                continue
        section = out.setdefault(table, {})
        if isinstance(section, dict):
            section[key] = parsed
    return out


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return "", {}
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise UsageError(f"{path}: not UTF-8 text (line {line})") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: {exc}") from None


_cache: tuple[tuple[Any, ...], Settings] | None = None


def settings() -> Settings:
    """The settings, read once and kept: the file is parsed again only when it changed (its
    size or modification time) or the PLANTECH_ environment did; each call costs one stat.
    Every problem is one UsageError naming the file and, where known, the line: unreadable,
    not UTF-8, not TOML, an unknown table or key, a value of the wrong type."""
    global _cache
    path = config_path()
    try:
        st = path.stat()
        stamp: tuple[Any, ...] = (str(path), st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = (str(path), None, None)
    stamp += tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("PLANTECH_")))
    if _cache is not None and _cache[0] == stamp:
        return _cache[1]
    text, doc = _read(path)
    _typed(doc, path, text)  # the file alone first: its errors name its lines
    found = _typed(_with_environment(doc), path, text)
    _cache = (stamp, found)
    return found


def reset() -> None:
    """Forget the kept settings (tests that rewrite the file within one mtime tick)."""
    global _cache
    _cache = None


def load_config() -> Settings:
    """The settings, checked now (doctor, and commands that must fail early)."""
    return settings()


def default_api_key() -> str | None:
    return settings().redtail.api_key or None


def environment_of(base_url: str) -> str:
    for name, url in ENVIRONMENTS.items():
        if base_url.rstrip("/") == url:
            return name
    return "Custom"


def ascii_icons() -> bool:
    try:
        return settings().ui.ascii
    except UsageError:
        return os.environ.get("PLANTECH_ASCII", "") not in ("", "0")  # never crash the TUI
