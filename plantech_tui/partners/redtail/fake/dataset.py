"""The fake Redtail's data: an in-memory, mutable dataset, its JSON file format and a generator.

Dataset file format (``plantech_tui/data/demo/redtail.json`` is one; ``load_dataset`` reads any)::

    {
      "format": "plantech-fake-redtail/1",
      "api_keys": ["<partner API key accepted by the fake>", ...],        # optional
      "users": [{"username": "demo", "password": "...",
                 "user_key": "<GUID>",                                   # optional: derived
                 "redtail_user_id": 280717, "redtail_database_id": 280717}],
      "account_types": [{"id": 1, "name": "Brokerage"}, ...],            # the lookup list
      "tax_qualified_types": [{"id": 21, "name": "Non-Qualified"}, ...],  # the lookup list
      "contacts": [{"id": 101, "first_name": "Gomez", "middle_name": null,
                    "last_name": "Addams", "nickname": null,
                    "full_name": null,              # optional: derived from the name parts
                    "dob": "1964-09-18", "status_id": 1, "category_id": 2,
                    "source_id": 3, "servicing_advisor_id": 7,
                    "created_at": "2019-03-01T15:04:05.000Z", "updated_at": "...",
                    "emails": ["gomez@addams.example"], "phones": ["555-0101"]}],
      "families": [{"id": 9001, "name": "Addams Family",
                    "members": [{"contact_id": 101, "hoh": true,
                                 "relationship": "Head of Household"}]}],
      "accounts": [{"id": 5001, "contact_ids": [101],   # every owner; the first is primary
                    "number": "Z62-884401", "company": "Fidelity",
                    "balance": "250000.0",              # decimal string, or null = unknown
                    "account_type": "401(k)",           # a name from account_types
                    "account_type_id": 12,              # optional: resolved from the name
                    "taxqualified": true,
                    "taxqualified_type": "401(k)",      # a name or an id of the list, or null
                    "product": "...", "status": "Active", "deleted": false,
                    "date_opened": "2011-06-01",        # optional
                    "created_at": "...", "updated_at": "..."}]
    }

A joint account is one record with two ``contact_ids``: it appears in both contacts' account
listings with the same id, each listing carrying its own ``contact_id``.

Everything here is standard library only, so importing it is cheap.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

DEMO_API_KEY = "PlanTechDemoKey-7d3f9a61-2b84-4c5e-9f10-addams"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "cara-mia-1964"

FORMAT = "plantech-fake-redtail/1"
_KEY_NAMESPACE = uuid.UUID("6f4e2c1a-9b7d-4e3f-8a21-5c0d9e8b7a61")
TS_FORMAT = "%Y-%m-%dT%H:%M:%S"


class DatasetError(ValueError):
    """A dataset file that cannot be read; the text is one line, safe to print."""


def timestamp(moment: datetime) -> str:
    """Redtail's timestamp form: ``2020-09-10T23:32:29.000Z`` (UTC, milliseconds)."""
    moment = moment.astimezone(UTC)
    return moment.strftime(TS_FORMAT) + f".{moment.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, TS_FORMAT + ".%fZ").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def next_timestamp(previous: str | None) -> str:
    """Now, but strictly later than `previous` so every change moves ``updated_at``."""
    now = datetime.now(UTC)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the precision we print
    before = parse_timestamp(previous) if previous else None
    if before is not None and now <= before:
        now = before + timedelta(milliseconds=1)
    return timestamp(now)


def format_balance(value: Decimal) -> str:
    """Redtail's balance form: a plain decimal string with at least one decimal ("750000.0")."""
    text = f"{value:f}"
    if "." not in text:
        return text + ".0"
    text = text.rstrip("0")
    return text + "0" if text.endswith(".") else text


