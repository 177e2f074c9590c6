"""Salesforce Financial Services Cloud behind the partner seam (`partners.base`).

Login: the OAuth device flow against the firm's login host (production, sandbox or My
Domain) with the firm's own connected app (its consumer key is the "client id"); the secret
kept is the token pair and where it works (`client.Tokens`, JSON), never a password. Clients
are person accounts; a household is an `IndustriesHousehold` account whose members are
`AccountContactRelation`s. Financial accounts come from FSC's managed package
(`FinServ__FinancialAccount__c`, owners by field and by active owner role) or, when the org
has only those, the standard objects (`FinancialAccount` + party + balance), detected per
connection from the objects the user sees.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ...domain.errors import ValidationFailed
from ...domain.mapping import DefaultType, read_builtin
from ...domain.mapping import Mapping as TypeMapping
from ...domain.text import TEXT_CAP, clean_line, clean_line_cut
from ..base import (
    AccountListing,
    BadResponse,
    Connected,
    DeviceCode,
    InvalidCredentials,
    LoginField,
    Partner,
    PartnerConnection,
    PartnerNotFound,
    SourceAccount,
    SourceContact,
    SourceHousehold,
)
from ..http import validate_base_url
from . import client as _client
from .client import (
    NAME as SHORT,
)
from .client import (
    InvalidField,
    InvalidType,
    SalesforceClient,
    Tokens,
    device_login,
    id_list,
    like_literal,
    revoke_token,
    soql_literal,
    valid_id,
)

if TYPE_CHECKING:
    from ...domain.models import Integration

__all__ = ["SalesforceConnection", "SalesforcePartner", "builtin_mapping"]

NAME = "Salesforce Financial Services Cloud"
MAPPING_FILE = "salesforce_mapping.toml"
PACKAGE = "FinServ__FinancialAccount__c"
ROLES = "FinServ__FinancialAccountRole__c"
STANDARD = "FinancialAccount"
HOUSEHOLD_TYPE = "IndustriesHousehold"
OWNER_ROLES = frozenset({"primary owner", "joint owner"})
IN_CHUNK = 200  # ids in one IN (…): queries stay far below SOQL's length limit
NOT_QUALIFIED_DEFAULTS = frozenset({"Taxable Brokerage", "Annuity (Non-Qualified)"})
SETUP_HELP = (
    "Salesforce needs the firm's own connected app (Setup → App Manager → New Connected "
    "App, or an External Client App): OAuth on, scopes api and refresh_token "
    "(offline_access), 'Enable for Device Flow' ticked, 'Require Secret for Refresh Token "
    "Flow' off; its consumer key is the client id. Salesforce's own CLI app cannot be used "
    "for the device flow since 2025-08-28.")

# the package's account fields: those a query may drop when the org hides them
_F = "FinServ__"
PACKAGE_FIELDS = ("Id", "Name", f"{_F}FinancialAccountNumber__c", f"{_F}Balance__c",
                  f"{_F}FinancialAccountType__c", f"{_F}Status__c", f"{_F}TaxStatus__c",
                  f"{_F}Ownership__c", f"{_F}HeldAway__c", f"{_F}PrimaryOwner__c",
                  f"{_F}JointOwner__c", f"{_F}Household__c", "LastModifiedDate")
REQUIRED_FIELDS = frozenset({"Id", "Name", f"{_F}FinancialAccountNumber__c", f"{_F}Balance__c",
                             f"{_F}FinancialAccountType__c", f"{_F}PrimaryOwner__c"})
STANDARD_FIELDS = ("Id", "Name", "FinancialAccountNumber", "Type", "Status", "IsHeldAway")


@functools.cache
def builtin_mapping() -> TypeMapping:
    """Salesforce's mapping as shipped (`partners/salesforce/mapping.toml`, read once)."""
    return read_builtin(__package__ or "plantech_tui.partners.salesforce", "mapping.toml",
                        label=SHORT)


# --------------------------------------------------------------------------- records


def _text(record: Mapping[str, Any], name: str, what: str) -> tuple[str | None, bool]:
    """A text field, cleaned to one line and capped: (value, cut). Not text: the record is
    unreadable (BadResponse, the contact fails alone)."""
    value = record.get(name)
    if value is None:
        return None, False
    if not isinstance(value, str):
        raise BadResponse(f"{SHORT} sent an unreadable {what}: {name} is a "
                          f"{type(value).__name__}, not text")
    return clean_line_cut(value, TEXT_CAP)


