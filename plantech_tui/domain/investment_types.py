"""The investment types a plan account can have (SPEC §6): the product's list, not a partner's.

A partner's type mapping (account type → investment type) targets these names; a firm's mapping
override may replace the list, as long as it keeps `OTHER`. Names match after `normalize`
(casefold, trim, collapse whitespace).
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import ValidationFailed

OTHER = "Other"  # what unmapped or doubtful accounts default to (flagged for review)

# the built-in list, in the order the app offers it
INVESTMENT_TYPES: tuple[str, ...] = (
    "Taxable Brokerage",
    "Traditional IRA",
    "Roth IRA",
    "SEP IRA",
    "SIMPLE IRA",
    "Inherited IRA",
    "401(k)",
    "Roth 401(k)",
    "403(b)",
    "457(b)",
    "Pension / Profit Sharing",
    "529 Plan",
    "HSA",
    "Annuity (Non-Qualified)",
    "Custodial (UTMA/UGMA)",
    "Cash",
    OTHER,
)


def normalize(name: str) -> str:
    """The matching key of a name: casefolded, trimmed, inner whitespace collapsed to one space."""
    return " ".join(name.split()).casefold()


def display(name: str) -> str:
    """A name as shown to people: trimmed and collapsed, case kept."""
    return " ".join(name.split())


def shown_input(text: str) -> str:
    shown = display(text)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def canonical(types: Iterable[str], text: str) -> str:
    """The investment type the user meant (case/whitespace-insensitive) among `types`, else
    ValidationFailed listing the valid ones."""
    types = tuple(types)
    key = normalize(text)
    for name in types:
        if normalize(name) == key:
            return name
    valid = ", ".join(types)
    if not key:
        raise ValidationFailed(
            f"an investment type is required; valid: {valid}", field="investment_type"
        )
    raise ValidationFailed(
        f'unknown investment type "{shown_input(text)}"; valid: {valid}',
        field="investment_type",
    )
