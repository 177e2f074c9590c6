"""Workspace actions that talk to Redtail: connect an integration, search and link contacts,
pull plans. The role checks are the workspace's; the network work happens here, outside any
transaction. Front ends (CLI, TUI) call these; tests may pass their own `client_for`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .. import notices
from ..domain.errors import UsageError, ValidationFailed
from ..domain.models import Integration, PlanContact
from ..domain.permissions import Action, require
from ..domain.report import PullError, RefreshReport
from .credentials import Credentials, CredentialStore, new_secret_ref, open_credential_store
from .redtail import InvalidCredentials, RedtailClient, validate_base_url

if TYPE_CHECKING:
    from ..service.workspace import Workspace

ClientFor = Callable[[Integration], RedtailClient]
_store: CredentialStore | None = None
_store_lock = threading.Lock()  # one probe per process, whichever thread asks first


def credential_store(notify: Callable[[str], None] | None = None) -> CredentialStore:
    """The process's credential store (OS keyring, or the 0600 file fallback). Thread-safe:
    a second caller waits for the first one's probe instead of probing again."""
    global _store
    if _store is not None:
        return _store
    with _store_lock:
        if _store is None:
            from ..paths import data_dir

            # say so once: when the fallback file is about to be created, not on every command
            first_time = not (data_dir() / "credentials.json").exists()
            _store = open_credential_store(
                data_dir(), notify=(notify or notices.notice) if first_time else None)
        return _store


async def credential_store_async() -> CredentialStore:
    """The store, opened in a thread when it is not open yet: opening may wait out a keyring
    probe (up to 2 s, or another thread's probe), which must not hold an event loop (the
    TUI's is its UI thread). Every async action here opens it so before it needs it."""
    if _store is not None:
        return _store
    return await asyncio.to_thread(credential_store)


def reset_credential_store() -> None:
    global _store
    with _store_lock:
        _store = None


def default_client_for(max_in_flight: int = 8) -> ClientFor:
    def client_for(integration: Integration) -> RedtailClient:
        creds = credential_store().get(integration.secret_ref)
        if creds is None:
            raise InvalidCredentials(
                f"no stored key for integration {integration.id} ({integration.username}): "
                "reconnect it from Advisor Integration")
        return RedtailClient(integration.base_url, creds.api_key, creds.user_key,
                             max_in_flight=max_in_flight)

    return client_for


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


# ------------------------------------------------------------------ integrations


async def connect_integration(
    ws: Workspace, *, base_url: str, username: str, password: str, api_key: str | None,
    environment: str | None = None, transport: Any = None,
) -> tuple[Integration, bool]:
    """Validate a Redtail login (never retried: Redtail locks after three failures), then store
    the API key and user key as one secret. The password is never stored."""
    require(ws.user, Action.ADVISOR_INTEGRATION)
    from ..config import default_api_key, environment_of

    url = validate_base_url(base_url)
    username = username.strip()
    if not username:
        raise ValidationFailed("username is required", field="username")
    if not password:
        raise ValidationFailed("password is required", field="password")
    key = (api_key or "").strip() or default_api_key()
    if not key:
        raise ValidationFailed("an API key is required (--api-key, PLANTECH_REDTAIL_API_KEY or "
                               "config.toml [redtail] api_key)", field="api_key")
    async with RedtailClient(url, key, transport=transport) as client:
        auth = await client.authenticate(username, password)
    store = await credential_store_async()
    holder: dict[str, str] = {}

    def new_ref() -> str:
        holder["ref"] = new_secret_ref()
        store.set(holder["ref"], Credentials(api_key=key, user_key=auth.user_key))
        return holder["ref"]

    integration, created = ws.save_integration(
        environment=environment or environment_of(url), base_url=url, username=username,
        secret_ref_factory=new_ref)
    if not created:  # re-key the existing secret
        store.set(integration.secret_ref, Credentials(api_key=key, user_key=auth.user_key))
    return integration, created


# ------------------------------------------------------------------ contacts


async def _client(ws: Workspace, integration_id: int, client_for: ClientFor | None
                  ) -> RedtailClient:
    integration = ws.integration(integration_id)
    if client_for is None:
        await credential_store_async()
    return (client_for or default_client_for())(integration)


async def search_contacts_async(ws: Workspace, plan_id: int, integration_id: int,
                                criteria: Mapping[str, str | None],
                                client_for: ClientFor | None = None) -> dict[str, Any]:
    require(ws.user, Action.LINK_CONTACT)
    ws.plan(plan_id)
    wanted = {k: v.strip() for k, v in criteria.items() if v and v.strip()}
    if not wanted:
        raise UsageError("give at least one search criterion (--name, --first-name, "
                         "--last-name, --email, --account-number)")
    linked = {c.redtail_contact_id for c in ws.contacts(plan_id)
              if c.integration_id == integration_id}
    async with await _client(ws, integration_id, client_for) as client:
        found, truncated = await client.search_contacts(**wanted, limit=200)
    return {
        "contacts": [{"redtail_contact_id": c.id, "name": c.full_name, "first_name": c.first_name,
                      "last_name": c.last_name, "linked": c.id in linked}
                     for c in sorted(found, key=lambda c: c.id)],
        "truncated": truncated,
    }


def search_contacts(ws: Workspace, plan_id: int, integration_id: int,
                    criteria: Mapping[str, str | None],
                    client_for: ClientFor | None = None) -> dict[str, Any]:
    return run_async(search_contacts_async(ws, plan_id, integration_id, criteria, client_for))  # type: ignore[no-any-return]


