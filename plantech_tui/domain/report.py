"""The refresh report: what a pull did (or, for a dry run, would do)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from .money import money_str
from .text import MESSAGE_CAP, clean_line


class BalanceChange(BaseModel):
    redtail_account_id: int | str  # the partner's id: a number for Redtail
    description: str
    old: Decimal | None
    new: Decimal | None
    where: Literal["pending", "linked"] = "pending"
    fields: list[str] = Field(default_factory=list)  # what else changed (company, type, ...)

    def as_json(self) -> dict[str, Any]:
        return {
            "redtail_account_id": self.redtail_account_id,
            "old": money_str(self.old),
            "new": money_str(self.new),
            "description": self.description,
            "where": self.where,
            "fields": self.fields,
        }


class PullError(BaseModel):
    redtail_contact_id: int | str | None
    kind: str
    message: str
    plan_id: int | None = None  # set when a whole plan could not be pulled (sync --all)

    @field_validator("message")
    @classmethod
    def _one_clean_line(cls, value: str) -> str:
        # a server's text: one line, no terminal controls, at most MESSAGE_CAP characters
        return clean_line(value, MESSAGE_CAP)

    def as_json(self) -> dict[str, Any]:
        doc = self.model_dump(exclude={"plan_id"})
        if self.redtail_contact_id is not None:  # every partner's id as text, too
            doc["source_contact_id"] = str(self.redtail_contact_id)
        return doc


@dataclass(frozen=True, slots=True)
class NewAccount:
    """A plain dataclass: a first pull of a big book makes 100k of them."""

    redtail_account_id: int | str  # the partner's id: a number for Redtail
    description: str
    account_type: str | None
    default_investment_type: str
    balance: Decimal | None
    review_type: bool = False
    source: str = ""  # the partner as the report names it ("Redtail", "Salesforce")

    def as_json(self) -> dict[str, Any]:
        return {
            "redtail_account_id": self.redtail_account_id,
            "description": self.description,
            "account_type": self.account_type,
            "default_investment_type": self.default_investment_type,
            "balance": money_str(self.balance),
            "review_type": self.review_type,
        }


class RefreshReport(BaseModel):
    plan_id: int
    status: Literal["ok", "partial", "failed"] = "ok"
    dry_run: bool = False
    new: list[NewAccount] = Field(default_factory=list)
    changes: list[BalanceChange] = Field(default_factory=list)
    unchanged: int = 0
    skipped_by_type: list[str] = Field(default_factory=list)  # "Whole Life (Redtail 5009)"
    paused: int = 0
    ignored: int = 0  # returned by Redtail but ignored: untouched
    balance_unknown: int = 0
    missing_at_source: list[int | str] = Field(default_factory=list)  # source ids flagged now
    type_flags: list[str] = Field(default_factory=list)  # known accounts whose type is excluded
    errors: list[PullError] = Field(default_factory=list)
    truncated: list[str] = Field(default_factory=list)  # "Redtail 5005: company cut to 200 ..."
    # account types the partner's mapping does not know, with how many accounts had them:
    # "Treasury Management (Salesforce, 2 accounts)": the firm maps them (never dropped silently)
    unknown_types: list[str] = Field(default_factory=list)
    requests: int = 0
    started_at: str | None = None
    finished_at: str | None = None

    def comparable(self) -> dict[str, Any]:
        """The report without timings: a dry run's equals the real pull's that follows."""
        doc = self.as_json()
        for key in ("dry_run", "requests", "started_at", "finished_at"):
            doc.pop(key, None)
        return doc

    def as_json(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "status": self.status,
            "dry_run": self.dry_run,
            "new": len(self.new),
            "changed": len(self.changes),
            "unchanged": self.unchanged,
            "skipped_by_type": len(self.skipped_by_type),
            "paused": self.paused,
            "ignored": self.ignored,
            "balance_unknown": self.balance_unknown,
            "missing_at_source": len(self.missing_at_source),
            "changes": [c.as_json() for c in self.changes],
            "errors": [e.as_json() for e in self.errors],
            "new_accounts": [n.as_json() for n in self.new],
            "skipped": list(self.skipped_by_type),
            "missing": list(self.missing_at_source),
            "type_flags": list(self.type_flags),
            "truncated": list(self.truncated),
            # only when there are some: a report without stays byte for byte what it was
            **({"unknown_types": list(self.unknown_types)} if self.unknown_types else {}),
            "requests": self.requests,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }

    def summary(self) -> str:
        parts = [f"{len(self.new)} new", f"{len(self.changes)} changed",
                 f"{self.unchanged} unchanged"]
        if self.skipped_by_type:
            parts.append(f"{len(self.skipped_by_type)} skipped by type")
        if self.paused:
            parts.append(f"{self.paused} paused")
        if self.balance_unknown:
            parts.append(f"{self.balance_unknown} balance unknown")
        if self.missing_at_source:
            parts.append(f"{len(self.missing_at_source)} missing at source")
        if self.truncated:
            parts.append(f"{len(self.truncated)} with text cut")
        if self.unknown_types:
            parts.append(f"{len(self.unknown_types)} unmapped type(s)")
        if self.errors:
            parts.append(f"{len(self.errors)} error(s)")
        return ", ".join(parts)
