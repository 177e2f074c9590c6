"""Fault injection for the fake Redtail: parsing ``name[:arg],...`` and deciding per request.

Counting faults (``gateway_timeout``, ``rate_limit``, ``server_error``) answer the first N
authenticated requests made after they were set (``/authentication`` excluded); when several
are set they take turns in the order given (``rate_limit:1,server_error:1`` → 429, then 500,
then normal answers). Contact-targeted faults take a Redtail contact id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# name -> (argument kind, description); the kind is "count", "contact", "ms", "none" or
# "optional-contact". Shown by --help and the admin route.
FAULTS: dict[str, tuple[str, str]] = {
    "unauthorized": ("none", "every request but /authentication → 401 Invalid user key"),
    "locked": ("none", "/authentication → 401 Account Locked"),
    "gateway_timeout": ("count", "the first N requests (default 1) → 401 Gateway Time-out"),
    "forbidden": ("contact", "/contacts/CID/accounts → 403 User Forbidden"),
    "not_found": ("contact", "/contacts/CID and its sub-routes → 404 Contact not found"),
    "rate_limit": ("count", "the first N requests (default 1) → 429 with Retry-After: 1"),
    "server_error": ("count", "the first N requests (default 1) → 500 with an HTML body"),
    "server_error_contact": ("contact", "/contacts/CID/accounts → 500 (JSON) every time"),
    "hostile_message": ("contact", "/contacts/CID/accounts → 500 whose message holds markup, "
                        "terminal escapes and 100 kB of text"),
    "timeout": ("contact", "/contacts/CID/accounts hangs for 30 s"),
    "malformed": (
        "optional-contact",
        "/contacts/CID/accounts (no CID: every route but /authentication) → 200, not JSON",
    ),
    "lying_pages": ("none", "listings claim 9999 pages; pages past the end repeat the last"),
    "ignore_pagesize": ("none", "the pagesize header is ignored (always 50 a page)"),
    "slow": ("ms", "MS extra milliseconds on account listings (default 1000)"),
    "huge_page": (
        "contact",
        "/contacts/CID/accounts → 200, the real page padded to 11 MB (Content-Length set)",
    ),
    "endless_body": (
        "contact",
        "/contacts/CID/accounts → 200, a chunked body that never ends (the fake stops at 64 MB "
        "or when the client hangs up)",
    ),
    "bad_utf8": (
        "contact",
        "/contacts/CID/accounts → 200, the real page with invalid UTF-8 in a company name",
    ),
}
FAULT_NAMES: tuple[str, ...] = tuple(FAULTS)
COUNTING = ("gateway_timeout", "rate_limit", "server_error")
TARGETED = ("forbidden", "not_found", "server_error_contact", "timeout", "malformed",
            "hostile_message", "huge_page", "endless_body", "bad_utf8")
BODY_FAULTS = ("huge_page", "endless_body", "bad_utf8")  # rewrite the real answer's body


class FaultSpecError(ValueError):
    """An unparsable fault spec; the text is one line."""


def faults_help() -> str:
    return ", ".join(f"{name}{_arg_hint(kind)}" for name, (kind, _description) in FAULTS.items())


def _arg_hint(kind: str) -> str:
    return {
        "count": "[:N]",
        "contact": ":CID",
        "optional-contact": "[:CID]",
        "ms": "[:MS]",
    }.get(kind, "")


@dataclass
class CountingFault:
    name: str
    remaining: int


@dataclass
class FaultSet:
    """The active faults; replace the whole set to change them (counters restart)."""

    flags: set[str] = field(default_factory=set)  # unauthorized, locked, lying_pages, ...
    counting: list[CountingFault] = field(default_factory=list)
    targets: dict[str, set[int]] = field(default_factory=dict)
    slow_ms: int = 0
    spec: list[str] = field(default_factory=list)

    def has(self, name: str) -> bool:
        return name in self.flags

    def targets_contact(self, name: str, contact_id: int) -> bool:
        return contact_id in self.targets.get(name, ())

    def take_counting(self) -> str | None:
        """Consume one answer from the first counting fault that still has some."""
        for fault in self.counting:
            if fault.remaining > 0:
                fault.remaining -= 1
                return fault.name
        return None

    def describe(self) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for item in self.spec:
            name, _, arg = item.partition(":")
            entry: dict[str, object] = {"name": name, "arg": arg or None}
            if name in COUNTING:
                entry["remaining"] = sum(f.remaining for f in self.counting if f.name == name)
            out.append(entry)
        return out


def parse_faults(spec: str | list[str] | tuple[str, ...] | FaultSet | None) -> FaultSet:
    """Parse ``"rate_limit:2,forbidden:101"`` (or a list of such items) into a FaultSet."""
    if isinstance(spec, FaultSet):
        return spec
    items: list[str] = []
    if spec is None:
        pass
    elif isinstance(spec, str):
        items = [part.strip() for part in spec.split(",") if part.strip()]
    elif isinstance(spec, list | tuple):
        for entry in spec:
            if not isinstance(entry, str):
                raise FaultSpecError(f"not a fault: {entry!r}")
            items.extend(part.strip() for part in entry.split(",") if part.strip())
    else:
        raise FaultSpecError(f"not a fault spec: {type(spec).__name__}")
    faults = FaultSet()
    for item in items:
        name, sep, arg = item.partition(":")
        name = name.strip().lower().replace("-", "_")
        arg = arg.strip()
        if name not in FAULTS:
            raise FaultSpecError(f"unknown fault {name!r} (known: {', '.join(FAULT_NAMES)})")
        kind = FAULTS[name][0]
        if kind == "none":
            if sep:
                raise FaultSpecError(f"fault {name!r} takes no argument")
            faults.flags.add(name)
        elif kind == "count":
            count = _positive(arg, name, "N", default=1)
            faults.counting.append(CountingFault(name, count))
        elif kind == "ms":
            faults.slow_ms += _positive(arg, name, "MS", default=1000, allow_zero=True)
        elif kind == "contact" or (kind == "optional-contact" and arg):
            faults.targets.setdefault(name, set()).add(_positive(arg, name, "CID"))
        else:  # malformed with no argument: every route
            faults.flags.add(name)
        faults.spec.append(f"{name}:{arg}" if arg else name)
    return faults


def _positive(
    arg: str, name: str, what: str, *, default: int | None = None, allow_zero: bool = False
) -> int:
    if not arg:
        if default is None:
            raise FaultSpecError(f"fault {name!r} needs :{what}")
        return default
    try:
        value = int(arg)
    except ValueError:
        raise FaultSpecError(
            f"fault {name!r}: {what} must be a whole number, not {arg!r}"
        ) from None
    if value < 0 or (value == 0 and not allow_zero):
        raise FaultSpecError(f"fault {name!r}: {what} must be positive")
    return value
