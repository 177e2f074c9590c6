"""The store: migrations on an empty file and a re-open, the connection settings of SPEC §3,
file modes, transactions, a busy database, and several processes writing one file at once."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import stat
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from plantech_tui.domain.errors import DatabaseBusy, PlantechError
from plantech_tui.service.workspace import Workspace
from plantech_tui.store.db import Store
from plantech_tui.store.schema import MIGRATIONS, migrate

TABLES = {
    "users", "plans", "plan_grants", "integrations", "plan_contacts", "plan_accounts",
    "staged_accounts", "staged_account_contacts", "balance_history", "audit_log", "sync_runs",
}


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {r[0] for r in rows}


def _user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


# ------------------------------------------------------------------ migrations


def test_migration_on_an_empty_file(db_path: Path) -> None:
    db_path.touch(mode=0o600)
    assert db_path.stat().st_size == 0
    store = Store(db_path)
    store.close()
    assert _user_version(db_path) == len(MIGRATIONS) >= 1
    assert TABLES <= _tables(db_path)


def test_migration_creates_a_missing_file_and_its_directory(tmp_path: Path) -> None:
    path = tmp_path / "deeper" / "still" / "plantech.db"
    Store(path).close()
    assert _user_version(path) == len(MIGRATIONS)
    assert TABLES <= _tables(path)


def test_reopen_keeps_the_data_and_does_not_migrate_again(db_path: Path) -> None:
    ws = Workspace.open(db_path, "alice")
    plan = ws.create_plan("Addams", ["Gomez Addams", "Morticia Addams"])
    ws.add_account(plan.id, {"description": "Gomez 401(k)", "investment_type": "401(k)",
                             "balance": "250000.00"})
    ws.close()
    with sqlite3.connect(db_path) as conn:
        schema_before = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name"
                                     ).fetchall()

    again = Workspace.open(db_path, "ALICE")  # names match case-insensitively
    assert again.user.name == "alice"
    detail = again.plan_detail(plan.id)
    assert [a.description for a in detail.accounts] == ["Gomez 401(k)"]
    assert detail.accounts[0].balance == Decimal("250000.00")
    assert migrate(again.store.conn) == len(MIGRATIONS)  # a no-op now
    again.close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name"
                            ).fetchall() == schema_before
    assert _user_version(db_path) == len(MIGRATIONS)


def test_a_newer_schema_is_refused_and_left_alone(db_path: Path) -> None:
    Store(db_path).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA user_version = 999")
    with pytest.raises(PlantechError, match="newer"):
        Store(db_path)
    assert _user_version(db_path) == 999


def test_a_file_that_is_not_a_database_is_one_clear_error(db_path: Path) -> None:
    db_path.write_text("this is a shopping list, not a database\n" * 100)
    with pytest.raises(PlantechError) as err:
        Store(db_path)
    assert "cannot open database" in str(err.value)
    assert str(db_path) in str(err.value)
    assert "\n" not in str(err.value)


def test_a_failed_migration_leaves_the_file_at_its_old_version(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from plantech_tui.store import schema

    Store(db_path).close()
    monkeypatch.setattr(schema, "MIGRATIONS", [*MIGRATIONS,
                                               "CREATE TABLE extra (x INTEGER);\nNOT SQL AT ALL;"])
    with pytest.raises(sqlite3.Error):
        Store(db_path)
    assert _user_version(db_path) == len(MIGRATIONS)
    assert "extra" not in _tables(db_path)


# ------------------------------------------------------------------ connection settings


def test_connections_use_wal_normal_sync_foreign_keys_and_a_busy_timeout(db_path: Path) -> None:
    store = Store(db_path)
    conn = store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert conn.isolation_level is None  # autocommit: we issue BEGIN IMMEDIATE ourselves
    store.close()


def test_the_database_and_its_wal_files_are_private(db_path: Path) -> None:
    old = os.umask(0o022)
    try:
        ws = Workspace.open(db_path, "alice")
        ws.create_plan("P")
        # the -wal and -shm files exist while a connection is open
        for path in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
            assert path.exists(), path
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        ws.close()
    finally:
        os.umask(old)


def test_each_thread_gets_its_own_connection(db_path: Path) -> None:
    import threading

    store = Store(db_path)
    seen: list[sqlite3.Connection] = []
    t = threading.Thread(target=lambda: seen.append(store.conn))
    t.start()
    t.join()
    assert seen and seen[0] is not store.conn
    store.close()


# ------------------------------------------------------------------ transactions


def test_write_commits(db_path: Path) -> None:
    store = Store(db_path)
    with store.write() as db:
        db.execute("INSERT INTO users (name, role, created_at) VALUES ('a', 'advisor', 'now')")
    other = sqlite3.connect(db_path)
    assert other.execute("SELECT name FROM users").fetchall() == [("a",)]
    other.close()


def test_write_rolls_back_everything_on_an_error(db_path: Path) -> None:
    store = Store(db_path)
    with pytest.raises(RuntimeError), store.write() as db:
        db.execute("INSERT INTO users (name, role, created_at) VALUES ('a', 'advisor', 'now')")
        raise RuntimeError("boom")
    assert not store.conn.in_transaction
    assert store.conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0
    with store.write() as db:  # the connection is usable afterwards
        db.execute("INSERT INTO users (name, role, created_at) VALUES ('b', 'advisor', 'now')")
    assert store.conn.execute("SELECT name FROM users").fetchall() == [("b",)]


def test_a_check_constraint_keeps_a_linked_row_consistent(db_path: Path) -> None:
    """One state per Redtail account is a CHECK, not a hope: a link needs an account."""
    ws = Workspace.open(db_path, "alice")
    plan = ws.create_plan("P")
    from tests.helpers import make_integration, stage

    integ = make_integration(ws, ws.user.id)
    sid = stage(ws, plan.id, integ, 5001)
    for sql in ("UPDATE staged_accounts SET state = 'linked' WHERE id = ?",
                "UPDATE staged_accounts SET link_state = 'active' WHERE id = ?",
                "UPDATE staged_accounts SET linked_account_id = 999 WHERE id = ?"):
        with pytest.raises(sqlite3.IntegrityError), ws.store.write() as db:
            db.execute(sql, [sid])
    with pytest.raises(sqlite3.IntegrityError):
        stage(ws, plan.id, integ, 5001)  # the same Redtail account twice in one plan


def test_busy_past_the_timeout_is_a_database_busy_error(db_path: Path) -> None:
    holder = Store(db_path)
    waiter = Store(db_path, timeout=0.3)
    with holder.write():
        started = time.monotonic()
        with pytest.raises(DatabaseBusy) as err, waiter.write():
            pass  # pragma: no cover - never reached
        waited = time.monotonic() - started
    assert waited >= 0.25  # it did wait for the timeout before giving up
    assert str(db_path) in str(err.value) and "busy" in str(err.value)
    assert "\n" not in str(err.value)
    assert not waiter.conn.in_transaction
    with waiter.write() as db:  # and works once the other writer is gone
        db.execute("INSERT INTO users (name, role, created_at) VALUES ('a', 'advisor', 'now')")


def test_data_version_changes_when_another_connection_commits(db_path: Path) -> None:
    watcher = Store(db_path)
    writer = Store(db_path)
    before = watcher.data_version()
    assert watcher.data_version() == before
    with writer.write() as db:
        db.execute("INSERT INTO users (name, role, created_at) VALUES ('a', 'advisor', 'now')")
    assert watcher.data_version() != before


# ------------------------------------------------------------------ several processes

ROUNDS = 40


def _rmw_worker(path: str, name: str, barrier: Any, a_holds: Any, b_started: Any,
                results: Any) -> None:
    """One process: a handshake transaction, then a stream of read-modify-writes."""
    try:
        ws = Workspace.open(path, "alice")
        store = ws.store
        times: dict[str, float] = {}
        barrier.wait(timeout=60)
        if name == "A":
            with store.write() as db:
                times["acquired"] = time.monotonic()
                a_holds.set()
                assert b_started.wait(timeout=60), "B never started its attempt"
                _increment(db)
                times["commit"] = time.monotonic()  # the lock is held until COMMIT returns
        else:
            assert a_holds.wait(timeout=60), "A never took the lock"
            times["request"] = time.monotonic()
            b_started.set()
            with store.write() as db:  # BEGIN IMMEDIATE waits here while A holds the lock
                times["acquired"] = time.monotonic()
                _increment(db)
            times["released"] = time.monotonic()
        for i in range(ROUNDS):
            with store.write() as db:
                _increment(db)
            ws.add_account(1, {"description": f"{name} {i}", "investment_type": "Cash",
                               "balance": "1.00"})
        results.put((name, "ok", times))
    except BaseException as exc:  # report, never hang the parent
        results.put((name, "error", repr(exc)))


def _increment(db: Any) -> None:
    """A real read-modify-write: read the balance, add a cent in Decimal, write it back."""
    value = Decimal(db.execute("SELECT balance FROM plan_accounts WHERE id = 1").fetchone()[0])
    db.execute("UPDATE plan_accounts SET balance = ? WHERE id = 1", [f"{value + Decimal('0.01')}"])


def test_two_processes_write_the_same_database_at_once(db_path: Path) -> None:
    ws = Workspace.open(db_path, "alice")
    plan = ws.create_plan("Shared")
    counter = ws.add_account(plan.id, {"description": "counter", "investment_type": "Cash",
                                       "balance": "0.00"})
    assert (plan.id, counter.id) == (1, 1)
    ws.close()

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    a_holds, b_started = ctx.Event(), ctx.Event()
    results = ctx.Queue()
    procs = [ctx.Process(target=_rmw_worker,
                         args=(str(db_path), name, barrier, a_holds, b_started, results))
             for name in ("A", "B")]
    for p in procs:
        p.start()
    got = {}
    for _ in procs:
        name, status, times = results.get(timeout=120)
        got[name] = (status, times)
    for p in procs:
        p.join(timeout=60)
    assert {n: s for n, (s, _) in got.items()} == {"A": "ok", "B": "ok"}, got

    a, b = got["A"][1], got["B"][1]
    # B asked for BEGIN IMMEDIATE while A held the write lock, and got it only once A committed
    assert a["acquired"] < b["request"] < a["commit"] < b["acquired"] < b["released"]

    # then both streams of read-modify-writes ran at once and no update was lost
    check = Workspace.open(db_path, "alice")
    accounts = check.plan_detail(plan.id).accounts
    assert accounts[0].balance == Decimal("0.01") * (2 + 2 * ROUNDS)
    assert len(accounts) == 1 + 2 * ROUNDS
    adds = [e for e in check.audit_log(plan.id) if e.action == "account add"]
    assert len(adds) == 1 + 2 * ROUNDS


def _open_worker(paths: list[str], barrier: Any, results: Any) -> None:
    errors: list[str] = []
    for path in paths:
        barrier.wait(timeout=60)
        try:
            store = Store(path)
            store.conn.execute("SELECT count(*) FROM users").fetchone()
            store.close()
        except BaseException as exc:
            errors.append(f"{path}: {exc!r}")
    results.put(errors)


def test_many_processes_opening_a_brand_new_file_at_once(tmp_path: Path) -> None:
    """First use from cron and an SSH login at the same moment: nobody sees "locked"."""
    paths = [str(tmp_path / f"new{i}.db") for i in range(40)]
    ctx = multiprocessing.get_context("spawn")
    n = 6
    barrier = ctx.Barrier(n)
    results = ctx.Queue()
    procs = [ctx.Process(target=_open_worker, args=(paths, barrier, results)) for _ in range(n)]
    for p in procs:
        p.start()
    errors = [e for _ in procs for e in results.get(timeout=120)]
    for p in procs:
        p.join(timeout=60)
    assert errors == []
    for path in paths:
        assert _user_version(Path(path)) == len(MIGRATIONS)
