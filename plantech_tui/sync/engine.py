"""The pull engine: fetch (outside any transaction) → pure diff → one BEGIN IMMEDIATE apply.

At most one pull per plan runs at a time across processes: a run claims a lease in
`sync_runs` (expiring, and released early when its process is gone), renews it every third of
`LEASE_SECONDS` while it fetches, and applies only if it still holds it. A crash leaves the plan
before or after the apply transaction, never between.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, date
from decimal import Decimal
from typing import Any

from ..domain.errors import AlreadyRunning, NotFound, PlantechError
from ..domain.mapping import Mapping as TypeMapping
from ..domain.models import Integration
from ..domain.report import PullError, RefreshReport
from ..store import rows as R
from ..store.db import Store, now_utc
from . import redtail
from .diff import PULLED, ContactFetch, Lookups, PlanDiff, compute_diff
from .models import RedtailAccount
from .redtail import InvalidCredentials, RedtailClient, RedtailError

LEASE_SECONDS = 600.0  # read at each use: tests set a tiny lease on the module
LOST_LEASE = "lost the pull lease to another run"
ClientFactory = Callable[[Integration], RedtailClient]
Progress = Callable[[int, int, int], None]  # (contacts done, contacts in all, requests)
log = logging.getLogger("plantech.pull")


class PullCancelled(PlantechError):
    """The user cancelled a pull before its apply step: nothing was applied."""


def log_outcome(plan_id: int, report: RefreshReport | None, seconds: float,
                status: str | None = None) -> None:
    """One INFO line per pull (the only place pulls are logged): plan, status, counts, errors,
    duration. Error texts are Redtail's messages (never a key or password)."""
    if report is None:
        log.info("pull plan=%s status=%s duration=%.2fs", plan_id, status, seconds)
        return
    errors = "; ".join(f"contact {e.redtail_contact_id}: {e.message}" if e.redtail_contact_id
                       else e.message for e in report.errors)
    log.info("pull plan=%s status=%s%s new=%d changed=%d unchanged=%d missing=%d errors=%d "
             "requests=%d duration=%.2fs%s", plan_id, report.status,
             " (dry run)" if report.dry_run else "", len(report.new), len(report.changes),
             report.unchanged, len(report.missing_at_source), len(report.errors),
             report.requests, seconds, f" — {errors}" if errors else "")


def _phase(name: str) -> None:
    """Crash tests (SPEC §10) read these markers to prove where a kill landed."""
    path = os.environ.get("PLANTECH_TEST_PHASES")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{name} {os.getpid()}\n")
            fh.flush()


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def local_today() -> str:
    return date.today().isoformat()


def claim_run(store: Store, plan_id: int, *, trigger: str, user_name: str,
              auto: bool = False) -> int | None:
    """Take the plan's pull lease. Returns the run id, or None when an automatic pull is not
    due (a successful pull already started today, or one is running). Raises AlreadyRunning
    for an explicit pull while another runs."""
    host = socket.gethostname()
    now = time.time()
    today = local_today()
    with store.write() as db:
        if R.one(db, "SELECT id FROM plans WHERE id = ?", [plan_id]) is None:
            raise NotFound(f"plan {plan_id} not found")
        for run in R.dict_rows(db, "SELECT * FROM sync_runs WHERE plan_id = ? AND "
                               "status = 'running'", [plan_id]):
            stale = (run["lease_expires_at"] or 0) < now or (
                run["host"] == host and not _alive(run["pid"]))
            if stale:
                db.execute("UPDATE sync_runs SET status = 'abandoned', finished_at = ? "
                           "WHERE id = ?", [now_utc(), run["id"]])
            elif auto:
                return None
            else:
                raise AlreadyRunning(f"a pull of plan {plan_id} is already running "
                                     f"(started {run['started_at']} by {run['user_name']})")
        if auto and R.one(db, "SELECT id FROM sync_runs WHERE plan_id = ? AND status = 'ok' "
                          "AND dry_run = 0 AND local_date = ?", [plan_id, today]):
            return None
        cur = db.execute(
            "INSERT INTO sync_runs (plan_id, trigger, user_name, status, started_at, local_date, "
            "lease_expires_at, pid, host) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)",
            [plan_id, trigger, user_name, now_utc(), today, now + LEASE_SECONDS, os.getpid(),
             host])
        return int(cur.lastrowid or 0)


