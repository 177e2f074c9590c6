"""The partner seam: what every CRM behind PlanTech implements (docs/ARCHITECTURE.md).

A `Partner` is stateless and registered once (`partners.registry`) under its `slug`; its
`name` is what `integrations.partner` stores. It names the login fields it needs (they drive
the Add Integration form and the CLI flags), logs in (`connect` → the opaque secret to keep)
and opens a `PartnerConnection` for one integration: search contacts, a contact, a household,
a contact's accounts as neutral `SourceAccount`s whose investment type the partner already
resolved through its own type mapping.

Ids from a partner are opaque text: a Redtail id is digits, a Salesforce id 18 characters.
Nothing here does I/O or imports a partner.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..domain.errors import PlantechError
from ..domain.models import legacy_id
from ..domain.text import clean_line

if TYPE_CHECKING:
    from ..domain.mapping import Mapping as TypeMapping
    from ..domain.models import Integration

__all__ = [
    "AccountListing",
    "AccountLocked",
    "BadResponse",
    "Connected",
    "DeviceCode",
    "Forbidden",
    "InvalidCredentials",
    "LoginField",
    "Partner",
    "PartnerConnection",
    "PartnerError",
    "PartnerNotFound",
    "PartnerTimeout",
    "RateLimited",
    "ServerError",
    "SourceAccount",
    "SourceContact",
    "SourceHousehold",
    "Unreachable",
    "legacy_id",
    "secret_fields",
]


# --------------------------------------------------------------------------- errors


class PartnerError(PlantechError):
    """A partner or network failure. `message` is one safe line carrying the server's text
    (never a secret); `kind` says which (the refresh report and the CLI name it)."""

    kind = "partner"
    exit_code = 1

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(clean_line(message, 400))
        self.status = status

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(kind={self.kind!r}, status={self.status!r}, message={self.message!r})"


class InvalidCredentials(PartnerError):
    """The login or the stored secret was refused: the integration needs re-authentication."""

    kind = "invalid_credentials"


class AccountLocked(PartnerError):
    kind = "account_locked"


class Forbidden(PartnerError):
    kind = "forbidden"


class PartnerNotFound(PartnerError):
    kind = "not_found"


class RateLimited(PartnerError):
    kind = "rate_limited"


class ServerError(PartnerError):
    kind = "server_error"


class BadResponse(PartnerError):
    kind = "bad_response"


class Unreachable(PartnerError):
    kind = "unreachable"


class PartnerTimeout(PartnerError):
    kind = "timeout"


# --------------------------------------------------------------------------- neutral records


@dataclass(frozen=True, slots=True)
class SourceContact:
    source_id: str
    name: str
    first_name: str = ""
    last_name: str = ""
    emails: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceHousehold:
    """A contact's household (Redtail's family, Salesforce's household account): its members'
    ids, the contact itself among them. No household: `member_ids` is empty."""

    source_id: str | None
    name: str
    member_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceAccount:
    """One account as the partner lists it, its type already resolved to names and to a
    default investment type by the partner's mapping (a plain dataclass: a big book has 100k).
    """

    source_id: str
    number: str = ""  # only the last 4 are ever kept
    company: str | None = None
    balance: Decimal | None = None  # None: unknown (never overwrites a known balance)
    account_type: str | None = None  # the partner's type name, resolved
    taxqualified: bool | None = None
    taxqualified_type_name: str | None = None
    investment_type: str = "Other"  # the default investment type (the mapping's answer)
    review_type: bool = True
    type_note: str = ""  # why that default
    included: bool = False  # a new account of this type is staged
    updated_at: datetime | None = None
    truncated: tuple[str, ...] = ()  # text fields cut to the product's cap, for the report
    deleted: bool = False
    # the partner's mapping does not know `account_type` (listed in the report and by doctor
    # so the firm can map it; the account is still listed, never dropped silently)
    type_unknown: bool = False
    held_away: bool = False  # held at another firm (Salesforce's HeldAway): staged and marked


@dataclass(frozen=True, slots=True)
class AccountListing:
    """A contact's live accounts; `truncated` when the listing was cut (what arrived applies,
    absences say nothing) and `note` says how, for the report."""

    accounts: list[SourceAccount]
    truncated: bool = False
    note: str = ""


@dataclass(frozen=True)
class LoginField:
    """One field of a partner's login: a form input in Add Integration and a CLI flag
    (`--name` with "_" as "-")."""

    name: str
    label: str
    secret: bool = False
    required: bool = True
    default: Callable[[], str | None] | None = None  # e.g. the configured API key
    help: str = ""
    placeholder: str = ""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class DeviceCode:
    """What a login that happens elsewhere asks of the user (OAuth device flow): open `url`,
    enter `code`. `connect` hands it to its `prompt` and waits; `str()` is one line for the CLI."""

    url: str
    code: str
    partner: str = "the partner"
    interval: float = 5.0  # how often the login is polled, seconds

    def __str__(self) -> str:
        return (f"To connect {self.partner}, open {self.url} and enter the code {self.code} "
                f"(waiting for approval; Ctrl+C cancels)")


@dataclass(frozen=True, repr=False)
class Connected:
    """A login that worked: who, where, and the secret to keep (opaque to everything but the
    partner that made it; never printed)."""

    username: str
    base_url: str
    secret: str = field(repr=False)
    environment: str | None = None

    def __repr__(self) -> str:
        return f"Connected(username={self.username!r}, base_url={self.base_url!r}, secret=***)"


def secret_fields(secret: str, keys: tuple[str, ...]) -> dict[str, str]:
    """A stored secret's JSON object, each of `keys` a string: the form every partner keeps
    its secret in. ValueError (naming keys, never a value) otherwise."""
    try:
        data = json.loads(secret)
    except ValueError:
        raise ValueError("stored secret is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("stored secret is not an object")
    missing = [k for k in keys if not isinstance(data.get(k), str)]
    if missing:
        raise ValueError(f"stored secret lacks {' or '.join(missing)}")
    return {k: data[k] for k in keys}


# --------------------------------------------------------------------------- the interface


class PartnerConnection(ABC):
    """One integration's open session with its partner; an async context manager. Concurrent
    tasks of one pull share it."""

    label: str = "the partner"  # how the refresh report names it: "Redtail 5009"

    @property
    @abstractmethod
    def request_count(self) -> int:
        """Requests sent so far (the refresh report counts them)."""

    async def start(self) -> list[PartnerError]:
        """Called once per pull before the accounts are listed: fetch what every listing needs
        (Redtail's lookup lists). What failed is reported with the pull; accounts still apply."""
        return []

    async def check(self) -> None:
        """One read-only call with the stored secret (doctor): raises PartnerError when the
        partner refuses it or cannot be reached."""
        errors = await self.start()
        if errors:
            raise errors[0]

    @abstractmethod
    async def search_contacts(self, criteria: Mapping[str, str], *, limit: int = 200
                              ) -> tuple[list[SourceContact], bool]:
        """Contacts matching every criterion (keys from `Partner.search_fields`):
        (contacts, truncated)."""

    @abstractmethod
    async def contact(self, contact_id: str) -> SourceContact: ...

    @abstractmethod
    async def household(self, contact_id: str) -> SourceHousehold: ...

    @abstractmethod
    async def accounts(self, contact_id: str) -> AccountListing: ...

    async def unmapped_types(self) -> list[str]:
        """The partner's own account-type values (for Salesforce: the org's picklist, read by
        describe) that the type mapping does not know, for doctor: the firm maps them. Default:
        none known to be missing."""
        return []

    async def aclose(self) -> None:
        return None

    async def __aenter__(self) -> PartnerConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class Partner(ABC):
    """A CRM PlanTech can pull accounts from. Stateless: one instance, registered once."""

    slug: str  # the registry key and `--partner` value, e.g. "redtail"
    name: str  # shown, and stored in integrations.partner, e.g. "Redtail CRM"
    short_name: str = ""  # in running text ("Searching Redtail…"); empty: `name`
    partner_type: str = "CRM"
    login_fields: tuple[LoginField, ...] = ()
    # the criteria `search_contacts` takes: (key, label, CLI flag help)
    search_fields: tuple[tuple[str, str], ...] = (("name", "Name"),)
    mapping_file: str | None = None  # the override file name in the config directory
    url_field: str = "base_url"  # the login field an environment (Production, …) fills in
    lock_note: str = ""  # what the login form says about retries and what is kept
    # what the firm sets up on the partner's side first (Salesforce: its own connected app);
    # doctor shows it as the fix of a failing integration, the README repeats it
    setup_help: str = ""

    @property
    def environments(self) -> dict[str, str]:
        """Named API roots the login form offers (e.g. Production, Sandbox); empty: only a
        base URL field."""
        return {}

    def environment_of(self, base_url: str) -> str:
        for name, url in self.environments.items():
            if base_url.rstrip("/") == url.rstrip("/"):
                return name
        return "Custom"

    @abstractmethod
    async def connect(self, values: Mapping[str, str], *, transport: Any = None,
                      prompt: Callable[[DeviceCode], None] | None = None) -> Connected:
        """Log in with the login fields' values (validate them first: ValidationFailed names
        the field). Never retried when the partner locks logins. A login that needs the user
        elsewhere (Salesforce's OAuth device flow: "open URL, enter code") says what to do
        through `prompt` (the CLI prints it, the form shows it) and waits; cancelling the
        task cancels the login."""

    async def revoke(self, integration: Integration, secret: str, *,
                     transport: Any = None) -> None:
        """Tell the partner the stored secret is no longer wanted (Remove Integration), best
        effort: raises PartnerError when it refused or could not be reached; the caller
        forgets the secret anyway. Default: nothing to revoke (Redtail's user key)."""
        return None

    @property
    def password_login(self) -> bool:
        """The login takes a required secret typed by the user (the CLI reads it from stdin);
        a device-flow partner has none."""
        return any(f.secret and f.required for f in self.login_fields)

    @abstractmethod
    def open(self, integration: Integration, secret: str, *, mapping: TypeMapping,
             max_in_flight: int = 8, save_secret: Callable[[str], None] | None = None,
             **options: Any) -> PartnerConnection:
        """A connection for an integration, with the secret `connect` returned (or the last
        one given to `save_secret`: a partner whose secret rotates, e.g. a refreshed OAuth
        token, keeps the new one through it). `options` tune the transport (`timeout`,
        `retry`: a `partners.http.RetryPolicy`); a partner ignores those it has no use for."""

    @abstractmethod
    def default_mapping(self) -> TypeMapping:
        """The built-in type mapping (account type → investment type)."""

    def load_mapping(self, config_dir: Path | None) -> TypeMapping:
        """The built-in mapping with the config directory's override file applied."""
        from ..domain.mapping import load_mapping

        return load_mapping(config_dir, base=self.default_mapping(), filename=self.mapping_file)

    def fake(self) -> ModuleType | None:
        """The partner's fake server (its package's `fake` module) for `plantech fake-…` and
        `plantech demo`, or None. Front ends reach a fake only through here, so nothing
        outside the partner's package imports it."""
        return None

    def reconnect_values(self, secret: str) -> dict[str, str]:
        """The non-secret login values a stored secret remembers (Salesforce: its login URL
        and client id), so Reconnect asks only for what is new. Default: none."""
        return {}

    def demo_login(self) -> dict[str, str] | None:
        """The login fields' values while `plantech demo` runs against this partner's fake
        (the form fills them in), else None."""
        return None

    @property
    def label(self) -> str:
        return self.short_name or self.name

    def __repr__(self) -> str:
        return f"<Partner {self.slug} ({self.name})>"