def _balance(value: Any, what: str) -> Decimal | None:
    """A JSON number as Decimal (the client parses floats as Decimal); null is unknown."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise BadResponse(f"{SHORT} sent an unreadable {what}: the balance is not a number")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise BadResponse(f"{SHORT} sent an unreadable {what}: the balance is not a number"
                          ) from None
    if not amount.is_finite() or abs(amount) >= Decimal("1e15"):
        raise BadResponse(f"{SHORT} sent an unreadable {what}: the balance is out of range")
    return amount.quantize(Decimal("0.01"))


_OFFSET = re.compile(r"([+-]\d\d)(\d\d)$")


def _moment(value: Any) -> datetime | None:
    """An ISO 8601 date-time with any offset ("2024-05-01T12:00:00.000+0000"), else None."""
    if not isinstance(value, str) or not value:
        return None
    text = _OFFSET.sub(r"\1:\2", value.strip().replace("Z", "+00:00"))
    try:
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _contact(record: Mapping[str, Any]) -> SourceContact:
    rid = record.get("Id")
    if not isinstance(rid, str) or not valid_id(rid):
        raise BadResponse(f"{SHORT} sent a client without a readable Id")
    name = _text(record, "Name", f"client {rid}")[0] or ""
    first = _text(record, "FirstName", f"client {rid}")[0] or ""
    last = _text(record, "LastName", f"client {rid}")[0] or ""
    email = _text(record, "PersonEmail", f"client {rid}")[0]
    return SourceContact(source_id=rid, name=name or f"{first} {last}".strip() or rid,
                         first_name=first, last_name=last, emails=(email,) if email else ())


def _chunks(ids: Iterable[str], size: int = IN_CHUNK) -> list[list[str]]:
    items = sorted(set(ids))
    return [items[i:i + size] for i in range(0, len(items), size)]


class _Resolver:
    """(type, tax status) → the mapping's default, memoised; plus the TaxStatus rule."""

    def __init__(self, mapping: TypeMapping) -> None:
        self.mapping = mapping
        self._memo: dict[tuple[str | None, str | None], tuple[DefaultType, bool, bool]] = {}

    def resolve(self, account_type: str | None, tax_status: str | None
                ) -> tuple[DefaultType, bool, bool]:
        """(default, included, known)."""
        key = (account_type, tax_status)
        found = self._memo.get(key)
        if found is None:
            m = self.mapping
            default = m.default_investment_type(account_type, None, None)
            if ((tax_status or "").strip().casefold() == "qualified"
                    and default.investment_type in NOT_QUALIFIED_DEFAULTS):
                default = DefaultType("Other", True, f"tax status Qualified on a {SHORT} "
                                      f"{account_type} account — review")
            found = self._memo[key] = (default, m.is_included(account_type),
                                       m.knows(account_type))
        return found


# --------------------------------------------------------------------------- the connection


