"""How a staged Redtail account is named (SPEC §3) and what of its number is kept."""

from __future__ import annotations


def last4(number: str | None) -> str | None:
    """Only the last 4 characters of an account number are ever stored or shown."""
    if number is None:
        return None
    text = str(number).strip()
    return text[-4:] if text else None


def staged_description(company: str | None, number_last4: str | None, account_type: str | None) -> str:
    """Company + " " + last 4; no company → the Redtail account type; no number → company alone."""
    name = (company or "").strip() or (account_type or "").strip() or "Redtail account"
    return f"{name} {number_last4}" if number_last4 else name
