"""The core (domain, store, sync, service) never imports Textual (SPEC §10, ARCHITECTURE):
every module imported in a fresh interpreter, then `sys.modules` checked; and the
import-linter contract of pyproject.toml, run as a user would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ["plantech_tui.domain", "plantech_tui.store", "plantech_tui.sync", "plantech_tui.service",
        "plantech_tui.partners"]

PROBE = r"""
import importlib, json, pkgutil, sys
CORE_PACKAGES = json.loads(sys.argv[1])
extra = sys.argv[2:]
for name in extra:
    importlib.import_module(name)
imported = []
def fail(name):
    raise SystemExit(f"cannot import {name}: {sys.exc_info()[1]!r}")
for root in CORE_PACKAGES:
    pkg = importlib.import_module(root)
    imported.append(root)
    for info in pkgutil.walk_packages(pkg.__path__, root + ".", onerror=fail):
        importlib.import_module(info.name)
        imported.append(info.name)
ui = sorted(m for m in sys.modules
            if m.split(".")[0] == "textual"
            or m.startswith(("plantech_tui.screens", "plantech_tui.widgets"))
            or m == "plantech_tui.app")
print(json.dumps({"imported": imported, "ui": ui}))
"""


def _probe(*extra: str) -> dict[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(CORE), *extra], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_the_core_imports_no_textual_in_a_fresh_interpreter() -> None:
    result = _probe()
    # every module was really imported (the walk is not vacuous)
    for name in ("plantech_tui.domain.models", "plantech_tui.domain.permissions",
                 "plantech_tui.domain.mapping", "plantech_tui.store.db",
                 "plantech_tui.store.schema", "plantech_tui.sync.engine",
                 "plantech_tui.partners.redtail.client", "plantech_tui.sync.credentials",
                 "plantech_tui.partners.base", "plantech_tui.partners.redtail.partner",
                 "plantech_tui.service.workspace", "plantech_tui.service.pulls"):
        assert name in result["imported"]
    assert result["ui"] == []


def test_the_probe_would_see_textual() -> None:
    """The check can fail: importing Textual alongside the core is noticed."""
    assert "textual" in _probe("textual")["ui"]


def test_the_cli_runs_a_command_without_textual(tmp_path: Path) -> None:
    code = ("import sys; from plantech_tui.cli import main; rc = main(sys.argv[1:]); "
            "assert not any(m.split('.')[0] == 'textual' for m in sys.modules), 'textual'; "
            "raise SystemExit(rc)")
    done = subprocess.run([sys.executable, "-c", code, "--db", str(tmp_path / "x.db"),
                           "--user", "alice", "plan", "list", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
                               "PYTHON_KEYRING_BACKEND": "tests.keyring_memory.MemoryKeyring"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"plans": []}


def test_the_import_linter_contract_is_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for contract in ("The core never imports Textual",
                     "Layers: front ends, service, sync, partners, store, domain",
                     "Only Redtail's own package imports it (the rest goes through "
                     "partners.registry)",
                     "No screen or widget imports the CLI or the app at run time"):
        assert f"{contract} KEPT" in output, output
    assert "0 broken" in output
