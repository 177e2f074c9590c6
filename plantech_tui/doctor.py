"""`plantech doctor`: check this machine's set-up and say what to fix.

It creates no database and no user: an existing database is opened read-only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cli import Out


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


def check_database(path: Path) -> tuple[Check, list[dict[str, Any]]]:
    integrations: list[dict[str, Any]] = []
    if not path.exists():
        parent = next((p for p in [path.parent, *path.parent.parents] if p.exists()), None)
        if parent is not None and os.access(parent, os.W_OK):
            return Check("database", "ok", f"{path} does not exist yet; it will be created "
                         "(mode 0600) on first use"), integrations
        return Check("database", "fail", f"cannot create {path}: {parent} is not writable",
                     "choose another path with --db or PLANTECH_DB"), integrations
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        ok = conn.execute("PRAGMA quick_check").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        try:
            conn.row_factory = sqlite3.Row
            integrations = [dict(r) for r in conn.execute(
                "SELECT id, base_url, username, status FROM integrations")]
        except sqlite3.Error:
            integrations = []
        conn.close()
    except sqlite3.Error as exc:
        return Check("database", "fail", f"{path}: {exc}", "restore it from a backup "
                     "(docs/DEPLOY.md)"), integrations
    mode = path.stat().st_mode & 0o777
    if ok != "ok":
        return Check("database", "fail", f"{path}: integrity check says {ok}",
                     "restore it from a backup"), integrations
    if not os.access(path, os.W_OK):
        return Check("database", "fail", f"{path} is not writable by this user",
                     "run as the service account that owns it"), integrations
    if mode & 0o077:
        return Check("database", "warn", f"{path} has mode {mode:o}: others can read it",
                     f"chmod 600 {path}"), integrations
    return Check("database", "ok", f"{path} (schema {version}, mode {mode:o})"), integrations


def check_keyring() -> Check:
    from .paths import data_dir
    from .sync.credentials import open_credential_store

    notes: list[str] = []
    try:
        store = open_credential_store(data_dir(), notify=notes.append)
    except Exception as exc:  # the check must report, not crash
        return Check("credentials", "fail", f"no credential store: {type(exc).__name__}",
                     "make the user data dir writable")
    if store.using_fallback:
        return Check("credentials", "warn", notes[0] if notes else store.backend_name,
                     "fine on a server (docs/DEPLOY.md); on a desktop unlock the keyring")
    return Check("credentials", "ok", f"OS keyring: {store.backend_name}")


def check_mapping() -> Check:
    from .domain.errors import PlantechError
    from .domain.mapping import load_mapping
    from .paths import config_dir

    try:
        mapping = load_mapping(config_dir())
    except PlantechError as exc:
        return Check("mapping", "fail", exc.message, "fix the file, or remove it to use the "
                     "built-in table")
    return Check("mapping", "ok", f"{len(mapping.investment_types)} investment types; "
                 f"{len(mapping.included_account_types)} included Redtail types")


def check_config() -> Check:
    from .config import config_path, load_config
    from .domain.errors import PlantechError

    try:
        load_config()
    except PlantechError as exc:
        return Check("config", "fail", exc.message, "fix the TOML syntax")
    path = config_path()
    return Check("config", "ok", f"{path}{'' if path.exists() else ' (not present: defaults)'}")


async def _reach(url: str) -> str | None:
    import httpx

    try:
        async with httpx.AsyncClient(timeout=5) as client:
            await client.get(url.rstrip("/") + "/authentication")
    except httpx.HTTPError as exc:
        return type(exc).__name__
    return None


def check_redtail(integrations: list[dict[str, Any]]) -> list[Check]:
    if not integrations:
        return [Check("redtail", "ok", "no integrations yet (nothing to reach)")]
    out = []
    for integ in integrations:
        problem = asyncio.run(_reach(integ["base_url"]))
        name = f"redtail #{integ['id']}"
        if problem:
            out.append(Check(name, "fail", f"cannot reach {integ['base_url']}: {problem}",
                             "check the network, proxy and firewall"))
        elif integ["status"] != "connected":
            out.append(Check(name, "warn", f"{integ['base_url']} reachable; integration "
                             f"{integ['status']}", "reconnect it from Advisor Integration"))
        else:
            out.append(Check(name, "ok", f"{integ['base_url']} reachable"))
    return out


def check_terminal() -> Check:
    term = os.environ.get("TERM", "")
    tty = sys.stdout.isatty()
    colors = os.environ.get("COLORTERM", "")
    utf8 = "utf" in (os.environ.get("LC_ALL") or os.environ.get("LC_CTYPE")
                     or os.environ.get("LANG") or "").lower()
    detail = (f"TERM={term or '(unset)'}, {'a terminal' if tty else 'not a terminal'}, "
              f"{'truecolor' if colors in ('truecolor', '24bit') else '256 colours or fewer'}, "
              f"{'UTF-8' if utf8 else 'no UTF-8 locale'}")
    if not term or term == "dumb":
        return Check("terminal", "warn", detail, "set TERM (e.g. xterm-256color) for the TUI")
    if not utf8:
        return Check("terminal", "warn", detail, "set a UTF-8 locale, or PLANTECH_ASCII=1 for "
                     "text icons")
    return Check("terminal", "ok", detail)


def run_doctor(args: argparse.Namespace, out: Out) -> int:
    from .paths import default_db_path

    db_path = Path(args.db) if getattr(args, "db", None) else default_db_path()
    db_check, integrations = check_database(db_path)
    checks = [db_check, check_config(), check_mapping(), check_keyring(),
              *check_redtail(integrations), check_terminal()]
    marks = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
    out.emit({"checks": [c.as_json() for c in checks],
              "ok": all(c.status != "fail" for c in checks)},
             "\n".join(f"[{marks[c.status]}] {c.name}: {c.detail}"
                       + (f"\n       fix: {c.fix}" if c.fix else "") for c in checks))
    return 1 if any(c.status == "fail" for c in checks) else 0
