"""The fake Salesforce's faults: parsing `name[:arg],...` (light: the CLI's parser lists them
without importing the app)."""

from __future__ import annotations

from typing import Any

__all__ = ["FAULTS", "FaultSpecError", "parse_faults"]

# name → (argument kind, what it does): "count" (default 1), "id", "field", "ms", "none"
FAULTS: dict[str, tuple[str, str]] = {
    "expire_token": ("count", "the Nth data request from now answers 401 and kills its token"),
    "request_limit": ("count", "the next N data requests → 403 REQUEST_LIMIT_EXCEEDED"),
    "request_limit_owner": ("id", "queries naming this id → 403 REQUEST_LIMIT_EXCEEDED"),
    "server_error": ("count", "the next N data requests → 503 SERVER_UNAVAILABLE"),
    "hidden_field": ("field", "Object.Field is hidden by field-level security (INVALID_FIELD)"),
    "no_package": ("none", "the org has no FSC managed package (INVALID_TYPE)"),
    "standard_only": ("none", "no package; the standard FinancialAccount objects instead"),
    "dead_cursor": ("none", "the first nextRecordsUrl fetched → 400 INVALID_QUERY_LOCATOR"),
    "rotate_refresh": ("none", "a refresh returns a new refresh token; the old one dies"),
    "dead_refresh": ("none", "every refresh → 400 invalid_grant"),
    "hostile_text": ("optional-id", "names and numbers carry markup, terminal escapes and "
                     "100 kB (with an id: only in queries naming it)"),
    "hostile_message": ("id", "queries naming this id → 400 whose message holds markup, "
                        "terminal escapes and 100 kB"),
    "malformed": ("optional-id", "data answers are 200 but not JSON (with an id: queries "
                  "naming it)"),
    "huge_page": ("optional-id", "query answers are padded past 11 MB (with an id: queries "
                  "naming it)"),
    "slow": ("ms", "queries answer MS milliseconds later (default 1000)"),
}


class FaultSpecError(ValueError):
    """An unparsable fault spec (one line)."""


def parse_faults(spec: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        name, _, arg = part.partition(":")
        name = name.strip()
        if name not in FAULTS:
            raise FaultSpecError(f"unknown fault {name!r} (known: {', '.join(FAULTS)})")
        kind = FAULTS[name][0]
        if kind in ("count", "ms"):
            try:
                value: Any = int(arg) if arg else (1000 if kind == "ms" else 1)
            except ValueError:
                raise FaultSpecError(f"{name}: {arg!r} is not a whole number") from None
            if value < 0:
                raise FaultSpecError(f"{name}: must not be negative")
        elif kind == "optional-id":
            value = arg.strip() or True
        elif kind in ("id", "field"):
            if not arg:
                raise FaultSpecError(f"{name} needs an argument ({name}:…)")
            value = arg.strip()
        else:
            if arg:
                raise FaultSpecError(f"{name} takes no argument")
            value = True
        out[name] = value
    return out
