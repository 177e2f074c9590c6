"""The things an advisor works with, in the seed article's words.

Frozen dataclasses, built from our own rows by `store/rows.py`, which converts every column
explicitly (Decimal money, enums, bools). Pydantic validates what crosses a trust boundary —
Redtail's responses (`sync/models.py`) and the refresh report (`domain/report.py`) — and
stays off the path to the first screen (its import costs ~50 ms of start-up).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, Self

from .money import money_str


class Role(StrEnum):
    ADVISOR = "advisor"
    PROFESSIONAL = "professional"
    CLIENT = "client"


class StagedState(StrEnum):
    PENDING = "pending"
    IGNORED = "ignored"
    LINKED = "linked"


class LinkState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    SOURCE_UNLINKED = "source_unlinked"


OWNERS: tuple[str, ...] = ("Client", "Co-client", "Joint")
Owner = Literal["Client", "Co-client", "Joint"]
PARTNER = "Redtail CRM"
def legacy_id(source_id: str) -> int | str:
    """An id as the refresh report and the `redtail_*` JSON keys have always shown it: a
    number when it is one (Redtail's), else the text."""
    if source_id.isascii() and source_id.isdigit() and len(source_id) < 19:
        return int(source_id)
    return source_id


# how a partner's type note marks an account held at another firm (Salesforce's HeldAway):
# staged like any other, and the Notes column says so
HELD_AWAY = "Held away"

# the registry slug of the partner whose rows keep their `redtail_*` JSON keys (SPEC §5)
REDTAIL = "redtail"


class _Model:
    __slots__ = ()

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, kw_only=True)
class User(_Model):
    id: int
    name: str
    role: Role
    can_edit: bool = False
    is_admin: bool = False  # a firm administrator (always an advisor): manages every user

    @property
    def label(self) -> str:
        return f"{self.name} ({self.role.value}{', can edit' if self.can_edit else ''})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan(_Model):
    id: int
    name: str
    client: str = ""
    co_client: str | None = None
    owner_user_id: int

    @property
    def clients(self) -> list[str]:
        return [c for c in (self.client, self.co_client) if c]


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanSummary(_Model):
    plan: Plan
    accounts: int
    pending: int
    ignored: int
    total_linked: Decimal
    total_manual: Decimal
    total_pending: Decimal
    last_pull: str | None  # UTC time of the last successful pull

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.plan.id,
            "name": self.plan.name,
            "clients": self.plan.clients,
            "accounts": self.accounts,
            "pending": self.pending,
            "ignored": self.ignored,
            "last_pull": self.last_pull,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Integration(_Model):
    id: int
    owner_user_id: int
    partner: str = PARTNER
    environment: str
    base_url: str
    username: str
    secret_ref: str
    status: str
    status_message: str | None = None
    created_at: str

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "partner": self.partner,
            "environment": self.environment,
            "base_url": self.base_url,
            "username": self.username,
            "status": self.status,
            "created_at": self.created_at,
            # where its data calls go (a Salesforce org's instance; Redtail's API root)
            "instance_url": self.base_url,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanContact(_Model):
    id: int
    plan_id: int
    integration_id: int
    source_contact_id: str  # the partner's id, opaque text
    name: str
    # "other": linked, but neither the client nor the co-client (a child): shown "—"
    party: Literal["client", "co_client", "other"] = "client"
    partner: str = REDTAIL  # the slug of its integration's partner

    @property
    def redtail_contact_id(self) -> int | str:
        """The id as Redtail's rows have always shown it: a number."""
        return legacy_id(self.source_contact_id)

    def as_json(self) -> dict[str, object]:
        doc: dict[str, object] = {"integration_id": self.integration_id}
        if self.partner == REDTAIL:
            doc["redtail_contact_id"] = self.redtail_contact_id
        return doc | {"name": self.name, "partner": self.partner,
                      "source_contact_id": self.source_contact_id}


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountLink(_Model):
    staged_id: int
    integration: str = PARTNER
    source_account_id: str  # the partner's id, opaque text
    state: LinkState
    last_updated: str | None
    source_updated_at: str | None = None  # when the partner last changed it
    missing_at_source: bool = False
    partner: str = REDTAIL  # the slug of its integration's partner

    @property
    def redtail_account_id(self) -> int | str:
        """The id as Redtail's rows have always shown it: a number."""
        return legacy_id(self.source_account_id)

    def as_json(self) -> dict[str, object]:
        doc: dict[str, object] = {"integration": self.integration}
        if self.partner == REDTAIL:
            doc["redtail_account_id"] = self.redtail_account_id
        return doc | {
            "state": self.state.value,
            "last_updated": self.last_updated,
            "missing_at_source": self.missing_at_source,
            "partner": self.partner,
            "source_account_id": self.source_account_id,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanAccount(_Model):
    id: int
    plan_id: int
    description: str
    investment_type: str
    owner: str
    balance: Decimal
    equity_pct: Decimal | None = None
    fixed_income_pct: Decimal | None = None
    cash_pct: Decimal | None = None
    annual_contribution: Decimal | None = None
    notes: str = ""
    number_last4: str | None = None
    version: int = 1
    link: AccountLink | None = None

    @property
    def is_linked(self) -> bool:
        return self.link is not None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "description": self.description,
            "investment_type": self.investment_type,
            "balance": money_str(self.balance),
            "owner": self.owner,
            "link": self.link.as_json() if self.link else None,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class StagedAccount(_Model):
    """A Redtail account the plan knows: pending, ignored, or linked to a plan account."""

    id: int
    plan_id: int
    integration_id: int
    source_account_id: str  # the partner's id, opaque text
    state: StagedState
    ignore_reason: str | None = None
    linked_account_id: int | None = None
    link_state: LinkState | None = None
    description: str
    description_edited: bool = False
    company: str | None = None
    number_last4: str | None = None
    account_type: str | None = None
    default_investment_type: str
    review_type: bool = False
    type_note: str = ""
    type_included: bool = True
    balance: Decimal | None = None
    source_updated_at: str | None = None  # when the partner last changed it
    last_updated: str | None = None
    missing_at_source: bool = False
    version: int = 1
    contact_ids: tuple[str, ...] = ()  # the partner's ids of the contacts listing it
    suggested_account_id: int | None = None
    partner: str = REDTAIL  # the slug of its integration's partner

    @property
    def redtail_account_id(self) -> int | str:
        """The id as Redtail's rows have always shown it: a number."""
        return legacy_id(self.source_account_id)

    @property
    def held_away(self) -> bool:
        return self.type_note.startswith(HELD_AWAY)

    def as_json(self) -> dict[str, object]:
        doc: dict[str, object] = {"id": self.id}
        if self.partner == REDTAIL:
            doc["redtail_account_id"] = self.redtail_account_id
        return doc | {
            "description": self.description,
            "company": self.company,
            "number_last4": self.number_last4,
            "account_type": self.account_type,
            "default_investment_type": self.default_investment_type,
            "review_type": self.review_type,
            "balance": money_str(self.balance),
            "missing_at_source": self.missing_at_source,
            "suggested_account_id": self.suggested_account_id,
            "partner": self.partner,
            "source_account_id": self.source_account_id,
            # why the default type ("Held away · defaulted from Salesforce type 401(k)")
            "type_note": self.type_note,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanDetail(_Model):
    """Everything `plan show` prints; Plan Integration parts are empty for non-advisors."""

    plan: Plan
    contacts: tuple[PlanContact, ...]
    pending: tuple[StagedAccount, ...]
    ignored: tuple[StagedAccount, ...]
    accounts: tuple[PlanAccount, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "plan": {"id": self.plan.id, "name": self.plan.name, "clients": self.plan.clients},
            "contacts": [c.as_json() for c in self.contacts],
            "pending": [s.as_json() for s in self.pending],
            "ignored": [s.as_json() | {"ignore_reason": s.ignore_reason} for s in self.ignored],
            "accounts": [a.as_json() for a in self.accounts],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry(_Model):
    id: int
    at: str
    user_name: str
    plan_id: int | None
    action: str
    object_type: str
    object_id: int | None
    before: str | None
    after: str | None
    detail: str = ""
