"""SQLite connections: WAL, our own busy timeout, explicit BEGIN IMMEDIATE, file mode 0600.

One connection per thread (a `Store` hands each thread its own), so the store is safe from
Textual's worker threads and from several processes at once. Connections run in autocommit
mode (`isolation_level=None`); every read-modify-write goes through `Store.write()`, which
issues `BEGIN IMMEDIATE` itself (Python's implicit deferred BEGIN reproduces
SQLITE_BUSY_SNAPSHOT between processes).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..domain.errors import DatabaseBusy, DiskFull, PlantechError
from .schema import migrate

BUSY_TIMEOUT_S = 15.0
# `PRAGMA quick_check` on open up to this size. It reads every page: measured on a busy 2-core
# machine (load 4), 1 MB 3-11 ms, 4 MB 26-33 ms, 8 MB 57-128 ms, 51 MB (100k accounts plus
# their audit rows) 620-700 ms; so a bigger file is
# checked once before its first write in each process instead
QUICK_CHECK_ON_OPEN_BYTES = 4 * 1024 * 1024
# before a pull's apply it is checked again unless that would cost more than this share of the
# time since the last check (`sync --all` of 1,000 plans on a 100k-account file: a few checks,
# not 1,000 × 0.6 s); tests set it to infinity to check before every apply
RECHECK_SHARE = 0.1


class DatabaseDamaged(PlantechError):
    """`PRAGMA quick_check` failed: malformed pages. Nothing is read from or written to it."""

    exit_code = 1

    @classmethod
    def of(cls, problem: str) -> DatabaseDamaged:
        problem = " ".join(problem.split())[:200]
        return cls(f"database is damaged ({problem}): nothing was written; run plantech doctor "
                   "and restore the last backup, see plantech docs deploy, §8")


def is_malformed(exc: BaseException) -> bool:
    """SQLITE_CORRUPT / SQLITE_NOTADB met while reading or writing."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.DatabaseError) and (
        (code is not None and code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB))
        or "malformed" in str(exc))


def integrity_problem(conn: sqlite3.Connection) -> str | None:
    """The first problem `PRAGMA quick_check` finds (None when the file is sound)."""
    try:
        row = conn.execute("PRAGMA quick_check(1)").fetchone()
    except sqlite3.DatabaseError as exc:
        if not is_malformed(exc):
            raise
        return str(exc)
    result = str(row[0]) if row else "quick_check gave no answer"
    return None if result == "ok" else result


def _create_private(path: Path) -> None:
    """Create the database file with mode 0600 (and any missing folder 0700) before SQLite
    opens it.

    SQLite gives the -wal and -shm files the same permissions as the database file.
    """
    from ..paths import make_private_dir

    make_private_dir(path.parent)  # 0700: nobody else lists what lies beside the database
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)


def is_disk_full(exc: BaseException) -> bool:
    """SQLITE_FULL ("database or disk is full")."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.OperationalError) and (
        (code is not None and code & 0xFF == sqlite3.SQLITE_FULL)
        or (code is None and "database or disk is full" in str(exc)))


def connect(path: Path | str, *, timeout: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    path = Path(path)
    if not path.exists():
        _create_private(path)
    try:
        conn = sqlite3.connect(
            path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise PlantechError(f"cannot open database {path}: {exc}") from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        _use_wal(conn, path, timeout)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:  # e.g. "file is not a database"
        conn.close()
        raise PlantechError(f"cannot open database {path}: {exc}") from None
    except BaseException:
        conn.close()
        raise
    return conn


def _use_wal(conn: sqlite3.Connection, path: Path, timeout: float) -> None:
    """Switch the file to WAL. The switch needs an exclusive lock, and SQLite reports "database
    is locked" at once (busy handler or not) while another process opens or switches the same
    new file, so retry until the busy timeout."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
            if mode != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if not ("locked" in str(exc) or "busy" in str(exc)):
                raise
            if time.monotonic() >= deadline:
                raise DatabaseBusy(
                    f"database {path} is busy (another process held it for over "
                    f"{timeout:.0f} s)"
                ) from None
            time.sleep(delay)  # back off before retrying the switch
            delay = min(delay * 2, 0.05)


