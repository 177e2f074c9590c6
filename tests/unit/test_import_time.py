"""Cold-start import check (as Harlequin's CI does): what `plantech` imports before it knows
what it will do. The CLI entry module must not pull in Textual or the network/credential
stack; the app and its first screen must not pull in the network stack or the keyring (those
load on first use, after the first frame), nor pydantic (it validates Redtail's responses and
the refresh report, ~50 ms) or sqlite-utils (~36 ms; the store has its own thin `Database`). Run in fresh interpreters with -X importtime,
which lists every module a statement imports."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

NETWORK_AND_SECRETS = {"httpx", "httpcore", "anyio", "starlette", "uvicorn", "keyring",
                       "aiohttp", "textual_serve"}


def imported_packages(statement: str) -> set[str]:
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", statement],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    names = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", result.stderr, re.M)
    assert names, "no -X importtime output"
    return {name.split(".")[0] for name in names}


@pytest.mark.parametrize("statement", [
    "import plantech_tui.cli",
    "import plantech_tui.cli as cli; cli.build_parser()",  # `plantech --help`
])
def test_the_cli_entry_imports_no_textual_network_or_keyring(statement: str) -> None:
    packages = imported_packages(statement)
    assert "plantech_tui" in packages
    forbidden = {"textual", "rich"} | NETWORK_AND_SECRETS
    assert packages & forbidden == set()


FIRST_SCREEN_NEEDS_NOT = NETWORK_AND_SECRETS | {"pydantic", "pydantic_core", "sqlite_utils"}


def test_the_app_and_its_first_screen_import_nothing_they_do_not_need() -> None:
    packages = imported_packages("import plantech_tui.app, plantech_tui.screens.plans")
    assert "textual" in packages  # the check sees third-party imports at all
    assert packages & FIRST_SCREEN_NEEDS_NOT == set()


def test_the_first_screen_data_needs_no_pydantic(tmp_path: object) -> None:
    """Opening the workspace and listing the plans (all the Plans screen reads) loads
    neither pydantic nor sqlite-utils; a pull's report still does."""
    code = (
        "import sys\n"
        "from plantech_tui.service.workspace import Workspace\n"
        f"ws = Workspace.open({str(tmp_path) + '/w.db'!r}, 'someone')\n"
        "ws.create_plan('Family', ['A Client'])\n"
        "assert [p.plan.name for p in ws.list_plans()] == ['Family']\n"
        "print(sorted(m for m in ('pydantic', 'sqlite_utils') if m in sys.modules))\n"
        "from plantech_tui.domain.report import RefreshReport\n"
        "print('pydantic' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[:2] == ["[]", "True"]