def parse_balance(value: object) -> str | None:
    """Validate a balance given as a string or number; keep a string's exact text."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise DatasetError(f"not a balance: {value!r}")
    if isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise DatasetError(f"not a balance: {value[:40]!r}") from None
        if not d.is_finite():
            raise DatasetError(f"not a balance: {value[:40]!r}")
        return value.strip()
    if isinstance(value, int | Decimal):
        return format_balance(Decimal(value))
    if isinstance(value, float):
        return format_balance(Decimal(repr(value)))
    raise DatasetError(f"not a balance: {type(value).__name__}")


@dataclass
class FakeUser:
    username: str
    password: str
    user_key: str = ""
    redtail_user_id: int = 280717
    redtail_database_id: int = 280717

    def __post_init__(self) -> None:
        if not self.user_key:
            # stable per (database, username): the same GUID at every login
            name = f"{self.redtail_database_id}:{self.username.casefold()}"
            self.user_key = str(uuid.uuid5(_KEY_NAMESPACE, name)).upper()


@dataclass
class FakeContact:
    id: int
    first_name: str
    last_name: str
    middle_name: str | None = None
    nickname: str | None = None
    full_name: str | None = None
    dob: str | None = None
    status_id: int | None = 1
    category_id: int | None = None
    source_id: int | None = None
    servicing_advisor_id: int | None = None
    created_at: str = "2019-01-02T15:04:05.000Z"
    updated_at: str = "2019-01-02T15:04:05.000Z"
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    type: str = "Crm::Contact::Individual"

    @property
    def name(self) -> str:
        if self.full_name:
            return self.full_name
        parts = [self.first_name, self.middle_name, self.last_name]
        return " ".join(p for p in parts if p)

    def to_api(self, *, emails: bool = False, phones: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "first_name": self.first_name,
            "middle_name": self.middle_name,
            "last_name": self.last_name,
            "nickname": self.nickname,
            "full_name": self.name,
            "dob": self.dob,
            "status_id": self.status_id,
            "category_id": self.category_id,
            "source_id": self.source_id,
            "servicing_advisor_id": self.servicing_advisor_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if emails:
            out["emails"] = [
                {
                    "id": self.id * 100 + i + 1,
                    "contact_id": self.id,
                    "address": address,
                    "email_type": 1 if i == 0 else 2,
                    "email_type_description": "Home" if i == 0 else "Work",
                    "is_primary": i == 0,
                    "is_preferred": i == 0,
                    "created_at": self.created_at,
                    "updated_at": self.updated_at,
                }
                for i, address in enumerate(self.emails)
            ]
        if phones:
            out["phones"] = [
                {
                    "id": self.id * 100 + i + 1,
                    "contact_id": self.id,
                    "number": number,
                    "country_code": 1,
                    "phone_type": 1 if i == 0 else 3,
                    "phone_type_description": "Home" if i == 0 else "Mobile",
                    "is_primary": i == 0,
                    "is_preferred": i == 0,
                    "created_at": self.created_at,
                    "updated_at": self.updated_at,
                }
                for i, number in enumerate(self.phones)
            ]
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "first_name": self.first_name,
            "middle_name": self.middle_name,
            "last_name": self.last_name,
            "nickname": self.nickname,
            "full_name": self.full_name,
            "dob": self.dob,
            "status_id": self.status_id,
            "category_id": self.category_id,
            "source_id": self.source_id,
            "servicing_advisor_id": self.servicing_advisor_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "emails": list(self.emails),
            "phones": list(self.phones),
        }


class FakeAccount:
    """One Redtail account. `owners` is a tuple; assign a new one to change owners."""

    __slots__ = (
        "id",
        "_owners",
        "number",
        "company",
        "balance",
        "account_type",
        "account_type_id",
        "taxqualified",
        "taxqualified_type",
        "product",
        "status",
        "deleted",
        "date_opened",
        "created_at",
        "updated_at",
    )
    # bumped whenever an account is made or its owners change, so FakeData's index knows
    # it is stale
    owners_version = 0

    def __init__(
        self,
        id: int,
        owners: Iterable[int],
        *,
        number: str = "",
        company: str | None = None,
        balance: str | None = None,
        account_type: str | None = None,
        account_type_id: int | None = None,
        taxqualified: bool = False,
        taxqualified_type: int | None = None,
        product: str | None = None,
        status: str | None = "Active",
        deleted: bool = False,
        date_opened: str | None = None,
        created_at: str = "2020-01-02T15:04:05.000Z",
        updated_at: str | None = None,
    ) -> None:
        self.id = id
        self._owners = tuple(owners)
        FakeAccount.owners_version += 1
        self.number = number
        self.company = company
        self.balance = balance
        self.account_type = account_type
        self.account_type_id = account_type_id
        self.taxqualified = taxqualified
        self.taxqualified_type = taxqualified_type
        self.product = product
        self.status = status
        self.deleted = deleted
        self.date_opened = date_opened
        self.created_at = created_at
        self.updated_at = updated_at or created_at

    @property
    def owners(self) -> tuple[int, ...]:
        return self._owners

    @owners.setter
    def owners(self, value: Iterable[int]) -> None:
        self._owners = tuple(value)
        FakeAccount.owners_version += 1

    def __repr__(self) -> str:
        return (
            f"FakeAccount(id={self.id}, owners={self._owners}, company={self.company!r}, "
            f"account_type={self.account_type!r}, balance={self.balance!r})"
        )

    def to_api(self, contact_id: int | None = None) -> dict[str, Any]:
        """The Redtail record; `contact_id` is the owner whose listing this is."""
        return {
            "id": self.id,
            "contact_id": contact_id if contact_id is not None else self._owners[0],
            "number": self.number,
            "company": self.company,
            "balance": self.balance,
            "account_type": self.account_type,
            "account_type_id": self.account_type_id,
            "taxqualified": self.taxqualified,
            "taxqualified_type": self.taxqualified_type,
            "product": self.product,
            "status": self.status,
            "deleted": self.deleted,
            "date_opened": self.date_opened,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    def to_json(self) -> dict[str, Any]:
        out = self.to_api()
        del out["contact_id"]
        return {"id": self.id, "contact_ids": list(self._owners), **out}


@dataclass
class FamilyMember:
    contact_id: int
    hoh: bool = False
    relationship: str | None = None


@dataclass
class FakeFamily:
    id: int
    name: str
    members: list[FamilyMember] = field(default_factory=list)


class FakeData:
    """The mutable dataset behind a fake server.

    Tests may change it directly while a server runs: attributes of accounts and contacts,
    `accounts` / `contacts` dict entries (prefer `add_account` / `remove_account`, which keep
    `updated_at` right), and `owners` (assign a tuple). After any other structural change the
    per-contact index notices by itself; call `touch()` if in doubt.
    """

    def __init__(
        self,
        *,
        users: Iterable[FakeUser] = (),
        contacts: Iterable[FakeContact] = (),
        accounts: Iterable[FakeAccount] = (),
        families: Iterable[FakeFamily] = (),
        account_types: Iterable[dict[str, Any]] = (),
        tax_qualified_types: Iterable[dict[str, Any]] = (),
        api_keys: Iterable[str] = (DEMO_API_KEY,),
    ) -> None:
        self.api_keys: list[str] = list(api_keys)
        self.users: dict[str, FakeUser] = {}
        for user in users:
            self.add_user(user)
        self.contacts: dict[int, FakeContact] = {c.id: c for c in contacts}
        self.accounts: dict[int, FakeAccount] = {a.id: a for a in accounts}
        self.families: dict[int, FakeFamily] = {f.id: f for f in families}
        self.account_types: list[dict[str, Any]] = [dict(t) for t in account_types]
        self.tax_qualified_types: list[dict[str, Any]] = [dict(t) for t in tax_qualified_types]
        self._version = 0
        self._index_key: tuple[int, int, int, int] | None = None
        self._index: dict[int, list[int]] = {}

    # -- users -------------------------------------------------------------------------------

    def add_user(self, user: FakeUser) -> FakeUser:
        self.users[user.username.casefold()] = user
        return user

    def user(self, username: str) -> FakeUser | None:
        return self.users.get(username.casefold())

    def user_by_key(self, user_key: str) -> FakeUser | None:
        key = user_key.strip().casefold()
        for user in self.users.values():
            if user.user_key.casefold() == key:
                return user
        return None

    # -- lookups -----------------------------------------------------------------------------

    def account_type_id(self, name: str | None) -> int | None:
        return _lookup_id(self.account_types, name)

    def tax_qualified_type_id(self, name: str | None) -> int | None:
        return _lookup_id(self.tax_qualified_types, name)

    def tax_qualified_type_name(self, type_id: int | None) -> str | None:
        for item in self.tax_qualified_types:
            if item["id"] == type_id:
                return str(item["name"])
        return None

    # -- accounts ----------------------------------------------------------------------------

    def touch(self) -> None:
        """Forget the per-contact index after a change it cannot notice."""
        self._version += 1

    def accounts_of(self, contact_id: int) -> list[FakeAccount]:
        """The accounts listed under a contact, by id (deleted ones included)."""
        key = (id(self.accounts), len(self.accounts), self._version, FakeAccount.owners_version)
        if key != self._index_key:
            index: dict[int, list[int]] = {}
            # snapshots, so that a test thread changing the data cannot break the iteration
            for account in sorted(list(self.accounts.values()), key=_by_id):
                for owner in dict.fromkeys(account.owners):
                    index.setdefault(owner, []).append(account.id)
            self._index, self._index_key = index, key
        accounts = self.accounts
        found = (accounts.get(i) for i in self._index.get(contact_id, ()))
        return [a for a in found if a is not None]

    def next_account_id(self) -> int:
        return max(self.accounts, default=0) + 1

    def add_account(self, account: FakeAccount) -> FakeAccount:
        if account.account_type_id is None and account.account_type:
            account.account_type_id = self.account_type_id(account.account_type)
        self.accounts[account.id] = account
        self.touch()
        return account

    def remove_account(self, account_id: int) -> FakeAccount | None:
        account = self.accounts.pop(account_id, None)
        self.touch()
        return account

    def update_account(self, account_id: int, **fields: Any) -> FakeAccount:
        """Change fields of an account and move its ``updated_at``. KeyError if unknown."""
        account = self.accounts[account_id]
        for name, value in fields.items():
            if name == "owners":
                account.owners = value
            elif name in FakeAccount.__slots__ and not name.startswith("_"):
                setattr(account, name, value)
            else:
                raise AttributeError(f"not an account field: {name}")
        if "account_type" in fields and "account_type_id" not in fields:
            account.account_type_id = self.account_type_id(account.account_type)
        account.updated_at = next_timestamp(account.updated_at)
        self.touch()
        return account

    # -- families ----------------------------------------------------------------------------

    def family_of(self, contact_id: int) -> FakeFamily | None:
        for family in sorted(self.families.values(), key=lambda f: f.id):
            if any(m.contact_id == contact_id for m in family.members):
                return family
        return None

    # -- (de)serialisation -------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "api_keys": list(self.api_keys),
            "users": [
                {
                    "username": u.username,
                    "password": u.password,
                    "user_key": u.user_key,
                    "redtail_user_id": u.redtail_user_id,
                    "redtail_database_id": u.redtail_database_id,
                }
                for u in self.users.values()
            ],
            "account_types": [dict(t) for t in self.account_types],
            "tax_qualified_types": [dict(t) for t in self.tax_qualified_types],
            "contacts": [c.to_json() for c in sorted(self.contacts.values(), key=_by_id)],
            "families": [
                {
                    "id": f.id,
                    "name": f.name,
                    "members": [
                        {"contact_id": m.contact_id, "hoh": m.hoh, "relationship": m.relationship}
                        for m in f.members
                    ],
                }
                for f in sorted(self.families.values(), key=_by_id)
            ],
            "accounts": [a.to_json() for a in sorted(self.accounts.values(), key=_by_id)],
        }

    def save(self, path: str | Path) -> None:
        """Write the dataset in the file format above (one record a line)."""
        Path(path).write_text(dumps_dataset(self.to_json()), encoding="utf-8")

    def counts(self) -> dict[str, int]:
        live = [a for a in self.accounts.values() if not a.deleted]
        return {
            "contacts": len(self.contacts),
            "accounts": len(self.accounts),
            "accounts_not_deleted": len(live),
            "joint_accounts": sum(1 for a in self.accounts.values() if len(set(a.owners)) > 1),
            "families": len(self.families),
            "users": len(self.users),
            "account_types": len(self.account_types),
            "tax_qualified_types": len(self.tax_qualified_types),
        }


def _by_id(item: Any) -> int:
    return int(item.id)


def _lookup_id(items: list[dict[str, Any]], name: str | None) -> int | None:
    if name is None:
        return None
    wanted = " ".join(name.split()).casefold()
    for item in items:
        if " ".join(str(item["name"]).split()).casefold() == wanted:
            return int(item["id"])
    return None


def dumps_dataset(doc: dict[str, Any]) -> str:
    """JSON with one record a line: readable and diff-friendly."""
    lines = ["{"]
    keys = list(doc)
    for i, key in enumerate(keys):
        comma = "," if i < len(keys) - 1 else ""
        value = doc[key]
        if isinstance(value, list) and value:
            lines.append(f"  {json.dumps(key)}: [")
            for j, item in enumerate(value):
                item_comma = "," if j < len(value) - 1 else ""
                lines.append(f"    {json.dumps(item, ensure_ascii=False)}{item_comma}")
            lines.append(f"  ]{comma}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- loading ---------------------------------------------------------------------------------


def _req(record: dict[str, Any], key: str, where: str) -> Any:
    if key not in record:
        raise DatasetError(f"{where}: missing {key!r}")
    return record[key]


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise DatasetError(f"{where}: not an id: {value!r}")
    try:
        return int(value)
    except ValueError:
        raise DatasetError(f"{where}: not an id: {value!r}") from None


def _opt_int(value: Any, where: str) -> int | None:
    return None if value is None else _int(value, where)


def data_from_json(doc: Any) -> FakeData:
    """Build a FakeData from the parsed file format; DatasetError names what is wrong."""
    if not isinstance(doc, dict):
        raise DatasetError("the dataset must be a JSON object")
    fmt = doc.get("format", FORMAT)
    if fmt != FORMAT:
        raise DatasetError(f"unknown dataset format {fmt!r} (expected {FORMAT!r})")
    try:
        return _data_from_json(doc)
    except DatasetError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise DatasetError(f"invalid dataset: {type(exc).__name__}: {exc}") from None


def _data_from_json(doc: dict[str, Any]) -> FakeData:
    data = FakeData(api_keys=doc.get("api_keys") or [DEMO_API_KEY])
    for i, u in enumerate(doc.get("users") or []):
        where = f"users[{i}]"
        data.add_user(
            FakeUser(
                username=str(_req(u, "username", where)),
                password=str(_req(u, "password", where)),
                user_key=str(u.get("user_key") or ""),
                redtail_user_id=_int(u.get("redtail_user_id", 280717), where),
                redtail_database_id=_int(u.get("redtail_database_id", 280717), where),
            )
        )
    if not data.users:
        data.add_user(FakeUser(DEMO_USERNAME, DEMO_PASSWORD))
    for key, target in (
        ("account_types", data.account_types),
        ("tax_qualified_types", data.tax_qualified_types),
    ):
        for i, item in enumerate(doc.get(key) or []):
            where = f"{key}[{i}]"
            target.append(
                {"id": _int(_req(item, "id", where), where), "name": str(_req(item, "name", where))}
            )
    for i, c in enumerate(doc.get("contacts") or []):
        where = f"contacts[{i}]"
        cid = _int(_req(c, "id", where), where)
        if cid in data.contacts:
            raise DatasetError(f"{where}: duplicate contact id {cid}")
        data.contacts[cid] = FakeContact(
            id=cid,
            first_name=str(c.get("first_name") or ""),
            last_name=str(c.get("last_name") or ""),
            middle_name=c.get("middle_name"),
            nickname=c.get("nickname"),
            full_name=c.get("full_name"),
            dob=c.get("dob"),
            status_id=_opt_int(c.get("status_id"), where),
            category_id=_opt_int(c.get("category_id"), where),
            source_id=_opt_int(c.get("source_id"), where),
            servicing_advisor_id=_opt_int(c.get("servicing_advisor_id"), where),
            created_at=str(c.get("created_at") or "2019-01-02T15:04:05.000Z"),
            updated_at=str(
                c.get("updated_at") or c.get("created_at") or "2019-01-02T15:04:05.000Z"
            ),
            emails=[str(e) for e in c.get("emails") or []],
            phones=[str(p) for p in c.get("phones") or []],
        )
    for i, f in enumerate(doc.get("families") or []):
        where = f"families[{i}]"
        members = []
        for m in _req(f, "members", where):
            member_cid = _int(_req(m, "contact_id", where), where)
            if member_cid not in data.contacts:
                raise DatasetError(f"{where}: unknown contact {member_cid}")
            members.append(FamilyMember(member_cid, bool(m.get("hoh")), m.get("relationship")))
        fid = _int(_req(f, "id", where), where)
        data.families[fid] = FakeFamily(fid, str(_req(f, "name", where)), members)
    for i, a in enumerate(doc.get("accounts") or []):
        where = f"accounts[{i}]"
        aid = _int(_req(a, "id", where), where)
        if aid in data.accounts:
            raise DatasetError(f"{where}: duplicate account id {aid}")
        owners_raw = a.get("contact_ids")
        if owners_raw is None and "contact_id" in a:
            owners_raw = [a["contact_id"]]
        if not owners_raw:
            raise DatasetError(f"{where}: missing 'contact_ids'")
        owners = [_int(o, where) for o in owners_raw]
        for owner in owners:
            if owner not in data.contacts:
                raise DatasetError(f"{where}: unknown contact {owner}")
        tq = a.get("taxqualified_type")
        if isinstance(tq, str) and not tq.strip().isdigit():
            tq_id = data.tax_qualified_type_id(tq)
            if tq_id is None:
                raise DatasetError(f"{where}: unknown tax-qualified type {tq!r}")
        else:
            tq_id = _opt_int(tq, where)
        account_type = a.get("account_type")
        type_id = _opt_int(a.get("account_type_id"), where)
        if type_id is None and account_type is not None:
            type_id = data.account_type_id(account_type)
        try:
            balance = parse_balance(a.get("balance"))
        except DatasetError as exc:
            raise DatasetError(f"{where}: {exc}") from None
        created = str(a.get("created_at") or "2020-01-02T15:04:05.000Z")
        data.accounts[aid] = FakeAccount(
            aid,
            owners,
            number="" if a.get("number") is None else str(a["number"]),
            company=a.get("company"),
            balance=balance,
            account_type=account_type,
            account_type_id=type_id,
            taxqualified=bool(a.get("taxqualified")),
            taxqualified_type=tq_id,
            product=a.get("product"),
            status=a.get("status", "Active"),
            deleted=bool(a.get("deleted")),
            date_opened=a.get("date_opened"),
            created_at=created,
            updated_at=str(a.get("updated_at") or created),
        )
    return data


def load_dataset(path: str | Path) -> FakeData:
    """Read a dataset file (format above). DatasetError with a one-line reason on failure."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"cannot read dataset {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise DatasetError(f"cannot read dataset {path}: not UTF-8") from None
    return _loads(text, str(path))


def _loads(text: str, name: str) -> FakeData:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{name}: not JSON (line {exc.lineno}: {exc.msg})") from None
    try:
        return data_from_json(doc)
    except DatasetError as exc:
        raise DatasetError(f"{name}: {exc}") from None


def load_demo_data() -> FakeData:
    """A fresh copy of the packaged demo dataset (the Addams household and friends)."""
    resource = resources.files("plantech_tui").joinpath("data", "demo", "redtail.json")
    return _loads(resource.read_text(encoding="utf-8"), "demo dataset")


# -- generation ------------------------------------------------------------------------------

# Account types of SPEC §6 Appendix A, then types the product skips.
INCLUDED_TYPES = (
    "Brokerage", "Individual", "Joint", "Trust", "TOD", "IRA", "Traditional IRA",
    "Rollover IRA", "SEP IRA", "SIMPLE IRA", "Inherited IRA", "Roth IRA", "401(k)",
    "Roth 401(k)", "403(b)", "457(b)", "Pension", "Profit Sharing", "529 Plan", "HSA",
    "UTMA/UGMA", "Annuity", "Fixed Annuity", "Variable Annuity", "Indexed Annuity",
    "Mutual Fund", "Checking", "Savings", "Money Market", "CD", "Other",
)  # fmt: skip
EXCLUDED_TYPES = (
    "Life Insurance", "Term Life", "Whole Life", "Universal Life", "Variable Universal Life",
    "Disability", "Long-Term Care", "Property & Casualty", "Loan", "Real Estate",
)  # fmt: skip
TAX_QUALIFIED_TYPES = (
    "Non-Qualified", "IRA", "Traditional IRA", "Rollover IRA", "Roth IRA", "SEP IRA",
    "SIMPLE IRA", "Inherited IRA", "401(k)", "Roth 401(k)", "403(b)", "457(b)", "Pension",
    "Profit Sharing", "Keogh", "529 Plan", "HSA", "Defined Benefit",
)  # fmt: skip
TAX_QUALIFIED_FIRST_ID = 21

# account type -> (taxqualified, name of its tax-qualified type or None)
_QUALIFIED_BY_TYPE: dict[str, tuple[bool, str | None]] = {
    "IRA": (True, "IRA"),
    "Traditional IRA": (True, "Traditional IRA"),
    "Rollover IRA": (True, "Rollover IRA"),
    "SEP IRA": (True, "SEP IRA"),
    "SIMPLE IRA": (True, "SIMPLE IRA"),
    "Inherited IRA": (True, "Inherited IRA"),
    "Roth IRA": (True, "Roth IRA"),
    "401(k)": (True, "401(k)"),
    "Roth 401(k)": (True, "Roth 401(k)"),
    "403(b)": (True, "403(b)"),
    "457(b)": (True, "457(b)"),
    "Pension": (True, "Pension"),
    "Profit Sharing": (True, "Profit Sharing"),
    "529 Plan": (True, "529 Plan"),
    "HSA": (True, "HSA"),
}

_COMPANIES: dict[str, tuple[str, ...]] = {
    "brokerage": ("Charles Schwab", "Fidelity", "Vanguard", "E*TRADE", "Morgan Stanley",
                  "Raymond James", "Edward Jones", "LPL Financial", "Pershing", "TD Ameritrade"),
    "retirement": ("Fidelity", "Vanguard", "T. Rowe Price", "Empower", "Principal",
                   "John Hancock", "Voya", "TIAA", "Charles Schwab", "Nationwide"),
    "bank": ("Chase", "Bank of America", "Wells Fargo", "Ally Bank", "Citibank",
             "U.S. Bank", "PNC", "Capital One", "Marcus", "Discover Bank"),
    "annuity": ("Allianz Life", "Jackson National", "Lincoln Financial", "Athene",
                "Pacific Life", "Brighthouse", "Prudential", "Nationwide"),
    "insurance": ("Northwestern Mutual", "MassMutual", "New York Life", "State Farm",
                  "Guardian", "Allstate", "Prudential", "Mutual of Omaha"),
    "fund": ("American Funds", "Franklin Templeton", "Invesco", "PIMCO", "BlackRock"),
}  # fmt: skip


def _company_kind(account_type: str) -> str:
    if account_type in ("Checking", "Savings", "Money Market", "CD", "Loan"):
        return "bank"
    if "Annuity" in account_type:
        return "annuity"
    if account_type in EXCLUDED_TYPES:
        return "insurance"
    if account_type == "Mutual Fund":
        return "fund"
    if account_type in ("Brokerage", "Individual", "Joint", "Trust", "TOD", "UTMA/UGMA", "Other"):
        return "brokerage"
    return "retirement"


_FIRST = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Charles", "Karen", "Zoë", "José", "Søren", "Renée", "Chloé", "Ana María", "Björn",
    "Nguyễn", "Aoife", "Siobhán", "Łukasz", "François", "Mei", "Priya", "Olúwaseun", "D'Arcy",
)  # fmt: skip
_LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernández", "López", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "O'Brien", "D'Angelo", "Ångström", "Núñez", "Müller", "Østergaard",
    "Van der Berg", "MacDonald", "Nakamura", "Kowalczyk", "Papadopoulos", "Singh", "O'Neil",
)  # fmt: skip


