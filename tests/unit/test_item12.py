"""Issue 10, item 12: the smaller trust-boundary fixes, each with its own test.

Real files and real SQLite databases; the CLI runs in-process through `plantech_tui.cli.main`
(its one-line error contract checked on every call, as tests/unit/test_cli.py does).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.unit.test_cli import Cli, Result


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], db_path: Path) -> Cli:
    return Cli(capsys, db_path)


def error_line(r: Result) -> str:
    assert r.out == "" and r.err.startswith("plantech: error: "), r
    return r.err.rstrip("\n")


# ------------------------------------------------------------------ a. private directories


def test_item12_dirs_plantech_creates_are_private(run: Cli, tmp_path: Path,
                                                  isolated_env: Path) -> None:
    """Adversary: another login on the same machine listing the data directory (names of the
    database, its -wal, the credential file, backups) because the first command created it
    0755 under the usual umask 022.

    Every directory plantech creates, for the default database, for a --db in a new folder,
    and for its log, is 0700; directories that already existed keep their mode.
    """
    old = os.umask(0o022)
    try:
        home_dirs = {p for p in isolated_env.rglob("*") if p.is_dir()}
        r = run.raw("--user", "alice", "plan", "create", "P")  # the default database
        assert r.rc == 0, r
        data = isolated_env / ".local" / "share" / "plantech"
        assert (data / "plantech.db").is_file()
        created = {p for p in isolated_env.rglob("*") if p.is_dir()} - home_dirs
        assert data in created and any("log" in p.parts for p in created)
        assert {p: oct(stat.S_IMODE(p.stat().st_mode)) for p in created} == {
            p: oct(0o700) for p in created}

        shared = tmp_path / "shared"
        shared.mkdir(mode=0o755)
        db = shared / "new" / "deeper" / "plantech.db"
        assert run.raw("--db", str(db), "--user", "alice", "plan", "list").rc == 0
        for folder in (shared / "new", shared / "new" / "deeper"):
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        assert stat.S_IMODE(shared.stat().st_mode) == 0o755  # not ours: left alone
    finally:
        os.umask(old)
