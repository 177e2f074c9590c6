"""The investment-account editor's fields and their rules (SPEC §2.5)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .errors import ValidationFailed
from .mapping import canonical_owner
from .money import MoneyError, to_money, to_money_or_none
from .text import clean_line

FIELDS = (
    "description",
    "investment_type",
    "owner",
    "balance",
    "equity_pct",
    "fixed_income_pct",
    "cash_pct",
    "annual_contribution",
    "notes",
    "number_last4",
)
HUNDRED = Decimal(100)


def _pct(name: str, value: object) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        d = to_money(str(value).strip().rstrip("%") if isinstance(value, str) else value)
    except MoneyError as exc:
        raise ValidationFailed(f"{name.replace('_', ' ')}: {exc}", field=name) from None
    if d < 0 or d > HUNDRED:
        raise ValidationFailed(f"{name.replace('_', ' ')} must be between 0 and 100", field=name)
    return d


@dataclass(frozen=True)
class AccountFields:
    """Validated, canonical values of the editor (every required field present)."""

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

    def as_row(self) -> dict[str, Any]:
        def s(d: Decimal | None) -> str | None:
            return None if d is None else f"{d:f}"

        return {
            "description": self.description,
            "investment_type": self.investment_type,
            "owner": self.owner,
            "balance": s(self.balance),
            "equity_pct": s(self.equity_pct),
            "fixed_income_pct": s(self.fixed_income_pct),
            "cash_pct": s(self.cash_pct),
            "annual_contribution": s(self.annual_contribution),
            "notes": self.notes,
            "number_last4": self.number_last4,
        }


def validate_fields(
    values: Mapping[str, Any], canonical_type: Callable[[object], str]
) -> AccountFields:
    """Check every field of the editor; the first problem raises ValidationFailed(field=...)."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise ValidationFailed(f"unknown field(s): {', '.join(sorted(unknown))}")
    # one line, no control or bidi character (a description is shown in terminals)
    description = clean_line(str(values.get("description") or ""), None)
    if not description:
        raise ValidationFailed("description is required", field="description")
    if len(description) > 200:
        raise ValidationFailed("description is longer than 200 characters", field="description")
    if not str(values.get("investment_type") or "").strip():
        raise ValidationFailed("investment type is required", field="investment_type")
    investment_type = canonical_type(values.get("investment_type"))
    if not str(values.get("owner") or "").strip():
        raise ValidationFailed("owner is required", field="owner")
    owner = canonical_owner(str(values.get("owner")))
    try:
        balance = to_money_or_none(values.get("balance"))
    except MoneyError as exc:
        raise ValidationFailed(f"balance: {exc}", field="balance") from None
    if balance is None:
        raise ValidationFailed("balance is required", field="balance")
    pcts = {k: _pct(k, values.get(k)) for k in ("equity_pct", "fixed_income_pct", "cash_pct")}
    given = [v for v in pcts.values() if v is not None]
    if given and sum(given) != HUNDRED:
        raise ValidationFailed(
            f"allocation must sum to 100% (equity + fixed income + cash = {sum(given)}%)",
            field="equity_pct",
        )
    try:
        contribution = to_money_or_none(values.get("annual_contribution"))
    except MoneyError as exc:
        raise ValidationFailed(f"annual contribution: {exc}", field="annual_contribution") from None
    last4 = str(values.get("number_last4") or "").strip()[-4:] or None
    return AccountFields(
        description=description,
        investment_type=investment_type,
        owner=owner,
        balance=balance,
        equity_pct=pcts["equity_pct"] if given else None,
        fixed_income_pct=pcts["fixed_income_pct"] if given else None,
        cash_pct=pcts["cash_pct"] if given else None,
        annual_contribution=contribution,
        notes=str(values.get("notes") or ""),
        number_last4=last4,
    )