Params = Iterable[Any] | Mapping[str, Any]


class Database:
    """The connection as the layers above use it: `execute` and `query` (rows as dicts).

    It stands in for sqlite-utils' `Database`, of which only these two methods were used;
    importing sqlite-utils (click, pluggy, dateutil) cost ~36 ms of every start-up.
    """

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Params | None = None) -> sqlite3.Cursor:
        if parameters is None:
            return self.conn.execute(sql)
        return self.conn.execute(sql, parameters)  # type: ignore[arg-type]

    def query(self, sql: str, parameters: Params | None = None) -> Iterator[dict[str, Any]]:
        cursor = self.execute(sql, parameters)
        names = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(names, row, strict=True))


class Store:
    """A database file. Hands each thread its own connection; migrates on first open."""

    def __init__(self, path: Path | str, *, timeout: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._checked = False  # quick_check passed once in this process (before any write)
        self._checked_at = 0.0  # when it last passed (monotonic), and what it cost
        self._check_cost = 0.0
        conn = self.conn
        with self._busy_guard():
            try:
                size = self.path.stat().st_size
            except OSError:
                size = 0
            try:
                if size <= QUICK_CHECK_ON_OPEN_BYTES:
                    self.check_integrity()
                migrate(conn)
            except BaseException:
                self.close()
                raise

    def check_integrity(self, *, unless_recent: bool = False) -> None:
        """Raise DatabaseDamaged when `PRAGMA quick_check` fails (inside or outside a
        transaction; a write transaction is rolled back by `write()`). `unless_recent`: skip
        it while its cost would exceed RECHECK_SHARE of the time since it last passed."""
        started = time.monotonic()
        if (unless_recent and self._checked
                and self._check_cost > RECHECK_SHARE * (started - self._checked_at)):
            return
        problem = integrity_problem(self.conn)
        self._checked = problem is None
        if problem is not None:
            raise DatabaseDamaged.of(problem)
        self._checked_at = time.monotonic()
        self._check_cost = self._checked_at - started

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, timeout=self.timeout)
            self._local.conn = conn
            self._local.db = Database(conn)
            with self._lock:
                self._all.append(conn)
        return conn

    @property
    def db(self) -> Database:
        self.conn  # noqa: B018 - ensures this thread's connection exists
        return self._local.db

    @contextmanager
    def _busy_guard(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            if is_disk_full(exc):
                raise DiskFull.of(self.path.name) from None
            if "locked" in str(exc) or "busy" in str(exc):
                raise DatabaseBusy(
                    f"database {self.path} is busy (another process held it for over "
                    f"{self.timeout:.0f} s)"
                ) from None
            raise

    @contextmanager
    def write(self) -> Iterator[Database]:
        """One read-modify-write unit: BEGIN IMMEDIATE … COMMIT, rolled back on any error."""
        conn = self.conn
        if conn.in_transaction:  # nested use joins the outer transaction
            yield self.db
            return
        with self._busy_guard():
            conn.execute("BEGIN IMMEDIATE")
        try:
            if not self._checked:  # a big file skipped the check on open: once before writing
                self.check_integrity()
            yield self.db
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if is_disk_full(exc):  # rolled back: nothing of it was written
                raise DiskFull.of(self.path.name) from None
            raise
        else:
            try:
                with self._busy_guard():
                    conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # never leave a half-open transaction behind
                    conn.execute("ROLLBACK")
                raise

    @contextmanager
    def read(self) -> Iterator[Database]:
        """A consistent snapshot for several SELECTs (deferred transaction, read only)."""
        conn = self.conn
        if conn.in_transaction:
            yield self.db
            return
        with self._busy_guard():
            conn.execute("BEGIN")
        try:
            yield self.db
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    def data_version(self) -> int:
        """Changes when another connection commits (screens poll it to notice other users)."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()


def now_utc() -> str:
    """UTC timestamp as stored and shown in JSON: 2026-11-25T14:02:11Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
