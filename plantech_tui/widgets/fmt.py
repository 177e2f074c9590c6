"""How values read on screen: money, local times, staleness."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text

from ..domain.money import money_display
from ..domain.text import safe_for_terminal

STALE_DAYS = 7

__all__ = ["money_display", "local_time", "utc_label", "days_since", "STALE_DAYS", "shown",
           "plain"]


def _parse(utc_text: str) -> datetime | None:
    try:
        return datetime.strptime(utc_text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def local_time(utc_text: str | None, unknown: str = "never") -> str:
    """A stored UTC time in the machine's local time zone: 2026-11-25 09:02."""
    when = _parse(utc_text or "")
    if when is None:
        return unknown if not utc_text else utc_text
    return when.astimezone().strftime("%Y-%m-%d %H:%M")


def utc_label(utc_text: str | None, unknown: str = "unknown") -> str:
    when = _parse(utc_text or "")
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else (utc_text or unknown)


def days_since(utc_text: str | None, now: datetime | None = None) -> int | None:
    when = _parse(utc_text or "")
    if when is None:
        return None
    return ((now or datetime.now(UTC)) - when).days


def shown(text: object) -> str:
    """Stored or typed text as a screen shows it: never a terminal command (no control or
    bidi character; newlines kept). Pair with `markup=False` (or `plain`): never markup."""
    return safe_for_terminal(str(text))


def plain(text: object) -> Text:
    """A one-line label of data for option lists and selects, which parse a str as markup:
    a Text is never markup, and `shown` keeps terminal commands out."""
    return Text(safe_for_terminal(str(text), multiline=False))