async def link_contacts_async(ws: Workspace, plan_id: int, integration_id: int,
                              contact_ids: Iterable[int], client_for: ClientFor | None = None,
                              ) -> list[PlanContact]:
    """Fetch each contact (404 → an error with Redtail's message) and link it; no-op when
    already linked."""
    require(ws.user, Action.LINK_CONTACT)
    ws.plan(plan_id)
    ids = list(dict.fromkeys(contact_ids))
    async with await _client(ws, integration_id, client_for) as client:
        contacts = await asyncio.gather(*(client.get_contact(c) for c in ids))
    return [ws.link_contact(plan_id, integration_id, c.id, c.full_name, c.first_name)
            for c in contacts]


def link_contact(ws: Workspace, plan_id: int, integration_id: int, contact_id: int,
                 client_for: ClientFor | None = None) -> PlanContact:
    return run_async(link_contacts_async(ws, plan_id, integration_id, [contact_id],  # type: ignore[no-any-return]
                                         client_for))[0]


async def link_household_async(ws: Workspace, plan_id: int, integration_id: int, contact_id: int,
                               client_for: ClientFor | None = None) -> list[PlanContact]:
    """Link a contact's whole Redtail family in one step."""
    require(ws.user, Action.LINK_CONTACT)
    async with await _client(ws, integration_id, client_for) as client:
        family = await client.contact_family(contact_id)
    ids = [m.contact_id for m in family.members] or [contact_id]
    return await link_contacts_async(ws, plan_id, integration_id, ids, client_for)


# ------------------------------------------------------------------ pulls


async def _engine(ws: Workspace, client_for: ClientFor | None, max_in_flight: int = 8) -> Any:
    from .engine import PullEngine

    if client_for is None:
        await credential_store_async()

    engine = PullEngine(ws.store, ws.mapping, client_for or default_client_for(max_in_flight),
                        user_name=ws.user.name)

    def auth_failed(integration_id: int, message: str) -> None:
        ws.set_integration_status(integration_id, "needs re-authentication", message)

    engine.on_auth_failure = auth_failed
    return engine


async def refresh_async(ws: Workspace, plan_id: int, *, dry_run: bool = False,
                        client_for: ClientFor | None = None,
                        progress: Callable[[int, int, int], None] | None = None,
                        cancel: asyncio.Event | None = None) -> RefreshReport:
    """Refresh Integrations: an ad hoc pull (advisors only). `progress` and `cancel`: see
    PullEngine.pull (a cancelled pull raises PullCancelled, nothing applied)."""
    require(ws.user, Action.REFRESH)
    ws.plan(plan_id)
    async with await _engine(ws, client_for) as engine:
        report = await engine.pull(plan_id, trigger="manual", dry_run=dry_run,
                                   progress=progress, cancel=cancel)
    assert report is not None
    return report  # type: ignore[no-any-return]


async def auto_pull_async(ws: Workspace, plan_id: int, *,
                          client_for: ClientFor | None = None,
                          progress: Callable[[int, int, int], None] | None = None,
                          cancel: asyncio.Event | None = None) -> RefreshReport | None:
    """The pull when a plan is opened: once per plan per local day, for every role, silent
    when not due or when the plan has no linked contacts."""
    require(ws.user, Action.AUTO_PULL)
    ws.plan(plan_id)
    from ..store import rows as R

    if R.one(ws.store.db, "SELECT 1 AS x FROM plan_contacts WHERE plan_id = ? LIMIT 1",
             [plan_id]) is None:
        return None
    async with await _engine(ws, client_for) as engine:
        return await engine.pull(plan_id, trigger="auto", auto=True,  # type: ignore[no-any-return]
                                 progress=progress, cancel=cancel)


async def sync_async(ws: Workspace, plan_ids: list[int] | None, *, dry_run: bool = False,
                     max_in_flight: int = 8, client_for: ClientFor | None = None,
                     trigger: str = "cli",
                     progress: Callable[[int, int, int, int], None] | None = None,
                     ) -> list[RefreshReport | PullError]:
    """Pull several plans (None: every plan visible to the user); `trigger` is what
    sync_runs records: "cli" for `plantech sync`, "manual" for Refresh all in the TUI.
    `progress` hears (plans done, plans in all, requests, plans failed) as plans finish."""
    require(ws.user, Action.REFRESH)
    if plan_ids is None:
        # ids only: ws.list_plans() loads every account and staged row for its totals (1.4 s
        # at 1,000 plans × 80 rows). Same visibility rule as Workspace._plan_row.
        from ..store import rows as R

        plan_ids = [r["id"] for r in R.dict_rows(
            ws.store.db, "SELECT p.id FROM plans p WHERE p.owner_user_id = ? OR EXISTS "
            "(SELECT 1 FROM plan_grants g WHERE g.plan_id = p.id AND g.user_id = ?) ORDER BY p.id",
            [ws.user.id, ws.user.id])]
    else:
        for pid in plan_ids:
            ws.plan(pid)
    plan_ids = list(dict.fromkeys(plan_ids))
    counts = [0, 0, 0]  # done, requests, failed

    def done(result: RefreshReport | PullError) -> None:
        counts[0] += 1
        if isinstance(result, RefreshReport):
            counts[1] += result.requests
        if isinstance(result, PullError) or result.status != "ok":
            counts[2] += 1
        if progress:
            progress(counts[0], len(plan_ids), counts[1], counts[2])

    if progress:
        progress(0, len(plan_ids), 0, 0)
    async with await _engine(ws, client_for, max_in_flight) as engine:
        return await engine.pull_many(plan_ids, trigger=trigger,  # type: ignore[no-any-return]
                                      dry_run=dry_run, on_done=done)