class SalesforceConnection(PartnerConnection):
    """One integration's `SalesforceClient`, speaking the seam's neutral records."""

    label = SHORT

    def __init__(self, client: SalesforceClient, *, mapping: TypeMapping | None = None,
                 whose: str = SHORT) -> None:
        self.client = client
        self.mapping = mapping if mapping is not None else builtin_mapping()
        self.whose = whose
        self._resolver = _Resolver(self.mapping)
        self._model: asyncio.Future[str] | None = None
        self._fields = list(PACKAGE_FIELDS)
        self._fields_lock = asyncio.Lock()

    @property
    def request_count(self) -> int:
        return self.client.request_count

    async def aclose(self) -> None:
        if self._model is not None and not self._model.done():
            self._model.cancel()
        await self.client.aclose()

    # -- which data model this org has

    def model(self) -> asyncio.Future[str]:
        """"package", "standard" or "none", from the objects this user sees (asked once)."""
        if self._model is None:
            async def detect() -> str:
                names = await self.client.sobjects()
                if PACKAGE in names:
                    return "package"
                if STANDARD in names:
                    return "standard"
                return "none"

            self._model = asyncio.ensure_future(detect())
        return self._model

    async def _require_model(self) -> str:
        model = await asyncio.shield(self.model())
        if model == "none":
            raise BadResponse(f"{self.whose}: this user sees no financial accounts: neither "
                              f"FSC's managed package ({PACKAGE}) nor the standard "
                              f"{STANDARD} object; ask the org's admin for access")
        return model

    async def check(self) -> None:
        await self.client.sobjects()

    # -- clients and households

    async def search_contacts(self, criteria: Mapping[str, str], *, limit: int = 200
                              ) -> tuple[list[SourceContact], bool]:
        where = ["IsPersonAccount = true"]
        name = " ".join((criteria.get("name") or "").split())
        for word in name.split(" ")[:6] if name else ():
            where.append(f"Name LIKE {like_literal(word[:80])}")
        email = (criteria.get("email") or "").strip()
        if email:
            where.append(f"PersonEmail = {soql_literal(email[:200])}")
        if len(where) == 1:
            raise ValidationFailed("enter a name or an email to search", field="name")
        found, _ = await self.client.query(
            "SELECT Id, Name, FirstName, LastName, PersonEmail, PersonContactId FROM Account "
            f"WHERE {' AND '.join(where)} LIMIT {limit + 1}", what="the client search")
        contacts = sorted((_contact(r) for r in found),
                          key=lambda c: (c.name.casefold(), c.source_id))
        return contacts[:limit], len(contacts) > limit

    def _id(self, contact_id: str) -> str:
        value = str(contact_id).strip()
        if not valid_id(value):
            raise ValidationFailed(f"a {SHORT} client id is 15 or 18 letters and digits "
                                   f"(got {clean_line(value, 40)!r})", field="contact")
        return value

    async def _person(self, contact_id: str) -> dict[str, Any]:
        cid = self._id(contact_id)
        found, _ = await self.client.query(
            "SELECT Id, Name, FirstName, LastName, PersonEmail, PersonContactId FROM Account "
            f"WHERE Id = '{cid}' AND IsPersonAccount = true", what=f"client {cid}")
        if not found:
            raise PartnerNotFound(f"{SHORT} has no client {cid} (not a person account, or "
                                  "not visible to this user)")
        return found[0]

    async def contact(self, contact_id: str) -> SourceContact:
        return _contact(await self._person(contact_id))

    async def household(self, contact_id: str) -> SourceHousehold:
        person = await self._person(contact_id)
        me = person["Id"]
        person_contact = person.get("PersonContactId")
        if not isinstance(person_contact, str) or not valid_id(person_contact):
            return SourceHousehold(source_id=None, name="", member_ids=())
        q = self.client.query
        relations, _ = await q(
            "SELECT Id, AccountId, ContactId, FinServ__PrimaryGroup__c, IsActive FROM "
            f"AccountContactRelation WHERE ContactId = '{person_contact}' AND IsActive = true",
            what=f"the households of client {me}")
        groups = [r for r in relations if isinstance(r.get("AccountId"), str)
                  and valid_id(r["AccountId"])]
        if not groups:
            return SourceHousehold(source_id=None, name="", member_ids=())
        types, _ = await q("SELECT Id FROM RecordType WHERE SobjectType = 'Account' AND "
                           f"DeveloperName = '{HOUSEHOLD_TYPE}'", what="the household type")
        type_ids = {t.get("Id") for t in types}
        accounts, _ = await q(
            "SELECT Id, Name, RecordTypeId FROM Account WHERE Id IN "
            f"{id_list(r['AccountId'] for r in groups)}", what=f"the households of client {me}")
        households = {a["Id"]: a for a in accounts
                      if isinstance(a.get("Id"), str) and a.get("RecordTypeId") in type_ids}
        if not households:
            return SourceHousehold(source_id=None, name="", member_ids=())
        # the primary group first, then the lowest id: a person in two households links one
        ranked = sorted((r for r in groups if r["AccountId"] in households),
                        key=lambda r: (not _flag(r.get("FinServ__PrimaryGroup__c")),
                                       r["AccountId"]))
        chosen = households[ranked[0]["AccountId"]]
        members, _ = await q(
            "SELECT ContactId FROM AccountContactRelation WHERE AccountId = "
            f"'{chosen['Id']}' AND IsActive = true", what="the household's members")
        contact_ids = [m["ContactId"] for m in members
                       if isinstance(m.get("ContactId"), str) and valid_id(m["ContactId"])]
        people: list[dict[str, Any]] = []
        for chunk in _chunks(contact_ids):
            found, _ = await q("SELECT Id FROM Account WHERE IsPersonAccount = true AND "
                               f"PersonContactId IN {id_list(chunk)}",
                               what="the household's members")
            people += found
        member_ids = sorted({p["Id"] for p in people if isinstance(p.get("Id"), str)} | {me})
        name = _text(chosen, "Name", "household")[0] or ""
        return SourceHousehold(source_id=chosen["Id"], name=name, member_ids=tuple(member_ids))

    # -- accounts

    async def accounts(self, contact_id: str) -> AccountListing:
        cid = self._id(contact_id)
        model = await self._require_model()
        if model == "package":
            records, cut = await self._package_accounts(cid)
            listing = [a for r in records if (a := self._package_account(r)) is not None]
        else:
            listing, cut = await self._standard_accounts(cid)
        note = (f"{SHORT}'s listing was cut (stopped after {_client.MAX_PAGES} pages, "
                f"{len(listing)} accounts read and staged)" if cut else "")
        return AccountListing(sorted(listing, key=lambda a: a.source_id), truncated=cut,
                              note=note)

    async def _fa_query(self, where: str, what: str) -> tuple[list[dict[str, Any]], bool]:
        """Financial accounts by a WHERE clause, with every field the org lets us read: a
        field it does not have (or hides) is dropped when optional, named when required."""
        while True:
            fields = list(self._fields)
            try:
                return await self.client.query(
                    f"SELECT {', '.join(fields)} FROM {PACKAGE} WHERE {where}", what=what)
            except InvalidField as exc:
                missing = next((f for f in fields if f.casefold() == exc.field.casefold()),
                               None)
                if missing is None or missing in REQUIRED_FIELDS:
                    raise BadResponse(f"{self.whose}: {SHORT} does not let this user read "
                                      f"{exc.field or 'a field'} of {PACKAGE}: ask the org's "
                                      f"admin for field-level access ({exc.message})"
                                      ) from None
                async with self._fields_lock:
                    if missing in self._fields:
                        self._fields.remove(missing)

    async def _package_accounts(self, cid: str) -> tuple[list[dict[str, Any]], bool]:
        """Accounts whose primary or joint owner is the client (by field), and those an active
        owner role links them to; merged by Id (a joint account is one record)."""
        what = f"the accounts of client {cid}"
        try:
            (primary, cut1), (joint, cut2), (roles, _) = await asyncio.gather(
                self._fa_query(f"{_F}PrimaryOwner__c IN ('{cid}')", what),
                self._fa_query(f"{_F}JointOwner__c IN ('{cid}')", what),
                self.client.query(
                    f"SELECT Id, {_F}FinancialAccount__c, {_F}Role__c FROM {ROLES} WHERE "
                    f"{_F}RelatedAccount__c IN ('{cid}') AND {_F}Active__c = true",
                    what=f"the account roles of client {cid}"))
        except InvalidType as exc:
            raise BadResponse(f"{self.whose}: {exc.message}") from None
        merged = {r["Id"]: r for r in [*primary, *joint] if isinstance(r.get("Id"), str)}
        owned = {r.get(f"{_F}FinancialAccount__c") for r in roles
                 if str(r.get(f"{_F}Role__c") or "").strip().casefold() in OWNER_ROLES}
        extra = [i for i in owned if isinstance(i, str) and valid_id(i) and i not in merged]
        cut = cut1 or cut2
        for chunk in _chunks(extra):
            found, more = await self._fa_query(f"Id IN {id_list(chunk)}", what)
            merged.update((r["Id"], r) for r in found if isinstance(r.get("Id"), str))
            cut = cut or more
        return list(merged.values()), cut

    def _package_account(self, r: Mapping[str, Any]) -> SourceAccount | None:
        rid = r["Id"]
        what = f"account {clean_line(rid, 40)}"
        if _flag(r.get("IsDeleted")):
            return None
        status = str(r.get(f"{_F}Status__c") or "").strip().casefold()
        if status == "closed":
            return None  # closed: not staged (a linked one is flagged missing at source)
        return self._source(rid, what, r, name="Name", number=f"{_F}FinancialAccountNumber__c",
                            type_field=f"{_F}FinancialAccountType__c",
                            balance=r.get(f"{_F}Balance__c"),
                            tax_status=r.get(f"{_F}TaxStatus__c"),
                            held_away=_flag(r.get(f"{_F}HeldAway__c")),
                            updated=r.get("LastModifiedDate"))

    def _source(self, rid: str, what: str, r: Mapping[str, Any], *, name: str, number: str,
                type_field: str, balance: Any, tax_status: Any, held_away: bool,
                updated: Any) -> SourceAccount:
        if not valid_id(rid):
            raise BadResponse(f"{SHORT} sent an account without a readable Id")
        cut: list[str] = []
        company, c1 = _text(r, name, what)
        acct_number, c2 = _text(r, number, what)
        account_type, c3 = _text(r, type_field, what)
        for label, was_cut in (("name", c1), ("number", c2), ("type", c3)):
            if was_cut:
                cut.append(label)
        account_type = account_type or None
        tax = tax_status if isinstance(tax_status, str) else None
        default, included, known = self._resolver.resolve(account_type, tax)
        note = default.reason
        return SourceAccount(
            source_id=rid, number=acct_number or "", company=company or None,
            balance=_balance(balance, what), account_type=account_type,
            taxqualified=None if tax is None else tax.strip().casefold() != "nonqualified",
            taxqualified_type_name=clean_line(tax, 60) if tax else None,
            investment_type=default.investment_type, review_type=default.review_type,
            type_note=note, included=included, updated_at=_moment(updated),
            truncated=tuple(cut), type_unknown=not known, held_away=held_away)

    async def _standard_accounts(self, cid: str) -> tuple[list[SourceAccount], bool]:
        """The standard objects: the client's active owner parties → accounts → the newest
        balance of each."""
        q = self.client.query
        what = f"the accounts of client {cid}"
        parties, cut = await q(
            "SELECT Id, FinancialAccountId, Role FROM FinancialAccountParty WHERE "
            f"AccountId IN ('{cid}') AND IsRoleActive = true", what=what)
        ids = {p.get("FinancialAccountId") for p in parties
               if "owner" in str(p.get("Role") or "owner").casefold()}
        wanted = [i for i in ids if isinstance(i, str) and valid_id(i)]
        records: list[dict[str, Any]] = []
        balances: dict[str, tuple[str, Any]] = {}
        for chunk in _chunks(wanted):
            found, more = await q(f"SELECT {', '.join(STANDARD_FIELDS)} FROM {STANDARD} "
                                  f"WHERE Id IN {id_list(chunk)}", what=what)
            records += found
            amounts, more2 = await q(
                "SELECT FinancialAccountId, Amount, BalanceAsOfDate FROM "
                f"FinancialAccountBalance WHERE FinancialAccountId IN {id_list(chunk)}",
                what=f"the balances of client {cid}")
            for b in amounts:
                key, when = b.get("FinancialAccountId"), str(b.get("BalanceAsOfDate") or "")
                if isinstance(key, str) and (key not in balances or when > balances[key][0]):
                    balances[key] = (when, b.get("Amount"))
            cut = cut or more or more2
        out = []
        for r in records:
            rid = r.get("Id")
            if not isinstance(rid, str) or str(r.get("Status") or "").casefold() == "closed":
                continue
            out.append(self._source(rid, f"account {clean_line(rid, 40)}", r, name="Name",
                                    number="FinancialAccountNumber", type_field="Type",
                                    balance=balances.get(rid, ("", None))[1], tax_status=None,
                                    held_away=_flag(r.get("IsHeldAway")), updated=None))
        return out, cut

    # -- for doctor

    async def unmapped_types(self) -> list[str]:
        """The org's own account-type values (describe's picklist) the mapping does not know."""
        model = await self._require_model()
        sobject, type_field = ((PACKAGE, f"{_F}FinancialAccountType__c") if model == "package"
                               else (STANDARD, "Type"))
        described = await self.client.describe(sobject)
        values: list[str] = []
        for f in described.get("fields", []):
            if isinstance(f, dict) and f.get("name") == type_field:
                for p in f.get("picklistValues") or []:
                    if isinstance(p, dict) and p.get("active", True) is not False and \
                            isinstance(p.get("value"), str):
                        values.append(clean_line(p["value"], 80))
        return sorted({v for v in values if v and not self.mapping.knows(v)}, key=str.casefold)


