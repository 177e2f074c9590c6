"""Use cases that talk to a partner: connect an integration, search contacts, link contacts or
a household. The role checks are the workspace's; the partner is the integration's
(`integrations.partner` through `partners.registry`); the network work happens here, outside
any transaction. Front ends (CLI, TUI) call these; tests may pass their own `connection_for`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..domain.errors import PlantechError, UsageError
from ..domain.models import Integration, PlanContact
from ..domain.permissions import Action, require
from ..domain.text import clean_line
from ..partners import registry
from ..partners.base import (
    DeviceCode,
    InvalidCredentials,
    Partner,
    PartnerConnection,
    PartnerError,
    legacy_id,
)
from ..sync import credentials

if TYPE_CHECKING:
    from ..domain.mapping import Mapping as TypeMapping
    from .workspace import Workspace

ConnectionFor = Callable[[Integration], PartnerConnection]

__all__ = [
    "ConnectionFor",
    "connect_integration",
    "connection_for",
    "link_contact",
    "link_contacts_async",
    "link_household_async",
    "partner_of",
    "run_async",
    "search_contacts",
    "search_contacts_async",
]


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


def partner_of(integration: Integration) -> Partner:
    return registry.by_name(integration.partner)


def is_redtail(partner: Partner) -> bool:
    """Rows of the default partner keep the `redtail_*` JSON keys they always had."""
    return partner.slug == registry.DEFAULT


def connection_for(ws: Workspace | None = None, max_in_flight: int = 8) -> ConnectionFor:
    """Open an integration's connection: its partner from the registry, its secret from the
    credential store, its type mapping (the workspace's for the default partner, which may
    carry the firm's override; else the partner's own with its override file)."""
    mappings: dict[str, TypeMapping] = {}

    def mapping_of(partner: Partner) -> TypeMapping:
        if partner.slug not in mappings:
            if ws is not None and is_redtail(partner):
                mappings[partner.slug] = ws.mapping
            else:
                from ..paths import config_dir

                mappings[partner.slug] = partner.load_mapping(config_dir())
        return mappings[partner.slug]

    def open_connection(integration: Integration) -> PartnerConnection:
        partner = partner_of(integration)
        secret = credentials.credential_store().get(integration.secret_ref)
        if secret is None:
            raise InvalidCredentials(
                f"no stored key for integration {integration.id} ({integration.username}): "
                "reconnect it from Advisor Integration")
        def save_secret(new: str) -> None:  # a rotated token replaces the stored one
            credentials.credential_store().set(integration.secret_ref, new)

        return partner.open(integration, secret, mapping=mapping_of(partner),
                            max_in_flight=max_in_flight, save_secret=save_secret)

    return open_connection


# ------------------------------------------------------------------ integrations


async def connect_integration(
    ws: Workspace, *, partner: str | None = None, environment: str | None = None,
    transport: Any = None, prompt: Callable[[DeviceCode], None] | None = None, **values: str | None,
) -> tuple[Integration, bool]:
    """Log in to a partner with its login fields' `values` (never retried: Redtail locks a
    login after three failures), then store the secret it returns. A password is never
    stored. `partner`: a registry slug (default Redtail); `prompt` shows what a login that
    needs the user elsewhere (an OAuth device flow) asks of them."""
    require(ws.user, Action.ADVISOR_INTEGRATION)
    chosen = registry.get(partner)
    connected = await chosen.connect({k: v or "" for k, v in values.items()},
                                     transport=transport, prompt=prompt)
    store = await credentials.credential_store_async()

    def new_ref() -> str:
        ref = credentials.new_secret_ref()
        store.set(ref, connected.secret)
        return ref

    integration, created = ws.save_integration(
        environment=environment or connected.environment or chosen.environment_of(
            connected.base_url),
        base_url=connected.base_url, username=connected.username, secret_ref_factory=new_ref,
        partner=chosen.name)
    if not created:  # re-key the existing secret
        store.set(integration.secret_ref, connected.secret)
    return integration, created


async def unmapped_types_async(ws: Workspace, integration_id: int,
                               connection_for: ConnectionFor | None = None) -> str | None:
    """Right after a connect: the partner's own account-type values (Salesforce: the org's
    picklist, by describe) that the type mapping does not know, as one line to show, or None.
    Best effort: a failure here never undoes the connection (doctor asks again)."""
    require(ws.user, Action.ADVISOR_INTEGRATION)
    try:
        async with await _open(ws, integration_id, connection_for) as connection:
            unknown = await connection.unmapped_types()
    except PlantechError:
        return None
    if not unknown:
        return None
    partner = partner_of(ws.integration(integration_id))
    where = partner.mapping_file or "the mapping file"
    return (f"{partner.label}: {unmapped_line(unknown)}; map them in {where} in the config "
            "directory (plantech doctor shows where)")


def unmapped_line(types: list[str], most: int = 12) -> str:
    """The sentence doctor and a fresh connect say about a partner's unmapped types."""
    shown = ", ".join(clean_line(t, 60) for t in types[:most])
    more = f" and {len(types) - most} more" if len(types) > most else ""
    return (f"account types the mapping does not know: {shown}{more} (their accounts are "
            "listed in each refresh report, not staged)")


REVOKE_TIMEOUT = 15.0  # a partner that does not answer does not hold up a removal


