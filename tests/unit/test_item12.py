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


# ------------------------------------------------------------------ b. config read errors

BAD_CONFIGS = {
    # name: (file bytes, what the one line must say after "<path>: ")
    "not_utf8": (b'[redtail]\napi_key = "caf\xe9"\n', "not UTF-8 text (line 2)"),
    "redtail_not_a_table": (b"redtail = 'x'\n", "line 1: redtail must be a table ([redtail])"),
    "api_key_not_text": (b"[ui]\nascii = true\n[redtail]\napi_key = 5\n",
                         "line 4: redtail.api_key must be a string"),
    "ui_not_a_table": (b"ui = 3\n", "line 1: ui must be a table ([ui])"),
    "ascii_not_a_boolean": (b"[ui]\nascii = 'yes'\n", "line 2: ui.ascii must be true or false"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_item12_config_errors_are_one_line_naming_the_file(
    case: str, run: Cli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adversary: a hand-edited config.toml (saved as Latin-1, or with a value where a table
    belongs) that turned `plantech integration add` into "internal error (AttributeError…)".

    The command that reads it says, in one line, which file and (where known) which line is
    wrong and why, exit 2; doctor's config check fails with the same words.
    """
    import io

    from plantech_tui import config

    body, said = BAD_CONFIGS[case]
    path = isolated_env / ".config" / "plantech" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_bytes(body)
    assert config.config_path() == path
    monkeypatch.setattr("sys.stdin", io.StringIO("password\n"))
    r = run("integration", "add", "--base-url", "http://127.0.0.1:9/api/public/v1",
            "--username", "jdoe", "--password-stdin")  # no --api-key: the config is read
    assert r.rc == 2, r
    assert error_line(r) == f"plantech: error: {path}: {said}"
    assert "internal error" not in r.err

    with pytest.raises(config.UsageError) as caught:
        config.load_config()
    assert caught.value.message == f"{path}: {said}"
    from plantech_tui.doctor import check_config

    check = check_config()
    assert check.status == "fail" and check.detail == f"{path}: {said}"
    if not case.startswith("ui"):
        assert config.ascii_icons() is False  # the TUI's icons fall back, never crash


# ------------------------------------------------------------------ d. no secrets in argv

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("doc", ["README.md", "docs/DEPLOY.md"])
def test_item12_docs_never_put_the_api_key_on_the_command_line(doc: str) -> None:
    """Adversary: any other login on the server running `ps -ef` (or reading
    /proc/PID/cmdline) while an advisor follows the README's `--api-key "$KEY"` example.

    The documentation passes the key through PLANTECH_REDTAIL_API_KEY or config.toml only,
    and the README says why."""
    import re

    text = (ROOT / doc).read_text(encoding="utf-8")
    assert not re.search(r"--api-key[= ]+[\"']?\$", text), doc
    assert not re.search(r"--api-key[= ]+[\"']?[A-Za-z0-9]", text), doc  # nor a literal key
    if doc == "README.md":
        assert "PLANTECH_REDTAIL_API_KEY" in text and "ps" in text