# --------------------------------------------------------------------------- the partner


class SalesforcePartner(Partner):
    slug = "salesforce-fsc"
    name = NAME
    short_name = SHORT
    partner_type = "CRM"
    mapping_file = MAPPING_FILE
    url_field = "login_url"
    login_fields = (
        LoginField("login_url", "Login URL", placeholder="https://<domain>.my.salesforce.com",
                   help="https://login.salesforce.com, https://test.salesforce.com (sandbox) "
                        "or the org's My Domain"),
        LoginField("client_id", "Client id", placeholder="3MVG9… (the connected app's "
                   "consumer key)", help="the consumer key of the firm's connected app"),
    )
    search_fields = (("name", "Name"), ("email", "Email"))
    lock_note = ("Save shows a code to enter at Salesforce, in a browser on any device. Only "
                 "a refresh token is kept (in the keyring), never a password; Remove "
                 "Integration revokes it.")
    setup_help = SETUP_HELP

    @property
    def environments(self) -> dict[str, str]:
        return {"Production": "https://login.salesforce.com",
                "Sandbox": "https://test.salesforce.com"}

    async def connect(self, values: Mapping[str, str], *, transport: Any = None,
                      prompt: Callable[[DeviceCode], None] | None = None) -> Connected:
        try:
            login = validate_base_url(values.get("login_url", ""), f"{SHORT} login")
        except ValidationFailed as exc:
            raise ValidationFailed(exc.message.replace("base URL", "URL"),
                                   field="login_url") from None
        client_id = (values.get("client_id") or "").strip()
        if not client_id:
            raise ValidationFailed("the client id is required (the consumer key of the "
                                   "firm's connected app)", field="client_id")
        if len(client_id) > 256 or not client_id.isprintable() or " " in client_id:
            raise ValidationFailed("the client id is one word of letters, digits and "
                                   "punctuation", field="client_id")
        tokens, username = await device_login(login, client_id, transport=transport,
                                              prompt=prompt)
        return Connected(username=username, base_url=tokens.instance_url,
                         secret=tokens.to_secret(), environment=self.environment_of(login))

    def _tokens(self, integration: Integration, secret: str) -> Tokens:
        try:
            return Tokens.from_secret(secret)
        except ValueError as exc:
            raise InvalidCredentials(f"the stored login of integration {integration.id} is "
                                     f"unreadable ({exc}): reconnect it") from None

    def open(self, integration: Integration, secret: str, *, mapping: TypeMapping,
             max_in_flight: int = 8, save_secret: Callable[[str], None] | None = None,
             **options: Any) -> SalesforceConnection:
        known = {k: options[k] for k in ("timeout", "retry", "transport") if k in options}
        client = SalesforceClient(self._tokens(integration, secret), save_secret=save_secret,
                                  max_in_flight=max_in_flight, **known)
        return SalesforceConnection(client, mapping=mapping,
                                    whose=f"integration {integration.id} ({SHORT}, "
                                          f"{integration.username})")

    async def revoke(self, integration: Integration, secret: str, *,
                     transport: Any = None) -> None:
        try:
            tokens = Tokens.from_secret(secret)
        except ValueError:
            return  # nothing readable to revoke
        await revoke_token(tokens, transport=transport)

    def reconnect_values(self, secret: str) -> dict[str, str]:
        try:
            tokens = Tokens.from_secret(secret)
        except ValueError:
            return {}
        return {"login_url": tokens.login_url, "client_id": tokens.client_id}

    def default_mapping(self) -> TypeMapping:
        return builtin_mapping()

    def fake(self) -> ModuleType:
        """`plantech fake-salesforce` and `plantech demo` start this (partners/salesforce/fake)."""
        from . import fake

        return fake

    def demo_login(self) -> dict[str, str] | None:
        """The fake Salesforce's login while `plantech demo` runs."""
        import os

        login = os.environ.get("PLANTECH_DEMO_SALESFORCE_URL")
        client_id = os.environ.get("PLANTECH_DEMO_SALESFORCE_CLIENT_ID")
        if not login or not client_id:
            return None
        return {"login_url": login, "client_id": client_id}

