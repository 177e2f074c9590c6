"""Redtail CRM behind the partner seam (`partners.base`).

Login: an API key (Redtail issues it to the partner firm), a username and a password, against
an API root; the secret kept is the API key and the user key Redtail answers with, as the JSON
object `{"api_key": ..., "user_key": ...}` (the format stored secrets have always had). The
password is never kept. Redtail's account and tax-qualified types come as ids resolved through
its lookup lists (fetched once per connection) and then mapped by `mapping.toml`.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ...domain.errors import ValidationFailed
from ...domain.mapping import Mapping as TypeMapping
from ...domain.mapping import read_builtin
from ..base import (
    AccountListing,
    BadResponse,
    Connected,
    DeviceCode,
    InvalidCredentials,
    LoginField,
    Partner,
    PartnerConnection,
    PartnerError,
    SourceAccount,
    SourceContact,
    SourceHousehold,
    secret_fields,
)
from ..http import validate_base_url
from . import client as _client
from .client import RedtailClient
from .models import LookupItem, RedtailAccount, RedtailContact

if TYPE_CHECKING:
    from ...domain.models import Integration

__all__ = ["Credentials", "RedtailConnection", "RedtailPartner", "builtin_mapping",
           "load_mapping"]

MAPPING_FILE = "redtail_mapping.toml"  # the override's name in the config directory
NAME = "Redtail CRM"


@functools.cache
def builtin_mapping() -> TypeMapping:
    """Redtail's mapping as shipped (`partners/redtail/mapping.toml`, read once)."""
    return read_builtin(__package__ or "plantech_tui.partners.redtail", "mapping.toml",
                        label="Redtail")


def load_mapping(config_dir: Any = None) -> TypeMapping:
    """The built-in mapping with `config_dir/redtail_mapping.toml` applied when it exists."""
    from ...domain.mapping import load_mapping as load

    return load(config_dir, base=builtin_mapping(), filename=MAPPING_FILE)


# --------------------------------------------------------------------------- the secret


@dataclass(frozen=True, repr=False)
class Credentials:
    """The Redtail API key and user key of one integration. Never printed."""

    api_key: str
    user_key: str

    def __post_init__(self) -> None:
        if not isinstance(self.api_key, str) or not isinstance(self.user_key, str):
            raise TypeError("Credentials takes two strings")

    def __repr__(self) -> str:
        return "Credentials(api_key=***, user_key=***)"

    __str__ = __repr__

    def to_secret(self) -> str:
        return json.dumps({"api_key": self.api_key, "user_key": self.user_key})

    @classmethod
    def from_secret(cls, secret: str) -> Credentials:
        """Parse `to_secret`'s form; ValueError (with no secret in it) otherwise."""
        return cls(**secret_fields(secret, ("api_key", "user_key")))


# --------------------------------------------------------------------------- accounts


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


class _Resolver:
    """Redtail's lookup ids → names → the mapping's default, memoised (a book has a few
    dozen distinct type combinations)."""

    def __init__(self, mapping: TypeMapping, account_types: dict[int, str],
                 tax_qualified_types: dict[int, str]) -> None:
        self.mapping = mapping
        self.account_types = account_types
        self.tax_qualified_types = tax_qualified_types
        self._default: dict[tuple[Any, ...], Any] = {}
        self._known: dict[str | None, tuple[bool, bool]] = {}  # type → (included, known)

    def source(self, acct: RedtailAccount) -> SourceAccount:
        account_type = (acct.account_type or "").strip() or None
        if account_type is None and acct.account_type_id is not None:
            account_type = self.account_types.get(acct.account_type_id)
        tq_name = None
        if acct.taxqualified_type is not None:
            tq_name = self.tax_qualified_types.get(acct.taxqualified_type)
        tq_id = acct.taxqualified_type if tq_name is None else None
        key = (account_type, acct.taxqualified, tq_name, tq_id)
        default = self._default.get(key)
        if default is None:
            default = self._default[key] = self.mapping.default_investment_type(
                account_type, acct.taxqualified, tq_name, taxqualified_type_id=tq_id)
        known = self._known.get(account_type)
        if known is None:
            known = self._known[account_type] = (self.mapping.is_included(account_type),
                                                 self.mapping.knows(account_type))
        included, type_known = known
        return SourceAccount(
            source_id=str(acct.id), number=acct.number, company=acct.company,
            balance=acct.balance, account_type=account_type, taxqualified=acct.taxqualified,
            taxqualified_type_name=tq_name, investment_type=default.investment_type,
            review_type=default.review_type, type_note=default.reason, included=included,
            updated_at=acct.updated_at, truncated=tuple(acct.truncated), deleted=acct.deleted,
            type_unknown=not type_known)