def renew_run(store: Store, run_id: int) -> bool:
    """Push the run's lease `LEASE_SECONDS` further. False when the run no longer holds it
    (it lapsed and another run took the plan over)."""
    now = time.time()
    with store.write() as db:
        cur = db.execute("UPDATE sync_runs SET lease_expires_at = ? WHERE id = ? AND "
                         "status = 'running' AND lease_expires_at >= ?",
                         [now + LEASE_SECONDS, run_id, now])
        return cur.rowcount == 1


def holds_lease(db: Any, run_id: int) -> bool:
    """Inside the apply transaction: is the run still running with an unexpired lease?"""
    row = R.one(db, "SELECT status, lease_expires_at FROM sync_runs WHERE id = ?", [run_id])
    return (row is not None and row["status"] == "running"
            and (row["lease_expires_at"] or 0) >= time.time())


async def _keep_lease(store: Store, run_id: int) -> None:
    """Renew the lease every third of its length until cancelled (the fetch ended) or lost."""
    while True:
        await asyncio.sleep(LEASE_SECONDS / 3)
        try:
            held = await asyncio.to_thread(renew_run, store, run_id)
        except Exception:  # a busy database: try again at the next tick, the apply checks
            continue
        if not held:
            return


def release_run(store: Store, run_id: int, report: RefreshReport | None, status: str) -> None:
    """Close a run that never reached its apply step (e.g. every fetch failed, or cancelled)."""
    with store.write() as db:
        db.execute("UPDATE sync_runs SET status = ?, finished_at = ?, report = ? WHERE id = ? "
                   "AND status = 'running'",
                   [status, now_utc(), json.dumps(report.as_json()) if report else None, run_id])


_TEXT_FIELDS = ("number", "company", "account_type", "product", "status")


def _storable_text(value: str | None) -> bool:
    if value is None or value.isascii():
        return True
    try:
        value.encode("utf-8")  # lone surrogates (JSON "\ud800") cannot go into SQLite
    except UnicodeEncodeError:
        return False
    return True


def _unstorable(accounts: list[RedtailAccount]) -> str | None:
    """Why leniently parsed accounts could not be stored (ids beyond SQLite's 64 bits, text
    with lone surrogates, a timestamp that overflows in UTC), or None."""
    for acct in accounts:
        if not -(2**63) <= acct.id < 2**63:
            return f"account id {acct.id} is out of range"
        for name in _TEXT_FIELDS:
            if not _storable_text(getattr(acct, name)):
                return f"account {acct.id}: {name} is not valid Unicode"
        if acct.updated_at is not None and acct.updated_at.utcoffset():
            try:
                acct.updated_at.astimezone(UTC)
            except OverflowError:
                return f"account {acct.id}: updated_at is out of range"
    return None



