"""What a user installing plantech gets (issue 12, point 1): one version, the documents in the
package, and no pointer to a file they do not have."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import plantech_tui
from plantech_tui.cli import docs_dir, main

ROOT = Path(__file__).resolve().parents[2]


def test_the_version_is_written_once() -> None:
    """A maintainer bumping the version: pyproject takes it from plantech_tui.__version__,
    so `plantech --version` and the wheel's metadata cannot disagree."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "plantech_tui.__version__"
    assert re.fullmatch(r"\d+\.\d+\.\d+", plantech_tui.__version__)
    assert project["project"]["license"] == "MIT" and (ROOT / "LICENSE").is_file()
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## {plantech_tui.__version__}" in changelog


def test_version_is_fast_and_light() -> None:
    """A script calling `plantech --version`: it imports no UI, HTTP or model library."""
    code = ("import sys; from plantech_tui.cli import main\n"
            "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('textual', 'httpx', 'pydantic', 'keyring') if m in sys.modules]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines() == [f"plantech {plantech_tui.__version__}", "[]"]


def test_docs_lists_and_prints_the_shipped_documents(capsys: pytest.CaptureFixture[str]) -> None:
    """A user reading doctor's advice offline: `plantech docs` shows what came with the
    package and `plantech docs deploy` prints it."""
    assert main(["docs", "--json"]) == 0
    listed = {d["name"]: d["path"] for d in json.loads(capsys.readouterr().out)["docs"]}
    assert listed == {"deploy": str(docs_dir() / "DEPLOY.md"),
                      "guide": str(docs_dir() / "GUIDE.md")}
    assert main(["docs", "DEPLOY"]) == 0
    assert capsys.readouterr().out.startswith("# Deploying PlanTech TUI")
    assert main(["docs", "readme"]) == 2
    err = capsys.readouterr().err
    assert err == "plantech: error: no document 'readme': one of deploy, guide\n"


def test_nothing_points_users_at_files_they_do_not_have() -> None:
    """A user with only the wheel: doctor names `plantech docs NAME` for a shipped document,
    and neither the README nor the shipped docs send them to a SPEC that is not in the repo."""
    doctor = (ROOT / "plantech_tui" / "doctor.py").read_text()
    assert "docs/DEPLOY.md" not in doctor
    cited = set(re.findall(r"plantech docs (\w+)", doctor))
    assert cited == {"deploy"}
    for doc in (ROOT / "README.md", *docs_dir().glob("*.md")):
        assert "SPEC" not in doc.read_text().replace("--faults SPEC", ""), doc