def source_accounts(accounts: list[RedtailAccount], mapping: TypeMapping,
                    account_types: dict[int, str], tax_qualified_types: dict[int, str]
                    ) -> list[SourceAccount]:
    """Redtail accounts as the seam's SourceAccounts, through the given lookup lists."""
    resolver = _Resolver(mapping, account_types, tax_qualified_types)
    return [resolver.source(a) for a in accounts]


def _contact(c: RedtailContact) -> SourceContact:
    return SourceContact(source_id=str(c.id), name=c.full_name, first_name=c.first_name,
                         last_name=c.last_name, emails=tuple(c.emails))


def _int_id(contact_id: str, what: str = "contact") -> int:
    try:
        return int(str(contact_id).strip())
    except ValueError:
        raise ValidationFailed(f"a Redtail {what} id is a number (got {contact_id!r})",
                               field="contact") from None


# --------------------------------------------------------------------------- the connection


class RedtailConnection(PartnerConnection):
    """One integration's `RedtailClient`, speaking the partner seam's neutral records."""

    label = "Redtail"

    def __init__(self, client: RedtailClient, *, mapping: TypeMapping | None = None,
                 whose: str = "Redtail") -> None:
        self.client = client
        self.mapping = mapping if mapping is not None else builtin_mapping()
        self.whose = whose  # "integration 1 (Redtail, jdoe)": in every lookup-list message
        self._lookups: asyncio.Future[tuple[_Resolver, list[PartnerError]]] | None = None

    @property
    def request_count(self) -> int:
        return self.client.request_count

    async def aclose(self) -> None:
        if self._lookups is not None:
            self._lookups.cancel()
        await self.client.aclose()

    def _resolver(self) -> asyncio.Future[tuple[_Resolver, list[PartnerError]]]:
        if self._lookups is None:
            # started now, before the contacts' pages: the lists are small and answered
            # first, so their slots free up early for the pages of the second wave
            lists = (asyncio.ensure_future(self.client.account_types()),
                     asyncio.ensure_future(self.client.tax_qualified_types()))
            names = ("account types", "tax-qualified types")

            async def fetch() -> tuple[_Resolver, list[PartnerError]]:
                results = await asyncio.gather(*lists, return_exceptions=True)
                for name, result in zip(names, results, strict=True):
                    if isinstance(result, PartnerError):
                        error = type(result)(f"{self.whose}: lookup list {name}: "
                                             f"{result.message}", status=result.status)
                        return _Resolver(self.mapping, {}, {}), [error]
                    if isinstance(result, BaseException):
                        raise result
                types, tqs = results
                assert not isinstance(types, BaseException)
                assert not isinstance(tqs, BaseException)
                for name, items in zip(names, (types, tqs), strict=True):
                    if not all(_storable_text(t.name) for t in items):
                        return _Resolver(self.mapping, {}, {}), [BadResponse(
                            f"{self.whose}: lookup list {name}: a name is not valid Unicode")]
                return _Resolver(self.mapping, _names(types), _names(tqs)), []

            self._lookups = asyncio.ensure_future(fetch())
        return self._lookups

    async def start(self) -> list[PartnerError]:
        return (await self._resolver())[1]

    async def check(self) -> None:
        await self.client.account_types()

    async def search_contacts(self, criteria: Mapping[str, str], *, limit: int = 200
                              ) -> tuple[list[SourceContact], bool]:
        found, truncated = await self.client.search_contacts(**criteria, limit=limit)
        return [_contact(c) for c in sorted(found, key=lambda c: c.id)], truncated

    async def contact(self, contact_id: str) -> SourceContact:
        return _contact(await self.client.get_contact(_int_id(contact_id)))

    async def household(self, contact_id: str) -> SourceHousehold:
        family = await self.client.contact_family(_int_id(contact_id))
        return SourceHousehold(source_id=None if family.id is None else str(family.id),
                               name=family.name,
                               member_ids=tuple(str(m.contact_id) for m in family.members))

    async def accounts(self, contact_id: str) -> AccountListing:
        cid = _int_id(contact_id)
        resolver = self._resolver()  # the lists first (see _resolver)
        accounts, cut = await self.client.contact_accounts_listing(cid)
        problem = _unstorable(accounts)
        if problem:  # parsed, but it would break the apply transaction: fail this contact alone
            raise BadResponse(f"Redtail sent an unreadable answer for the accounts of contact "
                              f"{cid}: {problem}")
        resolve = (await resolver)[0]
        note = (f"Redtail's listing was cut (stopped after {_client.MAX_PAGES} pages, "
                f"{len(accounts)} accounts read and staged)" if cut else "")
        return AccountListing([resolve.source(a) for a in accounts], truncated=cut, note=note)


def _names(items: list[LookupItem]) -> dict[int, str]:
    return {t.id: t.name for t in items}


