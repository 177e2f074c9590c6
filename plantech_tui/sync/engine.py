"""The pull engine: fetch (outside any transaction) → pure diff → one BEGIN IMMEDIATE apply.

At most one pull per plan runs at a time across processes: a run claims a lease in
`sync_runs` (expiring, and released early when its process is gone), renews it every third of
`LEASE_SECONDS` while it fetches, and applies only if it still holds it. A crash leaves the plan
before or after the apply transaction, never between.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from ..domain.errors import AlreadyRunning, NotFound, PlantechError
from ..domain.models import Integration
from ..domain.report import PullError, RefreshReport
from ..partners.base import InvalidCredentials, PartnerConnection, PartnerError, legacy_id
from ..store import pulls as store_pulls
from ..store.db import Store, now_utc
from .diff import ContactFetch, PlanDiff, compute_diff

LEASE_SECONDS = 600.0  # read at each use: tests set a tiny lease on the module
LOST_LEASE = "lost the pull lease to another run"
ConnectionFor = Callable[[Integration], PartnerConnection]
Progress = Callable[[int, int, int], None]  # (contacts done, contacts in all, requests)
log = logging.getLogger("plantech.pull")


class PullCancelled(PlantechError):
    """The user cancelled a pull before its apply step: nothing was applied."""


def log_outcome(plan_id: int, report: RefreshReport | None, seconds: float,
                status: str | None = None) -> None:
    """One INFO line per pull (the only place pulls are logged): plan, status, counts, errors,
    duration. Error texts are the partner's messages (never a key or password)."""
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


_gc_holds = 0  # pulls running now that hold the cycle collector off
_gc_was_on = False


@contextmanager
def _collector_held() -> Iterator[None]:
    """The cycle collector waits while pulls run. A 100k-account pull allocates millions of
    short-lived objects, and each full collection it triggers scans them all: 28 of them,
    0.3–1.2 s each, stalled every thread of the process (the TUI's keys with them) in
    `bench_pull_keys`. Reference counting frees nearly all of a pull's garbage anyway; what
    survives is collected once the last pull ends. Pulls run on one event loop, so the count
    needs no lock."""
    global _gc_holds, _gc_was_on
    if _gc_holds == 0:
        _gc_was_on = gc.isenabled()
        gc.disable()
    _gc_holds += 1
    try:
        yield
    finally:
        _gc_holds -= 1
        if _gc_holds == 0 and _gc_was_on:
            gc.enable()


def report_json(report: RefreshReport) -> str:
    """`json.dumps(report.as_json())`, byte for byte, in pieces of 1,000 list items: the C
    encoder holds the GIL for a whole call (136 ms for a 100k-account report, on the apply's
    worker thread), and the TUI's keys would wait that long (bench_pull_keys)."""
    parts = []
    for key, value in report.as_json().items():
        if isinstance(value, list) and len(value) > 1000:
            encoded = "[" + ", ".join(json.dumps(value[i:i + 1000])[1:-1]
                                      for i in range(0, len(value), 1000)) + "]"
        else:
            encoded = json.dumps(value)
        parts.append(f"{json.dumps(key)}: {encoded}")
    return "{" + ", ".join(parts) + "}"


def local_today() -> str:
    return date.today().isoformat()


def claim_run(store: Store, plan_id: int, *, trigger: str, user_name: str,
              auto: bool = False) -> int | None:
    """Take the plan's pull lease (`store.pulls.claim_run`). Returns the run id, or None when
    an automatic pull is not due. Raises AlreadyRunning for an explicit pull while another
    runs."""
    return store_pulls.claim_run(store, plan_id, trigger=trigger, user_name=user_name,
                                 today=local_today(), lease_seconds=LEASE_SECONDS, auto=auto)


def renew_run(store: Store, run_id: int) -> bool:
    """Push the run's lease `LEASE_SECONDS` further. False when the run no longer holds it
    (it lapsed and another run took the plan over)."""
    return store_pulls.renew_run(store, run_id, LEASE_SECONDS)


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
    store_pulls.release_run(store, run_id, json.dumps(report.as_json()) if report else None,
                            status)