async def remove_integration_async(ws: Workspace, integration_id: int, *,
                                   keep_accounts: bool = True, transport: Any = None
                                   ) -> tuple[Integration, str | None]:
    """Remove Integration: the rows go (`Workspace.remove_integration`), then the partner is
    told the stored secret is no longer wanted (Salesforce: the refresh token is revoked, and
    its access tokens with it), then the secret leaves the credential store. Revoking is best
    effort: the integration is gone either way; a failure comes back as one warning line."""
    integration = ws.remove_integration(integration_id, keep_accounts=keep_accounts,
                                        forget_secret=False)
    warning = None
    try:
        store = await credentials.credential_store_async()
        secret = await asyncio.to_thread(store.get, integration.secret_ref)
        if secret:
            partner = partner_of(integration)
            try:
                await asyncio.wait_for(partner.revoke(integration, secret, transport=transport),
                                       REVOKE_TIMEOUT)
            except PartnerError as exc:
                warning = f"{partner.label} did not revoke the login: {exc.message}"
            except TimeoutError:
                warning = (f"{partner.label} did not answer the revocation within "
                           f"{REVOKE_TIMEOUT:g} s")
    except PlantechError as exc:  # the keyring: the secret stays where it is unreadable
        warning = exc.message
    await asyncio.to_thread(ws.forget_integration_secret, integration.secret_ref)
    return integration, warning


# ------------------------------------------------------------------ contacts


async def _open(ws: Workspace, integration_id: int, connection_for: ConnectionFor | None
                ) -> PartnerConnection:
    integration = ws.integration(integration_id)
    if connection_for is None:
        await credentials.credential_store_async()
    return (connection_for or _default_connections(ws))(integration)


def _default_connections(ws: Workspace) -> ConnectionFor:
    return connection_for(ws)  # the module's function (the callers' argument shadows it)


async def search_contacts_async(ws: Workspace, plan_id: int, integration_id: int,
                                criteria: Mapping[str, str | None],
                                connection_for: ConnectionFor | None = None) -> dict[str, Any]:
    require(ws.user, Action.LINK_CONTACT)
    ws.plan(plan_id)
    partner = partner_of(ws.integration(integration_id))
    known = {key for key, _ in partner.search_fields}
    wanted = {k: v.strip() for k, v in criteria.items() if v and v.strip() and k in known}
    if not wanted:
        flags = ", ".join("--" + key.replace("_", "-") for key, _ in partner.search_fields)
        raise UsageError(f"give at least one search criterion ({flags})")
    linked = {str(c.redtail_contact_id) for c in ws.contacts(plan_id)
              if c.integration_id == integration_id}
    async with await _open(ws, integration_id, connection_for) as connection:
        found, truncated = await connection.search_contacts(wanted, limit=200)
    redtail = is_redtail(partner)
    rows: list[dict[str, Any]] = []
    for c in found:
        row: dict[str, Any] = {"redtail_contact_id": legacy_id(c.source_id)} if redtail else {}
        row.update({"name": c.name, "first_name": c.first_name, "last_name": c.last_name,
                    "linked": c.source_id in linked, "partner": partner.name,
                    "source_contact_id": c.source_id})
        rows.append(row)
    return {"contacts": rows, "truncated": truncated}


def search_contacts(ws: Workspace, plan_id: int, integration_id: int,
                    criteria: Mapping[str, str | None],
                    connection_for: ConnectionFor | None = None) -> dict[str, Any]:
    return run_async(search_contacts_async(  # type: ignore[no-any-return]
        ws, plan_id, integration_id, criteria, connection_for))


async def link_contacts_async(ws: Workspace, plan_id: int, integration_id: int,
                              contact_ids: Iterable[str | int],
                              connection_for: ConnectionFor | None = None,
                              ) -> list[PlanContact]:
    """Fetch each contact (not found → an error with the partner's message) and link it;
    no-op when already linked."""
    require(ws.user, Action.LINK_CONTACT)
    ws.plan(plan_id)
    ids = list(dict.fromkeys(str(c).strip() for c in contact_ids))
    async with await _open(ws, integration_id, connection_for) as connection:
        contacts = await asyncio.gather(*(connection.contact(c) for c in ids))
    return [ws.link_contact(plan_id, integration_id, legacy_id(c.source_id),  # type: ignore[arg-type]
                            c.name, c.first_name)
            for c in contacts]


def link_contact(ws: Workspace, plan_id: int, integration_id: int, contact_id: str | int,
                 connection_for: ConnectionFor | None = None) -> PlanContact:
    return run_async(link_contacts_async(ws, plan_id, integration_id,  # type: ignore[no-any-return]
                                         [contact_id], connection_for))[0]


async def link_household_async(ws: Workspace, plan_id: int, integration_id: int,
                               contact_id: str | int,
                               connection_for: ConnectionFor | None = None) -> list[PlanContact]:
    """Link a contact's whole household (Redtail's family) in one step."""
    require(ws.user, Action.LINK_CONTACT)
    async with await _open(ws, integration_id, connection_for) as connection:
        household = await connection.household(str(contact_id))
    ids = list(household.member_ids) or [str(contact_id)]
    return await link_contacts_async(ws, plan_id, integration_id, ids, connection_for)
