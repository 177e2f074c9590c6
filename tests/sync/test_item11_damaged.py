"""Issue 10 item 11: a damaged database is refused, never read from or written to."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from plantech_tui.partners.redtail.fake import FakeRedtailServer
from plantech_tui.store import db as store_db

from .conftest import Cli

MESSAGE = ("nothing was written; run plantech doctor and restore the last backup, "
           "see plantech docs deploy, §8")


def corrupt_a_page_of(db_path: Path, table: str) -> None:
    """Overwrite the b-tree page header of the table's root page with garbage."""
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                               [table]).fetchone()
        (size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.close()
    assert root > 1
    with open(db_path, "r+b") as fh:
        fh.seek((root - 1) * size)
        fh.write(b"\x0e\xff\xff\xff\xff\xff\xff\xff")  # no such page type; nonsense offsets
    conn = sqlite3.connect(db_path)
    try:  # SQLite itself now finds it damaged
        assert conn.execute("PRAGMA quick_check").fetchone()[0] != "ok"
    except sqlite3.DatabaseError as exc:
        assert "malformed" in str(exc)
    finally:
        conn.close()


@pytest.mark.parametrize("checked_on_open", [True, False], ids=["small", "big"])
def test_item11_a_damaged_database_is_refused_by_every_command(
        run: Cli, fake: FakeRedtailServer, addams: dict[str, int], db_path: Path,
        monkeypatch: pytest.MonkeyPatch, checked_on_open: bool) -> None:
    """Adversary: a disk (or a careless `cp` of a live WAL database) that left malformed
    pages in the staged accounts. Before, `plan show`, `triage`, `sync` and `export` kept
    reading and writing it. "big": a file past the open-time check's size, checked before
    its first write (and met malformed on read)."""
    if not checked_on_open:
        monkeypatch.setattr(store_db, "QUICK_CHECK_ON_OPEN_BYTES", 0)
    pid = str(addams["plan"])
    run.ok("sync", "--plan", pid)
    staged = str(run.ok("plan", "show", pid)["pending"][0]["id"])
    corrupt_a_page_of(db_path, "staged_accounts")
    damaged = db_path.read_bytes()
    commands = [
        ("plan", "show", pid),
        ("triage", pid, "ignore", staged),
        ("sync", "--plan", pid),
        ("export", pid, "--csv", "-"),
    ]
    for argv in commands:
        r = run(*argv)
        assert r.rc == 1, (argv, r)
        lines = r.err.strip().splitlines()
        assert len(lines) == 1, (argv, r.err)
        assert lines[0].startswith("plantech: error: database is damaged ("), (argv, r.err)
        assert lines[0].endswith(MESSAGE), (argv, r.err)
        assert r.out == "", argv
        assert db_path.read_bytes() == damaged, argv
    r = run("doctor")  # doctor reads it, says so, and points to the backup
    assert r.rc == 1 and "[FAIL] database" in r.out and "integrity check" in r.out
    assert "plantech docs deploy, §8" in r.out
    assert db_path.read_bytes() == damaged


def test_item11_a_pull_checks_the_database_before_its_apply(
        run: Cli, fake: FakeRedtailServer, addams: dict[str, int], db_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Adversary: the file is damaged while a pull is fetching (the open-time check passed).
    The apply checks first and writes nothing."""
    # the apply re-checks when that costs under RECHECK_SHARE of the time since the last
    # check; make it certain here rather than depend on how long the fetch took
    monkeypatch.setattr(store_db, "RECHECK_SHARE", float("inf"))
    import asyncio
    import threading

    from plantech_tui.service import pulls
    from plantech_tui.service.workspace import Workspace
    from plantech_tui.store.db import DatabaseDamaged

    from .test_item9_10_pulls import account_requests, wait_for

    pid = addams["plan"]
    result: list[object] = []

    def pull() -> None:
        try:
            ws = Workspace.open(db_path)
            result.append(asyncio.run(pulls.sync_async(ws, [pid]))[0])
        except BaseException as exc:  # noqa: BLE001 - asserted below
            result.append(exc)

    with fake.holding_accounts():
        thread = threading.Thread(target=pull, daemon=True)
        thread.start()
        wait_for(lambda: account_requests(fake) >= 1, "the pull to be fetching")
        corrupt_a_page_of(db_path, "staged_accounts")
        damaged = db_path.read_bytes()
    thread.join(60)
    assert not thread.is_alive()
    assert isinstance(result[0], DatabaseDamaged), result
    assert str(result[0]).endswith(MESSAGE)
    assert db_path.read_bytes() == damaged