# --------------------------------------------------------------------------- the partner


def _configured_api_key() -> str | None:
    from ...config import default_api_key

    return default_api_key()


class RedtailPartner(Partner):
    slug = "redtail"
    name = NAME
    short_name = "Redtail"
    partner_type = "CRM"
    mapping_file = MAPPING_FILE
    login_fields = (
        LoginField("base_url", "Base URL", placeholder="https://…/api/public/v1",
                   help="the Redtail API root (https; http only for loopback)"),
        LoginField("api_key", "API key", secret=True, required=False,
                   default=_configured_api_key,
                   placeholder="the partner API key Redtail issued",
                   help="the partner API key (default: PLANTECH_REDTAIL_API_KEY or "
                        "config.toml [redtail] api_key)"),
        LoginField("username", "Username", help="the Redtail login"),
        LoginField("password", "Password", secret=True,
                   help="the Redtail password (never stored)"),
    )
    search_fields = (("name", "Name"), ("first_name", "First name"),
                     ("last_name", "Last name"), ("email", "Email"),
                     ("account_number", "Account number"))
    lock_note = ("Save checks this login with Redtail once. Redtail locks a login after three "
                 "failed attempts, so nothing is retried automatically. The password is never "
                 "stored.")

    @property
    def environments(self) -> dict[str, str]:
        from ...config import ENVIRONMENTS

        return dict(ENVIRONMENTS)

    def environment_of(self, base_url: str) -> str:
        from ...config import environment_of

        return environment_of(base_url)

    async def connect(self, values: Mapping[str, str], *, transport: Any = None,
                      prompt: Callable[[DeviceCode], None] | None = None) -> Connected:
        """Validate a Redtail login (never retried: Redtail locks after three failures)."""
        url = validate_base_url(values.get("base_url", ""), "Redtail")
        username = (values.get("username") or "").strip()
        if not username:
            raise ValidationFailed("username is required", field="username")
        password = values.get("password") or ""
        if not password:
            raise ValidationFailed("password is required", field="password")
        key = (values.get("api_key") or "").strip() or _configured_api_key()
        if not key:
            raise ValidationFailed("an API key is required (--api-key, PLANTECH_REDTAIL_API_KEY"
                                   " or config.toml [redtail] api_key)", field="api_key")
        async with RedtailClient(url, key, transport=transport) as client:
            auth = await client.authenticate(username, password)
        return Connected(username=username, base_url=url,
                         secret=Credentials(api_key=key, user_key=auth.user_key).to_secret(),
                         environment=self.environment_of(url))

    def client(self, integration: Integration, secret: str, *, max_in_flight: int = 8,
               **options: Any) -> RedtailClient:
        try:
            creds = Credentials.from_secret(secret)
        except ValueError as exc:
            raise InvalidCredentials(f"the stored key of integration {integration.id} is "
                                     f"unreadable ({exc}): reconnect it") from None
        return RedtailClient(integration.base_url, creds.api_key, creds.user_key,
                             max_in_flight=max_in_flight, **options)

    def open(self, integration: Integration, secret: str, *, mapping: TypeMapping,
             max_in_flight: int = 8, save_secret: Callable[[str], None] | None = None,
             **options: Any) -> RedtailConnection:
        return self.connection(integration, self.client(integration, secret,
                                                        max_in_flight=max_in_flight,
                                                        **options), mapping)

    @staticmethod
    def connection(integration: Integration, client: RedtailClient,
                   mapping: TypeMapping | None = None) -> RedtailConnection:
        return RedtailConnection(client, mapping=mapping,
                                 whose=f"integration {integration.id} (Redtail, "
                                       f"{integration.username})")

    def default_mapping(self) -> TypeMapping:
        return builtin_mapping()

    def fake(self) -> ModuleType:
        """`plantech fake-redtail` and `plantech demo` start this (partners/redtail/fake)."""
        from . import fake

        return fake

    def demo_login(self) -> dict[str, str] | None:
        """The fake Redtail's login while `plantech demo` runs (it sets PLANTECH_DEMO_BASE_URL)."""
        import os

        base_url = os.environ.get("PLANTECH_DEMO_BASE_URL")
        if not base_url:
            return None
        from .fake.dataset import DEMO_API_KEY, DEMO_PASSWORD, DEMO_USERNAME

        return {"base_url": base_url, "username": DEMO_USERNAME, "password": DEMO_PASSWORD,
                "api_key": DEMO_API_KEY}


def connections(client_for: Callable[[Integration], RedtailClient],
                mapping: TypeMapping | None = None
                ) -> Callable[[Integration], RedtailConnection]:
    """A connection factory from a client factory (tests hand in their own transports)."""
    return lambda integration: RedtailPartner.connection(integration, client_for(integration),
                                                         mapping)