class PullEngine:
    """Pulls plans. One engine per run: it shares clients and lookup lists across plans."""

    def __init__(self, store: Store, mapping: TypeMapping, client_for: ClientFactory, *,
                 user_name: str) -> None:
        self.store = store
        self.mapping = mapping
        self.client_for = client_for
        self.user_name = user_name
        self._clients: dict[int, RedtailClient] = {}
        self._integrations: dict[int, Integration] = {}
        self._lookups: dict[int, asyncio.Task[Lookups | PullError]] = {}
        self.on_auth_failure: Callable[[int, str], None] | None = None

    async def __aenter__(self) -> PullEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for task in self._lookups.values():
            task.cancel()
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    @property
    def request_count(self) -> int:
        return sum(c.request_count for c in self._clients.values())

    # ---------------------------------------------------------------- fetch

    def _integration(self, integration_id: int) -> Integration:
        if integration_id not in self._integrations:
            row = R.one(self.store.db, "SELECT * FROM integrations WHERE id = ?", [integration_id])
            if row is None:
                raise NotFound(f"integration {integration_id} not found")
            self._integrations[integration_id] = R.integration_from(row)
        return self._integrations[integration_id]

    def _client(self, integration_id: int) -> RedtailClient:
        if integration_id not in self._clients:
            self._clients[integration_id] = self.client_for(self._integration(integration_id))
        return self._clients[integration_id]

    def _lookups_for(self, integration_id: int) -> Awaitable[Lookups | PullError]:
        if integration_id not in self._lookups:
            client = self._client(integration_id)
            # started now, before the contacts' pages: the lists are small and answered
            # first, so their slots free up early for the pages of the second wave
            lists = (asyncio.ensure_future(client.account_types()),
                     asyncio.ensure_future(client.tax_qualified_types()))

            integration = self._integration(integration_id)
            # "integration 1 (Redtail, jdoe)": which login's lists failed, in every message
            whose = f"integration {integration_id} (Redtail, {integration.username})"
            names = ("account types", "tax-qualified types")

            async def fetch() -> Lookups | PullError:
                results = await asyncio.gather(*lists, return_exceptions=True)
                for name, result in zip(names, results, strict=True):
                    if isinstance(result, RedtailError):
                        return PullError(redtail_contact_id=None, kind=result.kind,
                                         message=f"{whose}: lookup list {name}: "
                                                 f"{result.message}")
                    if isinstance(result, BaseException):
                        raise result
                types, tqs = results
                assert not isinstance(types, BaseException)
                assert not isinstance(tqs, BaseException)
                for name, items in zip(names, (types, tqs), strict=True):
                    if not all(_storable_text(t.name) for t in items):
                        return PullError(redtail_contact_id=None, kind="bad_response",
                                         message=f"{whose}: lookup list {name}: a name is not "
                                                 "valid Unicode")
                return Lookups({t.id: t.name for t in types}, {t.id: t.name for t in tqs})

            self._lookups[integration_id] = asyncio.ensure_future(fetch())
        return self._lookups[integration_id]

    async def _fetch_contact(self, integration_id: int, contact_id: int) -> ContactFetch:
        try:
            client = self._client(integration_id)
            accounts, cut = await client.contact_accounts_listing(contact_id)
        except RedtailError as exc:
            if isinstance(exc, InvalidCredentials) and self.on_auth_failure:
                self.on_auth_failure(integration_id, exc.message)
            return ContactFetch(integration_id, contact_id, error=PullError(
                redtail_contact_id=contact_id, kind=exc.kind, message=exc.message))
        except Exception as exc:  # a credential-store failure, say: this contact fails alone
            return ContactFetch(integration_id, contact_id, error=PullError(
                redtail_contact_id=contact_id, kind="error", message=str(exc)))
        problem = _unstorable(accounts)
        if problem:  # parsed, but it would break the apply transaction: fail this contact alone
            return ContactFetch(integration_id, contact_id, error=PullError(
                redtail_contact_id=contact_id, kind="bad_response",
                message=f"Redtail sent an unreadable answer for the accounts of contact "
                        f"{contact_id}: {problem}"))
        if cut:  # what arrived is staged; the contact is reported and flags nothing missing
            return ContactFetch(integration_id, contact_id, accounts=accounts, truncated=True,
                                error=PullError(
                redtail_contact_id=contact_id, kind="truncated",
                message=f"the accounts of contact {contact_id}: Redtail's listing was cut "
                        f"(stopped after {redtail.MAX_PAGES} pages, {len(accounts)} accounts "
                        "read and staged); nothing was flagged missing at source"))
        return ContactFetch(integration_id, contact_id, accounts=accounts)

    async def fetch(self, contacts: Iterable[tuple[int, int]], progress: Progress | None = None
                    ) -> tuple[list[ContactFetch], dict[int, Lookups], list[PullError]]:
        contacts = list(contacts)
        integrations = sorted({i for i, _ in contacts})
        lookup_results = asyncio.gather(*(self._lookups_for(i) for i in integrations))
        done, before = 0, self.request_count

        async def counted(integration_id: int, contact_id: int) -> ContactFetch:
            nonlocal done
            result = await self._fetch_contact(integration_id, contact_id)
            done += 1
            if progress:
                progress(done, len(contacts), self.request_count - before)
            return result

        if progress:
            progress(0, len(contacts), 0)
        fetches = await asyncio.gather(*(counted(i, c) for i, c in contacts))
        lookups: dict[int, Lookups] = {}
        errors: list[PullError] = []
        for integration_id, result in zip(integrations, await lookup_results, strict=True):
            if isinstance(result, PullError):
                errors.append(result)
            else:
                lookups[integration_id] = result
        return list(fetches), lookups, errors

    # ---------------------------------------------------------------- pull

    def _contacts(self, plan_id: int) -> list[tuple[int, int]]:
        return [(r["integration_id"], r["redtail_contact_id"]) for r in R.dict_rows(
            self.store.db, "SELECT integration_id, redtail_contact_id FROM plan_contacts "
            "WHERE plan_id = ? ORDER BY integration_id, redtail_contact_id", [plan_id])]

    async def pull(self, plan_id: int, *, trigger: str = "manual", dry_run: bool = False,
                   auto: bool = False, progress: Progress | None = None,
                   cancel: asyncio.Event | None = None) -> RefreshReport | None:
        """Pull one plan. Returns its report, or None when an automatic pull is not due.
        `progress` hears of each contact fetched; setting `cancel` before the apply step
        raises PullCancelled with nothing applied and the lease released."""
        clock = time.monotonic()
        run_id = None
        if not dry_run:
            run_id = claim_run(self.store, plan_id, trigger=trigger, user_name=self.user_name,
                               auto=auto)
            if run_id is None:
                return None
            _phase("claimed")
        started = now_utc()
        fetching: asyncio.Future[Any] | None = None
        try:
            _phase("fetch")
            contacts = self._contacts(plan_id)
            before = self.request_count
            keeper = (asyncio.ensure_future(_keep_lease(self.store, run_id))
                      if run_id is not None else None)
            try:
                fetching = asyncio.ensure_future(self.fetch(contacts, progress))
                if cancel is not None:  # the fetch, or the cancel, whichever comes first
                    waiter = asyncio.ensure_future(cancel.wait())
                    try:
                        await asyncio.wait({fetching, waiter},
                                           return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        waiter.cancel()
                    if cancel.is_set():  # the cancellation point: before the apply step
                        raise PullCancelled("Pull cancelled; nothing changed")
                fetches, lookups, lookup_errors = await fetching
            finally:
                if keeper is not None:  # not awaited: that could swallow our own cancellation
                    keeper.cancel()
            requests = self.request_count - before
        except BaseException as exc:
            if fetching is not None:
                fetching.cancel()
            if run_id is not None:
                release_run(self.store, run_id, None, "abandoned")
            log_outcome(plan_id, None, time.monotonic() - clock,
                        "cancelled" if isinstance(exc, PullCancelled) else "abandoned")
            raise
        try:
            report = self.apply(plan_id, fetches, lookups, lookup_errors, run_id=run_id,
                                dry_run=dry_run, started=started, requests=requests)
        except BaseException:
            if run_id is not None:
                release_run(self.store, run_id, None, "abandoned")
            log_outcome(plan_id, None, time.monotonic() - clock, "abandoned")
            raise
        log_outcome(plan_id, report, time.monotonic() - clock)
        return report

    async def pull_many(self, plan_ids: Iterable[int], *, trigger: str = "cli",
                        dry_run: bool = False,
                        on_done: Callable[[RefreshReport | PullError], None] | None = None,
                        ) -> list[RefreshReport | PullError]:
        """Pull several plans concurrently (the clients' in-flight limits bound the load);
        `on_done` hears of each plan as it finishes."""

        async def one(pid: int) -> RefreshReport | PullError:
            result: RefreshReport | PullError
            try:
                report = await self.pull(pid, trigger=trigger, dry_run=dry_run)
            except (AlreadyRunning, NotFound) as exc:
                log.info("pull plan=%s status=failed — %s", pid, exc.message)
                result = PullError(redtail_contact_id=None, kind=type(exc).__name__,
                                   message=exc.message, plan_id=pid)
            else:
                assert report is not None
                result = report
            if on_done:
                on_done(result)
            return result

        return list(await asyncio.gather(*(one(p) for p in plan_ids)))

    def apply(self, plan_id: int, fetches: list[ContactFetch], lookups: dict[int, Lookups],
              lookup_errors: list[PullError], *, run_id: int | None, dry_run: bool,
              started: str, requests: int = 0) -> RefreshReport:
        now = now_utc()
        cm = self.store.read() if dry_run else self.store.write()
        with cm as db:
            _phase("apply-begin")
            if not dry_run:  # malformed pages since the run began: write nothing
                self.store.check_integrity(unless_recent=True)
            if run_id is not None and not holds_lease(db, run_id):
                # the lease lapsed (another run may have taken the plan): apply nothing
                lost = RefreshReport(plan_id=plan_id, status="failed", errors=[PullError(
                    redtail_contact_id=None, kind="lost_lease", message=LOST_LEASE)],
                    requests=requests, started_at=started, finished_at=now)
                db.execute("UPDATE sync_runs SET status = 'failed', finished_at = ?, "
                           "report = ?, lease_expires_at = NULL WHERE id = ? AND "
                           "status = 'running'", [now, json.dumps(lost.as_json()), run_id])
                return lost
            rows = R.dict_rows(db, "SELECT * FROM staged_accounts WHERE plan_id = ?", [plan_id])
            listings = R.staged_contacts(db, [r["id"] for r in rows])
            balances = {r["id"]: Decimal(r["balance"]) for r in R.dict_rows(
                db, "SELECT id, balance FROM plan_accounts WHERE plan_id = ?", [plan_id])}
            diff = compute_diff(plan_id=plan_id, fetches=fetches, rows=rows, listings=listings,
                                account_balances=balances, lookups=lookups,
                                mapping=self.mapping, now=now)
            report = diff.report
            assert report is not None
            if lookup_errors:
                report.errors.extend(lookup_errors)
                if report.status == "ok":
                    report.status = "partial"
            report.dry_run = dry_run
            report.requests = requests
            report.started_at = started
            report.finished_at = now
            if not dry_run:
                assert run_id is not None
                self._write(db.conn, diff, run_id, now)
                db.execute("UPDATE sync_runs SET status = ?, finished_at = ?, report = ?, "
                           "lease_expires_at = NULL WHERE id = ?",
                           [report.status, now, json.dumps(report.as_json()), run_id])
                _phase("apply-end")
        if not dry_run:
            _phase("committed")
        return report

    def _write(self, conn: sqlite3.Connection, diff: PlanDiff, run_id: int, now: str) -> None:
        """Apply a diff inside the caller's transaction."""
        user = self.user_name
        plan_id = diff.plan_id
        audit: list[tuple[Any, ...]] = []
        cols = ["plan_id", "integration_id", "redtail_account_id", "state", "description",
                *PULLED, "last_updated", "created_at"]
        insert_sql = (f"INSERT INTO staged_accounts ({', '.join(cols)}) "  # noqa: S608
                      f"VALUES ({', '.join('?' * len(cols))})")
        if diff.inserts:
            (top,) = conn.execute("SELECT coalesce(max(id), 0) FROM staged_accounts").fetchone()
            conn.executemany(insert_sql, ([row[c] for c in cols] for row in diff.inserts))
            _phase("apply-rows")
            new_ids = {(r[1], r[2]): r[0] for r in conn.execute(
                "SELECT id, integration_id, redtail_account_id FROM staged_accounts "
                "WHERE plan_id = ? AND id > ?", [plan_id, top])}
            listing: list[tuple[int, int]] = []
            for row in diff.inserts:
                staged_id = new_ids[(row["integration_id"], row["redtail_account_id"])]
                listing += [(staged_id, c) for c in row["contacts"]]
                after = {c: row[c] for c in ("redtail_account_id", "description", "account_type",
                                             "default_investment_type", "balance")}
                audit.append((now, user, plan_id, "pull: staged", "staged", staged_id, None,
                              json.dumps(after), f"run {run_id}"))
            conn.executemany("INSERT INTO staged_account_contacts (staged_id, redtail_contact_id)"
                             " VALUES (?, ?)", listing)
        for row, changes in diff.updates:
            content = {k: v for k, v in changes.items()
                       if k not in ("last_updated", "missing_streak", "redtail_updated_at")}
            sets = ", ".join(f"{k} = ?" for k in changes)
            bump = ", version = version + 1" if content else ""
            conn.execute(f"UPDATE staged_accounts SET {sets}{bump} WHERE id = ?",  # noqa: S608
                         [*changes.values(), row["id"]])
            if content:
                audit.append((now, user, plan_id, "pull: updated", "staged", row["id"],
                              json.dumps({k: row[k] for k in content}),
                              json.dumps(content), f"run {run_id}"))
        conn.executemany("UPDATE staged_accounts SET last_updated = ? WHERE id = ?",
                         [(now, staged_id) for staged_id in diff.touched])
        for staged_id, contacts in diff.listings.items():
            conn.execute("DELETE FROM staged_account_contacts WHERE staged_id = ?", [staged_id])
            conn.executemany(
                "INSERT INTO staged_account_contacts (staged_id, redtail_contact_id) VALUES (?, ?)",
                [(staged_id, c) for c in sorted(contacts)])
        for account_id, old, new, _staged_id in diff.balances:
            conn.execute("UPDATE plan_accounts SET balance = ?, updated_at = ?, "
                         "version = version + 1 WHERE id = ?", [f"{new:f}", now, account_id])
            conn.execute("INSERT INTO balance_history (plan_account_id, balance, source, at, "
                         "sync_run_id) VALUES (?, ?, 'pull', ?, ?)",
                         [account_id, f"{new:f}", now, run_id])
            audit.append((now, user, plan_id, "pull: balance", "account", account_id,
                          json.dumps({"balance": f"{old:f}"}), json.dumps({"balance": f"{new:f}"}),
                          f"run {run_id}"))
        report = diff.report
        assert report is not None
        audit.append((now, user, plan_id, "pull", "plan", plan_id, None, None,
                      f"run {run_id}: {report.status}: {report.summary()}"))
        conn.executemany(
            "INSERT INTO audit_log (at, user_name, plan_id, action, object_type, object_id, "
            "before, after, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", audit)