def _dt(rng: random.Random, start_year: int, end_year: int) -> str:
    seconds = rng.randrange(
        int(datetime(start_year, 1, 1, tzinfo=UTC).timestamp()),
        int(datetime(end_year, 12, 31, tzinfo=UTC).timestamp()),
    )
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime(TS_FORMAT) + ".000Z"


def _balance_cents(rng: random.Random, account_type: str) -> int:
    if account_type == "Loan":
        return -rng.randrange(100_00, 400_000_00)
    if account_type in ("Checking", "Savings"):
        cents = rng.randrange(0, 60_000_00)
        return -cents // 20 if rng.random() < 0.03 else cents
    # log-uniform between $100 and $5M
    return int(10 ** rng.uniform(4, 8.7))


def _cents_str(cents: int) -> str:
    return format_balance(Decimal(cents).scaleb(-2))


def _number(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.03:
        return ""
    if roll < 0.08:
        return str(rng.randrange(1, 1000))
    if roll < 0.5:
        return f"{rng.randrange(10**7, 10**8)}"
    return f"{rng.choice('XZQ')}{rng.randrange(10, 99)}-{rng.randrange(10**5, 10**6)}"


def lookup_lists() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The standard account-type and tax-qualified lookup lists (ids are stable)."""
    account_types = [
        {"id": i + 1, "name": name} for i, name in enumerate(INCLUDED_TYPES + EXCLUDED_TYPES)
    ]
    tax_types = [
        {"id": TAX_QUALIFIED_FIRST_ID + i, "name": name}
        for i, name in enumerate(TAX_QUALIFIED_TYPES)
    ]
    return account_types, tax_types


def generate_data(n_contacts: int, seed: int, accounts_per_contact: int | None = None) -> FakeData:
    """A deterministic synthetic dataset: `n_contacts` contacts (ids from 1001), about
    `accounts_per_contact` accounts each (default 30; ids from 100001), ~10% of them of types
    the product skips, some null balances, and a joint account for each couple of consecutive
    contacts (who also form a family)."""
    if n_contacts < 0:
        raise ValueError("n_contacts must be >= 0")
    per = 30 if accounts_per_contact is None else accounts_per_contact
    if per < 0:
        raise ValueError("accounts_per_contact must be >= 0")
    rng = random.Random(seed)
    account_types, tax_types = lookup_lists()
    type_ids = {t["name"]: t["id"] for t in account_types}
    tax_ids = {t["name"]: t["id"] for t in tax_types}
    data = FakeData(
        users=[FakeUser(DEMO_USERNAME, DEMO_PASSWORD)],
        account_types=account_types,
        tax_qualified_types=tax_types,
    )
    included = INCLUDED_TYPES
    excluded = EXCLUDED_TYPES
    annuity_tax = ("Non-Qualified", "IRA", "Roth IRA", "Rollover IRA", "Defined Benefit")
    contacts = data.contacts
    accounts = data.accounts
    next_id = 100_001
    for i in range(n_contacts):
        cid = 1001 + i
        first = rng.choice(_FIRST)
        last = rng.choice(_LAST)
        created = _dt(rng, 2012, 2021)
        handle = "".join(ch for ch in f"{first}.{last}".lower() if ch.isascii() and ch not in " '")
        contacts[cid] = FakeContact(
            id=cid,
            first_name=first,
            last_name=last,
            dob=f"{rng.randrange(1935, 2005)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
            status_id=1,
            category_id=rng.randrange(1, 6),
            source_id=rng.randrange(1, 9),
            servicing_advisor_id=rng.randrange(1, 4),
            created_at=created,
            updated_at=created,
            emails=[f"{handle}{cid}@example.com"],
            phones=[f"555-{rng.randrange(100, 1000):03d}-{rng.randrange(10000):04d}"],
        )
        count = per if per <= 2 else rng.randrange(max(1, per * 2 // 3), per * 4 // 3 + 1)
        # couples: the second contact of each pair shares a joint account with the first
        joint = i % 2 == 1 and count > 0 and rng.random() < 0.6
        for k in range(count):
            roll = rng.random()
            if joint and k == 0:
                account_type = rng.choice(("Joint", "Brokerage", "Checking", "Trust"))
                owners: tuple[int, ...] = (cid - 1, cid)
            else:
                account_type = rng.choice(excluded if roll < 0.1 else included)
                owners = (cid,)
            taxqualified, tq_name = _QUALIFIED_BY_TYPE.get(account_type, (False, None))
            if account_type in ("Annuity", "Fixed Annuity", "Variable Annuity", "Indexed Annuity"):
                tq_name = rng.choice(annuity_tax)
                taxqualified = tq_name != "Non-Qualified"
                if rng.random() < 0.15:
                    tq_name = None
            created_at = _dt(rng, 2015, 2024)
            company: str | None = rng.choice(_COMPANIES[_company_kind(account_type)])
            if rng.random() < 0.04:
                company = None
            cents = _balance_cents(rng, account_type)
            accounts[next_id] = FakeAccount(
                next_id,
                owners,
                number=_number(rng),
                company=company,
                balance=None if rng.random() < 0.05 else _cents_str(cents),
                account_type=account_type,
                account_type_id=type_ids[account_type],
                taxqualified=taxqualified,
                taxqualified_type=tax_ids[tq_name] if tq_name else None,
                product=None,
                status="Active",
                created_at=created_at,
                updated_at=created_at,
            )
            next_id += 1
        if i % 2 == 1:
            fid = 50_000 + cid
            data.families[fid] = FakeFamily(
                fid,
                f"{contacts[cid - 1].last_name} Household",
                [
                    FamilyMember(cid - 1, True, "Head of Household"),
                    FamilyMember(cid, False, "Spouse"),
                ],
            )
    data.touch()
    return data


def iter_listed(data: FakeData, contact_id: int) -> Iterator[dict[str, Any]]:
    """Every account record of a contact's listing, as the API shows it (for tests, tools)."""
    for account in data.accounts_of(contact_id):
        yield account.to_api(contact_id)