class PullEngine:
    """Pulls plans. One engine per run: it shares one partner connection per integration
    across plans (`connection_for` opens it: the service picks the partner of
    `integrations.partner` through the registry)."""

    def __init__(self, store: Store, connection_for: ConnectionFor, *, user_name: str) -> None:
        self.store = store
        self.connection_for = connection_for
        self.user_name = user_name
        self._connections: dict[int, PartnerConnection] = {}
        self._integrations: dict[int, Integration] = {}
        self._started: dict[int, asyncio.Task[list[PartnerError]]] = {}
        self.on_auth_failure: Callable[[int, str], None] | None = None

    async def __aenter__(self) -> PullEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for task in self._started.values():
            task.cancel()
        connections, self._connections = list(self._connections.values()), {}
        for connection in connections:
            await connection.aclose()

    @property
    def request_count(self) -> int:
        return sum(c.request_count for c in self._connections.values())

    # ---------------------------------------------------------------- fetch

    def _integration(self, integration_id: int) -> Integration:
        if integration_id not in self._integrations:
            self._integrations[integration_id] = store_pulls.integration(self.store,
                                                                         integration_id)
        return self._integrations[integration_id]

    def _connection(self, integration_id: int) -> PartnerConnection:
        if integration_id not in self._connections:
            self._connections[integration_id] = self.connection_for(
                self._integration(integration_id))
        return self._connections[integration_id]

    def _start(self, integration_id: int) -> asyncio.Task[list[PartnerError]]:
        """The connection's once-per-run preparation (Redtail's lookup lists), started before
        the contacts' pages."""
        if integration_id not in self._started:
            connection = self._connection(integration_id)
            self._started[integration_id] = asyncio.ensure_future(connection.start())
        return self._started[integration_id]

    async def _fetch_contact(self, integration_id: int, contact_id: str) -> ContactFetch:
        shown = legacy_id(contact_id)
        source = "the partner"
        try:
            connection = self._connection(integration_id)
            source = connection.label
            listing = await connection.accounts(contact_id)
        except PartnerError as exc:
            if isinstance(exc, InvalidCredentials) and self.on_auth_failure:
                self.on_auth_failure(integration_id, exc.message)
            return ContactFetch(integration_id, contact_id, source=source, error=PullError(
                redtail_contact_id=shown, kind=exc.kind, message=exc.message))
        except Exception as exc:  # a credential-store failure, say: this contact fails alone
            return ContactFetch(integration_id, contact_id, source=source, error=PullError(
                redtail_contact_id=shown, kind="error", message=str(exc)))
        if listing.truncated:  # what arrived is staged; the contact is reported, flags nothing
            note = listing.note or (f"{source}'s listing was cut ({len(listing.accounts)} "
                                    "accounts read and staged)")
            return ContactFetch(integration_id, contact_id, accounts=listing.accounts,
                                truncated=True, source=source, error=PullError(
                redtail_contact_id=shown, kind="truncated",
                message=f"the accounts of contact {contact_id}: {note}; nothing was flagged "
                        "missing at source"))
        return ContactFetch(integration_id, contact_id, accounts=listing.accounts,
                            source=source)

    async def fetch(self, contacts: Iterable[tuple[int, str]], progress: Progress | None = None
                    ) -> tuple[list[ContactFetch], list[PullError]]:
        contacts = list(contacts)
        integrations = sorted({i for i, _ in contacts})
        started = [self._start(i) for i in integrations]
        done, before = 0, self.request_count

        async def counted(integration_id: int, contact_id: str) -> ContactFetch:
            nonlocal done
            result = await self._fetch_contact(integration_id, contact_id)
            done += 1
            if progress:
                progress(done, len(contacts), self.request_count - before)
            return result

        if progress:
            progress(0, len(contacts), 0)
        fetches = await asyncio.gather(*(counted(i, c) for i, c in contacts))
        errors = [PullError(redtail_contact_id=None, kind=e.kind, message=e.message)
                  for found in await asyncio.gather(*started) for e in found]
        return list(fetches), errors

    # ---------------------------------------------------------------- pull

    def _contacts(self, plan_id: int) -> list[tuple[int, str]]:
        return store_pulls.plan_contacts(self.store, plan_id)

    async def pull(self, plan_id: int, *, trigger: str = "manual", dry_run: bool = False,
                   auto: bool = False, progress: Progress | None = None,
                   cancel: asyncio.Event | None = None) -> RefreshReport | None:
        """Pull one plan. Returns its report, or None when an automatic pull is not due.
        `progress` hears of each contact fetched; setting `cancel` before the apply step
        raises PullCancelled with nothing applied and the lease released."""
        with _collector_held():
            return await self._pull(plan_id, trigger=trigger, dry_run=dry_run, auto=auto,
                                    progress=progress, cancel=cancel)

    async def _pull(self, plan_id: int, *, trigger: str, dry_run: bool, auto: bool,
                    progress: Progress | None, cancel: asyncio.Event | None
                    ) -> RefreshReport | None:
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
                fetches, run_errors = await fetching
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
            # the diff and its transaction run on a worker thread (the store hands it its own
            # connection): a 100k-account apply takes seconds, and the TUI's event loop,
            # which awaits this, keeps answering keys meanwhile
            report = await asyncio.to_thread(
                self.apply, plan_id, fetches, run_errors, run_id=run_id, dry_run=dry_run,
                started=started, requests=requests)
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

    def apply(self, plan_id: int, fetches: list[ContactFetch], run_errors: list[PullError], *,
              run_id: int | None, dry_run: bool, started: str, requests: int = 0
              ) -> RefreshReport:
        """Diff what was fetched against the store and (unless a dry run) write it, in one
        transaction. `run_errors`: what the connections' `start` could not fetch."""
        now = now_utc()
        cm = self.store.read() if dry_run else self.store.write()
        with cm as db:
            _phase("apply-begin")
            if not dry_run:  # malformed pages since the run began: write nothing
                self.store.check_integrity(unless_recent=True)
            if run_id is not None and not store_pulls.holds_lease(db, run_id):
                # the lease lapsed (another run may have taken the plan): apply nothing
                lost = RefreshReport(plan_id=plan_id, status="failed", errors=[PullError(
                    redtail_contact_id=None, kind="lost_lease", message=LOST_LEASE)],
                    requests=requests, started_at=started, finished_at=now)
                store_pulls.finish_run(db, run_id, "failed", json.dumps(lost.as_json()), now,
                                       only_running=True)
                return lost
            rows, listings, balances = store_pulls.staged_for_diff(db, plan_id)
            diff = compute_diff(plan_id=plan_id, fetches=fetches, rows=rows, listings=listings,
                                account_balances=balances, now=now)
            report = diff.report
            assert report is not None
            if run_errors:
                report.errors.extend(run_errors)
                if report.status == "ok":
                    report.status = "partial"
            report.dry_run = dry_run
            report.requests = requests
            report.started_at = started
            report.finished_at = now
            if not dry_run:
                assert run_id is not None
                self._write(db.conn, diff, run_id, now)
                store_pulls.finish_run(db, run_id, report.status, report_json(report),
                                       now)
                _phase("apply-end")
        if not dry_run:
            _phase("committed")
        return report

    def _write(self, conn: Any, diff: PlanDiff, run_id: int, now: str) -> None:
        """Apply a diff inside the caller's transaction (`store.pulls.write_diff`)."""
        report = diff.report
        assert report is not None
        store_pulls.write_diff(conn, diff, run_id=run_id, now=now, user=self.user_name,
                               summary=f"{report.status}: {report.summary()}",
                               audit_id=legacy_id, phase=_phase)
