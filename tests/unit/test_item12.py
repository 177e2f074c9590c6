"""Issue 10, item 12: the smaller trust-boundary fixes, each with its own test.

Real files and real SQLite databases; the CLI runs in-process through `plantech_tui.cli.main`
(its one-line error contract checked on every call, as tests/unit/test_cli.py does).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

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


def test_item12_export_and_credential_folders_are_private(tmp_path: Path) -> None:
    """Adversary: another login on the same machine listing a new data directory made by the
    first TUI export or the first stored credential (before any database made it 0700).

    The folders the export and the credential file create, parents included, are 0700."""
    from plantech_tui.service.export import export_folder, save_export
    from plantech_tui.sync.credentials import FileCredentialStore

    old = os.umask(0o022)
    try:
        base = tmp_path / "data" / "fresh"
        written = save_export(export_folder("alice", 1, base), "plan.csv", "a,b\n")
        assert written.read_text() == "a,b\n"
        for folder in (tmp_path / "data", base, base / "exports", base / "exports" / "alice"):
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        cred = tmp_path / "cred" / "deeper" / "credentials.json"
        FileCredentialStore(cred)
        for folder in (tmp_path / "cred", cred.parent):
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
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


@pytest.mark.parametrize("doc", ["README.md", "plantech_tui/docs/DEPLOY.md"])
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


# ------------------------------------------------------------------ e. a full disk

FULL = ("the disk holding plantech.db is full: nothing was written; free space and retry")


def fill_the_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, no connection plantech opens may grow its database: SQLite then fails the
    write that needs a new page with SQLITE_FULL ("database or disk is full"), exactly the
    error of a full disk, through SQLite's own code path. `PRAGMA max_page_count` is a
    per-connection limit, so it is set where the store connects (the only way in short of
    filling a real file system)."""
    from plantech_tui.store import db as store_db

    real = store_db.connect

    def connect(path: Path | str, *, timeout: float = store_db.BUSY_TIMEOUT_S) -> Any:
        conn = real(path, timeout=timeout)
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    monkeypatch.setattr(store_db, "connect", connect)


def test_item12_a_full_disk_is_one_clear_line_in_the_cli(
    run: Cli, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adversary: the disk under the database filling up (another tenant's logs) while an
    advisor ignores 300 rows: it was "internal error (OperationalError: database or disk is
    full)".

    It is one line naming the database file, saying nothing was written, exit 1; the database
    is unchanged, and once there is room the same command works."""
    from tests.helpers import make_big_plan, plan_state
    from tests.unit.test_bad_input import dump

    ids = make_big_plan(db_path, 300)
    first = ids["first_staged_id"]
    argv = ["triage", str(ids["plan_id"]), "ignore", *map(str, range(first, first + 300))]
    before = dump(db_path)
    with monkeypatch.context() as patch:
        fill_the_disk(patch)
        r = run(*argv, user="advisor")
    assert r.rc == 1, r
    assert error_line(r) == f"plantech: error: {FULL}"
    assert dump(db_path) == before
    r = run(*argv, user="advisor")  # room again: retry
    assert r.rc == 0, r
    from plantech_tui.service.workspace import Workspace

    ws = Workspace.open(db_path, "advisor")
    assert ws.staged_counts(ids["plan_id"]) == {"pending": 0, "ignored": 300}
    assert plan_state(ws)
    ws.close()


async def test_item12_a_full_disk_is_one_clear_notice_in_the_tui(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adversary: the same full disk, met in the TUI by a bulk Ignore: it must not crash the
    app with a traceback; it says the same words, and the rows stay pending."""
    from plantech_tui.app import PlantechApp
    from plantech_tui.screens.staged_dialogs import IgnoreModal
    from plantech_tui.service.workspace import Workspace
    from tests.helpers import make_big_plan
    from tests.pilot.helpers import settle, until
    from tests.pilot.test_bulk_triage import open_pending

    ids = make_big_plan(db_path, 300)
    fill_the_disk(monkeypatch)
    app = PlantechApp(db_path, "advisor")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_pending(pilot)
        await pilot.press("asterisk", "i")
        await until(pilot, lambda: isinstance(app.screen, IgnoreModal), "the Ignore dialog")
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("enter")  # above 25 rows: the second enter is the go-ahead
        await settle(pilot)
        await until(pilot, lambda: any(FULL in str(n.message) for n in app._notifications),
                    "the full-disk notice")
        assert app.is_running
    ws = Workspace.open(db_path, "advisor")
    assert ws.staged_counts(ids["plan_id"]) == {"pending": 300, "ignored": 0}
    ws.close()


@pytest.mark.parametrize("text", ["١", "１", "1_0", "²"])
def test_item12_redtail_ids_are_ascii_digits_only(text: str) -> None:
    """Adversary: a hostile or broken Redtail sending an account id in other digits, which
    `int()` would quietly read as another account's id."""
    from plantech_tui.partners.redtail.models import coerce_id

    with pytest.raises(ValueError, match="not an id"):
        coerce_id(text)
